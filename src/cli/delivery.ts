import { Pool } from 'undici';
import { httpUrl } from './command-options.js';
import { CliError, errorMessage, println, type ResolvedContext, type Writer } from './io.js';
import { isRetryableStatus, parseRetryAfter, type RetryPolicy, retryDelay } from './retry.js';

/**
 * Posting one event to a receiver the way an EventBridge API destination does, with its retries: shared by
 * `replay` (event files) and `redrive` (a dead-letter queue).
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html)
 */

export const USER_AGENT = 'Amazon/EventBridge/ApiDestinations';
export const CONTENT_TYPE = 'application/json; charset=utf-8';
/** EventBridge's client timeout for an API destination call. */
export const DEFAULT_TIMEOUT_MS = 5000;

export type Outcome = 'processed' | 'duplicate' | 'delivered' | 'invalid' | 'failed';

export interface Delivery {
  label: string;
  republished: boolean;
  /** The bytes to post, as they are. */
  body: string;
}

export interface DeliveryResult {
  label: string;
  republished: boolean;
  outcome: Outcome;
  /** The last HTTP status, if any answer came. */
  status?: number;
  key?: string;
  firstSeenAt?: string;
  /** Why a delivery did not end in 2xx: the receiver's `error`, `timeout`, or a connection error. */
  error?: string;
  /** Extra words about the error (400 issues, the connection error's message). */
  detail?: string;
  attempts: number;
  /** From the first attempt to the final answer, waits between attempts included. */
  ms: number;
}

/** Where and how to post: the receiver's URL, the headers an API destination sends, timeout and retries. */
export interface Receiver {
  url: URL;
  headers: Record<string, string>;
  timeoutMs: number;
  policy: RetryPolicy;
  /**
   * No credentials are sent. EventBridge retries a 401 because its connection's credentials may change between
   * attempts; without any, every attempt gets the same 401, so it is final.
   */
  anonymous?: boolean;
}

/** After a run that sent `receiver` no credentials and was answered 401: one line on what to pass. */
export function printNoCredentialsHint(
  stderr: Writer,
  command: string,
  receiver: Receiver,
  answered401: boolean,
): void {
  if (receiver.anonymous !== true || !answered401) return;
  println(
    stderr,
    `ebdedup ${command}: the receiver answered 401 and no credentials were given: pass --api-key KEY (or set EBDEDUP_API_KEY), --basic USER:PASSWORD or --bearer TOKEN`,
  );
}

/** A 2xx answer: the receiver took the event (processed, duplicate or another 2xx). */
export function isDelivered(result: DeliveryResult): boolean {
  return result.outcome === 'processed' || result.outcome === 'duplicate' || result.outcome === 'delivered';
}

/** `--url`: an http(s) URL without credentials in it (those go in --basic or EBDEDUP_BASIC). */
export function parseReceiverUrl(command: string, raw: string | undefined): URL {
  if (raw === undefined) {
    throw new CliError(`ebdedup ${command}: --url is required (see ebdedup ${command} --help)`);
  }
  const url = httpUrl(command, '--url', raw);
  if (url.username || url.password) {
    throw new CliError(`ebdedup ${command}: put credentials in --basic or EBDEDUP_BASIC, not in --url`);
  }
  return url;
}

/** The headers an API destination sends, with the connection's auth header. */
function apiDestinationHeaders(authHeaders: Record<string, string>): Record<string, string> {
  return { 'user-agent': USER_AGENT, 'content-type': CONTENT_TYPE, ...authHeaders };
}

/** The receiver as an API destination reaches it: its URL, the connection's credentials, the delivery flags. */
export function receiverOf(
  url: URL,
  auth: { headers: Record<string, string>; anonymous: boolean },
  flags: { timeoutMs: number; policy: RetryPolicy },
): Receiver {
  return {
    url,
    headers: apiDestinationHeaders(auth.headers),
    timeoutMs: flags.timeoutMs,
    policy: flags.policy,
    anonymous: auth.anonymous,
  };
}

/** A keep-alive connection pool to the receiver, `connections` wide. */
export function receiverPool(url: URL, connections: number, timeoutMs: number): Pool {
  return new Pool(url.origin, { connections, keepAliveTimeout: 10_000, connect: { timeout: timeoutMs } });
}

type Attempt =
  | { kind: 'answer'; status: number; headers: Record<string, string | string[] | undefined>; body: string }
  | { kind: 'error'; error: 'timeout' | 'connection_error'; detail: string };

async function attemptOnce(pool: Pool, receiver: Receiver, body: string): Promise<Attempt> {
  try {
    const response = await pool.request({
      path: `${receiver.url.pathname}${receiver.url.search}`,
      method: 'POST',
      headers: receiver.headers,
      body,
      signal: AbortSignal.timeout(receiver.timeoutMs),
    });
    const text = await response.body.text();
    return { kind: 'answer', status: response.statusCode, headers: response.headers, body: text };
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') {
      return { kind: 'error', error: 'timeout', detail: `no answer within ${receiver.timeoutMs}ms` };
    }
    return { kind: 'error', error: 'connection_error', detail: errorMessage(error) };
  }
}

/** The text as a JSON object; `{}` when it is not one. */
export function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** The first three validation issues (`path: message`), for a line. */
export function describeIssues(issues: unknown): string | undefined {
  if (!Array.isArray(issues) || issues.length === 0) return undefined;
  const parts = issues.slice(0, 3).map((issue) => {
    const record = typeof issue === 'object' && issue !== null ? (issue as Record<string, unknown>) : {};
    const where = Array.isArray(record.path) ? record.path.join('.') : String(record.path ?? '');
    const message = String(record.message ?? '');
    return where ? `${where}: ${message}` : message;
  });
  return parts.join('; ') + (issues.length > 3 ? `; +${issues.length - 3} more` : '');
}

function classifyAnswer(
  base: Pick<DeliveryResult, 'label' | 'republished' | 'attempts' | 'ms'>,
  status: number,
  body: string,
  final: boolean,
): DeliveryResult {
  const json = parseJsonObject(body);
  const str = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const key = str(json.key);
  if (status >= 200 && status <= 299) {
    const reported = str(json.status);
    const outcome: Outcome =
      reported === 'processed' ? 'processed' : reported === 'duplicate' ? 'duplicate' : 'delivered';
    const result: DeliveryResult = { ...base, outcome, status };
    if (key !== undefined) result.key = key;
    const firstSeenAt = str(json.firstSeenAt);
    if (firstSeenAt !== undefined) result.firstSeenAt = firstSeenAt;
    return result;
  }
  const result: DeliveryResult = {
    ...base,
    outcome: final && !isRetryableStatus(status) ? 'invalid' : 'failed',
    status,
    error: str(json.error) ?? `http_${status}`,
  };
  if (key !== undefined) result.key = key;
  const issues = describeIssues(json.issues);
  if (issues !== undefined) result.detail = issues;
  return result;
}

/** One delivery, with EventBridge's retries. */
export async function deliver(
  delivery: Delivery,
  pool: Pool,
  receiver: Receiver,
  ctx: ResolvedContext,
): Promise<DeliveryResult> {
  const started = ctx.now();
  for (let attempt = 1; ; attempt++) {
    const result = await attemptOnce(pool, receiver, delivery.body);
    const last = attempt >= receiver.policy.maxAttempts;
    const base = {
      label: delivery.label,
      republished: delivery.republished,
      attempts: attempt,
      ms: Math.round(ctx.now() - started),
    };
    let retryAfterMs: number | undefined;
    if (result.kind === 'answer') {
      const retryable =
        isRetryableStatus(result.status) && !(result.status === 401 && receiver.anonymous === true);
      if (!retryable || last) return classifyAnswer(base, result.status, result.body, true);
      retryAfterMs = parseRetryAfter(result.headers['retry-after'], ctx.clock().getTime());
    } else if (last) {
      return { ...base, outcome: 'failed', error: result.error, detail: result.detail };
    }
    await ctx.sleep(retryDelay(attempt, retryAfterMs, receiver.policy, ctx.random));
  }
}

export function formatDeliveryLine(result: DeliveryResult): string {
  const parts: string[] = [result.outcome, result.status === undefined ? '-' : String(result.status)];
  parts.push(result.republished ? `${result.label} (republished)` : result.label);
  if (result.key !== undefined) parts.push(`key=${result.key}`);
  if (result.firstSeenAt !== undefined) parts.push(`firstSeenAt=${result.firstSeenAt}`);
  if (result.error !== undefined) parts.push(`error=${result.error}`);
  if (result.detail !== undefined) parts.push(`(${result.detail})`);
  parts.push(`${result.ms}ms`, `attempts=${result.attempts}`);
  return parts.join(' ');
}
