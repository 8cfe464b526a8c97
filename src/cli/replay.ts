import { Pool } from 'undici';
import { flagOption, intOption, type OptionSpec, parseCommandArgs, stringOption } from './args.js';
import { resolveAuth } from './auth.js';
import {
  type CliContext,
  CliError,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  errorMessage,
  println,
  type ResolvedContext,
  redactUrl,
  resolveContext,
} from './io.js';
import { type EventObject, type LoadedEvent, loadEvents } from './load-events.js';
import { ProgressBar } from './progress.js';
import {
  DEFAULT_RETRY_POLICY,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  retryDelay,
} from './retry.js';
import { formatDuration, type LatencySummary, summarizeLatencies } from './stats.js';

export const USER_AGENT = 'Amazon/EventBridge/ApiDestinations';
export const CONTENT_TYPE = 'application/json; charset=utf-8';
/** EventBridge's client timeout for an API destination call. */
export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_CONCURRENCY = 4;

export const REPLAY_USAGE = `Usage: ebdedup replay PATH... --url URL [options]

Posts event files (or folders of them) to a receiver the way an EventBridge API destination does:
POST, User-Agent ${USER_AGENT}, Content-Type ${CONTENT_TYPE}, retrying 401, 407, 409, 429,
5xx, time-outs and connection errors with exponential backoff (full jitter, Retry-After honoured).
A file holds one event, a JSON array of events, or JSON lines; folders are read recursively
(*.json, *.jsonl, *.ndjson).

Options:
  --url URL               receiver endpoint, e.g. http://127.0.0.1:3000/events (required)
  --api-key KEY           send KEY in the API key header        (env EBDEDUP_API_KEY)
  --api-key-header NAME   header for --api-key, default x-api-key (env EBDEDUP_API_KEY_HEADER)
  --basic USER:PASSWORD   HTTP basic auth                         (env EBDEDUP_BASIC)
  --bearer TOKEN          Authorization: Bearer TOKEN             (env EBDEDUP_BEARER)
  --times N               deliver each event N times (default 1)
  --republish             also send each event under a fresh id and time, as an upstream
                          re-publication would (same content: the receiver must call it a duplicate)
  --shuffle               deliver in random order
  --concurrency C         deliveries in flight at once (default ${DEFAULT_CONCURRENCY})
  --max-attempts N        attempts per delivery, the first included (default ${DEFAULT_RETRY_POLICY.maxAttempts})
  --quiet                 no line per delivery, only the summary
  --json                  print the summary as one JSON object on stdout (delivery lines go to stderr)
  -h, --help              this help

Advanced:
  --timeout-ms MS         client timeout per attempt (default ${DEFAULT_TIMEOUT_MS}, as EventBridge)
  --retry-base-ms MS      backoff window before the 2nd attempt (default ${DEFAULT_RETRY_POLICY.baseDelayMs}; doubles each time)

Exit codes: 0 every delivery ended in a 2xx answer; 1 some did not (a final 4xx, or still failing
after the last attempt) or an input could not be read; 2 bad arguments or no events.`;

const OPTIONS: OptionSpec = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  'api-key-header': { type: 'string' },
  basic: { type: 'string' },
  bearer: { type: 'string' },
  times: { type: 'string' },
  republish: { type: 'boolean' },
  shuffle: { type: 'boolean' },
  concurrency: { type: 'string' },
  'max-attempts': { type: 'string' },
  quiet: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'timeout-ms': { type: 'string' },
  'retry-base-ms': { type: 'string' },
};

export type Outcome = 'processed' | 'duplicate' | 'delivered' | 'invalid' | 'failed';

/** One planned delivery: which loaded event, and whether it goes as a re-published copy. */
export interface PlannedDelivery {
  eventIndex: number;
  /** A copy sent under a fresh id and time (`--republish`). */
  republished: boolean;
}

export interface Delivery {
  label: string;
  republished: boolean;
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

export interface ReplaySummary {
  url: string;
  events: number;
  deliveries: number;
  processed: number;
  duplicate: number;
  /** 2xx answers whose body is neither processed nor duplicate. */
  delivered: number;
  /** Final 4xx answers (EventBridge sends these to the dead-letter queue). */
  invalid: number;
  /** Still failing after the last attempt. */
  failed: number;
  /** Files, array items or lines that could not be read. */
  unreadable: number;
  /** Attempts beyond the first, summed over deliveries. */
  retries: number;
  /** Final HTTP status counts; `error` for deliveries that never got an answer. */
  statuses: Record<string, number>;
  latencyMs: LatencySummary;
  elapsedMs: number;
  exitCode: number;
}

interface ReplayOptions {
  url: URL;
  paths: string[];
  authHeaders: Record<string, string>;
  times: number;
  republish: boolean;
  shuffle: boolean;
  concurrency: number;
  quiet: boolean;
  json: boolean;
  timeoutMs: number;
  policy: RetryPolicy;
}

function parseReplayOptions(ctx: ResolvedContext): ReplayOptions | 'help' {
  const { values, positionals } = parseCommandArgs('replay', ctx.argv, OPTIONS);
  if (flagOption(values, 'help')) return 'help';
  const rawUrl = stringOption(values, 'url');
  if (rawUrl === undefined)
    throw new CliError('ebdedup replay: --url is required (see ebdedup replay --help)');
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new CliError(`ebdedup replay: --url "${redactUrl(rawUrl)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`ebdedup replay: --url must be http:// or https://, got ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new CliError('ebdedup replay: put credentials in --basic or EBDEDUP_BASIC, not in --url');
  }
  if (positionals.length === 0) {
    throw new CliError('ebdedup replay: name at least one event file or folder (see ebdedup replay --help)');
  }
  const auth = resolveAuth('replay', values, ctx.env);
  return {
    url,
    paths: positionals,
    authHeaders: auth.headers,
    times: intOption('replay', values, 'times', 1, 1, 1_000_000),
    republish: flagOption(values, 'republish'),
    shuffle: flagOption(values, 'shuffle'),
    concurrency: intOption('replay', values, 'concurrency', DEFAULT_CONCURRENCY, 1, 1024),
    quiet: flagOption(values, 'quiet'),
    json: flagOption(values, 'json'),
    timeoutMs: intOption('replay', values, 'timeout-ms', DEFAULT_TIMEOUT_MS, 1, 600_000),
    policy: {
      ...DEFAULT_RETRY_POLICY,
      maxAttempts: intOption('replay', values, 'max-attempts', DEFAULT_RETRY_POLICY.maxAttempts, 1, 1000),
      baseDelayMs: intOption('replay', values, 'retry-base-ms', DEFAULT_RETRY_POLICY.baseDelayMs, 0, 600_000),
    },
  };
}

/** An EventBridge-style `time`: ISO 8601 to the second, UTC. */
export function eventTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The same event as re-published upstream: a fresh `id` and `time`, everything else unchanged. */
export function republishEvent(event: EventObject, id: string, time: Date): EventObject {
  return { ...event, id, time: eventTime(time) };
}

/**
 * The delivery list: round after round of every event (so the copies of one event are spaced apart, as retries
 * are), optionally shuffled. Bodies are built only when sent (`materialize`), so a long run stays small in memory.
 */
export function planDeliveries(
  eventCount: number,
  options: { times: number; republish: boolean; shuffle: boolean },
  random: () => number,
): PlannedDelivery[] {
  const plan: PlannedDelivery[] = [];
  for (let round = 0; round < options.times; round++) {
    for (let eventIndex = 0; eventIndex < eventCount; eventIndex++) {
      plan.push({ eventIndex, republished: false });
      if (options.republish) plan.push({ eventIndex, republished: true });
    }
  }
  if (options.shuffle) {
    for (let i = plan.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const a = plan[i];
      const b = plan[j];
      if (a !== undefined && b !== undefined) {
        plan[i] = b;
        plan[j] = a;
      }
    }
  }
  return plan;
}

/** The body of a planned delivery; a re-published copy gets its fresh id and time now, as it is first sent. */
export function materialize(
  planned: PlannedDelivery,
  events: readonly LoadedEvent[],
  deps: { randomUUID: () => string; clock: () => Date },
): Delivery | undefined {
  const loaded = events[planned.eventIndex];
  if (loaded === undefined) return undefined;
  const event = planned.republished
    ? republishEvent(loaded.event, deps.randomUUID(), deps.clock())
    : loaded.event;
  return { label: loaded.label, republished: planned.republished, body: JSON.stringify(event) };
}

type Attempt =
  | { kind: 'answer'; status: number; headers: Record<string, string | string[] | undefined>; body: string }
  | { kind: 'error'; error: 'timeout' | 'connection_error'; detail: string };

async function attemptOnce(
  pool: Pool,
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<Attempt> {
  try {
    const response = await pool.request({
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.body.text();
    return { kind: 'answer', status: response.statusCode, headers: response.headers, body: text };
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') {
      return { kind: 'error', error: 'timeout', detail: `no answer within ${timeoutMs}ms` };
    }
    return { kind: 'error', error: 'connection_error', detail: errorMessage(error) };
  }
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function describeIssues(issues: unknown): string | undefined {
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
async function deliver(
  delivery: Delivery,
  pool: Pool,
  options: ReplayOptions,
  headers: Record<string, string>,
  ctx: ResolvedContext,
): Promise<DeliveryResult> {
  const started = ctx.now();
  for (let attempt = 1; ; attempt++) {
    const result = await attemptOnce(pool, options.url, headers, delivery.body, options.timeoutMs);
    const last = attempt >= options.policy.maxAttempts;
    const base = {
      label: delivery.label,
      republished: delivery.republished,
      attempts: attempt,
      ms: Math.round(ctx.now() - started),
    };
    let retryAfterMs: number | undefined;
    if (result.kind === 'answer') {
      const retryable = isRetryableStatus(result.status);
      if (!retryable || last) return classifyAnswer(base, result.status, result.body, true);
      retryAfterMs = parseRetryAfter(result.headers['retry-after'], ctx.clock().getTime());
    } else if (last) {
      return { ...base, outcome: 'failed', error: result.error, detail: result.detail };
    }
    await ctx.sleep(retryDelay(attempt, retryAfterMs, options.policy, ctx.random));
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

export function summarize(
  results: readonly DeliveryResult[],
  meta: { url: URL; events: number; unreadable: number; elapsedMs: number },
): ReplaySummary {
  const count = (outcome: Outcome) => results.filter((r) => r.outcome === outcome).length;
  const statuses: Record<string, number> = {};
  for (const r of results) {
    const name = r.status === undefined ? 'error' : String(r.status);
    statuses[name] = (statuses[name] ?? 0) + 1;
  }
  const invalid = count('invalid');
  const failed = count('failed');
  return {
    url: redactUrl(meta.url),
    events: meta.events,
    deliveries: results.length,
    processed: count('processed'),
    duplicate: count('duplicate'),
    delivered: count('delivered'),
    invalid,
    failed,
    unreadable: meta.unreadable,
    retries: results.reduce((sum, r) => sum + r.attempts - 1, 0),
    statuses,
    latencyMs: summarizeLatencies(results.map((r) => r.ms)),
    elapsedMs: Math.round(meta.elapsedMs),
    exitCode: invalid + failed + meta.unreadable === 0 ? EXIT_OK : EXIT_FAILED,
  };
}

export function formatSummary(summary: ReplaySummary): string[] {
  const counts = [
    `${summary.processed} processed`,
    `${summary.duplicate} duplicate`,
    ...(summary.delivered > 0 ? [`${summary.delivered} other 2xx`] : []),
    `${summary.invalid} invalid`,
    `${summary.failed} failed`,
  ];
  const lines = [
    `${summary.deliveries} deliveries of ${summary.events} events in ${formatDuration(summary.elapsedMs)}: ${counts.join(', ')} (${summary.retries} retries)`,
    `latency p50 ${summary.latencyMs.p50}ms, p90 ${summary.latencyMs.p90}ms, p99 ${summary.latencyMs.p99}ms, max ${summary.latencyMs.max}ms`,
  ];
  if (summary.unreadable > 0) lines.push(`${summary.unreadable} inputs could not be read (see above)`);
  return lines;
}

/** `ebdedup replay`: returns the exit code. */
export async function runReplay(input: CliContext): Promise<number> {
  const ctx = resolveContext(input);
  let options: ReplayOptions | 'help';
  try {
    options = parseReplayOptions(ctx);
  } catch (error) {
    if (error instanceof CliError) {
      println(ctx.stderr, error.message);
      return error.exitCode;
    }
    throw error;
  }
  if (options === 'help') {
    println(ctx.stdout, REPLAY_USAGE);
    return EXIT_OK;
  }

  const loaded = await loadEvents(options.paths, ctx.cwd);
  for (const problem of loaded.problems) println(ctx.stderr, `ebdedup replay: ${problem}`);
  if (loaded.events.length === 0) {
    println(ctx.stderr, 'ebdedup replay: no events to send');
    return loaded.problems.length > 0 ? EXIT_FAILED : EXIT_USAGE;
  }

  const deliveries = planDeliveries(loaded.events.length, options, ctx.random);
  const headers: Record<string, string> = {
    'user-agent': USER_AGENT,
    'content-type': CONTENT_TYPE,
    ...options.authHeaders,
  };
  const pool = new Pool(options.url.origin, {
    connections: options.concurrency,
    keepAliveTimeout: 10_000,
    connect: { timeout: options.timeoutMs },
  });
  // With --json, stdout holds the summary alone; delivery lines go to stderr.
  const lineWriter = options.json ? ctx.stderr : ctx.stdout;
  const progress = new ProgressBar({
    write: ctx.stderr,
    enabled: ctx.stderrIsTTY,
    total: deliveries.length,
    now: ctx.now,
  });
  const results: DeliveryResult[] = new Array(deliveries.length);
  const tally = { processed: 0, duplicate: 0, failed: 0 };
  let done = 0;
  let next = 0;
  const started = ctx.now();

  const worker = async () => {
    while (next < deliveries.length) {
      const index = next++;
      const planned = deliveries[index];
      const delivery = planned && materialize(planned, loaded.events, ctx);
      if (delivery === undefined) break;
      const result = await deliver(delivery, pool, options, headers, ctx);
      results[index] = result;
      done++;
      if (result.outcome === 'processed') tally.processed++;
      else if (result.outcome === 'duplicate') tally.duplicate++;
      else if (result.outcome !== 'delivered') tally.failed++;
      if (!options.quiet) {
        progress.clear();
        println(lineWriter, formatDeliveryLine(result));
      }
      progress.update(
        done,
        `processed=${tally.processed} duplicate=${tally.duplicate} not-2xx=${tally.failed}`,
      );
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, deliveries.length) }, worker));
  } finally {
    progress.clear();
    await pool.close().catch(() => undefined);
  }

  const unreachable = results.find((r) => r.error === 'connection_error');
  if (unreachable !== undefined) {
    println(
      ctx.stderr,
      `ebdedup replay: cannot reach ${redactUrl(options.url)}: ${unreachable.detail ?? ''}`,
    );
  }
  const summary = summarize(results, {
    url: options.url,
    events: loaded.events.length,
    unreadable: loaded.problems.length,
    elapsedMs: ctx.now() - started,
  });
  if (options.json) println(ctx.stdout, JSON.stringify(summary));
  else for (const line of formatSummary(summary)) println(ctx.stdout, line);
  return summary.exitCode;
}
