import { Agent, request } from 'undici';
import { flagOption, intOption, type OptionSpec, parseCommandArgs, stringOption } from './args.js';
import { type AwsCredentials, resolveCredentials, resolveRegion } from './credentials.js';
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
import { loadEvents } from './load-events.js';
import {
  batchEntries,
  buildEntries,
  DEFAULT_SOURCE,
  isReservedSource,
  type LabelledEntry,
  MAX_ENTRIES_PER_REQUEST,
  MAX_REQUEST_ENTRY_BYTES,
} from './put-events-entries.js';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  type RetryPolicy,
  retryDelay,
} from './retry.js';
import { signRequest } from './sigv4.js';

export const PUT_EVENTS_TARGET = 'AWSEvents.PutEvents';
export const AMZ_JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
export const DEFAULT_PUT_TIMEOUT_MS = 10_000;

export const PUT_EVENTS_USAGE = `Usage: ebdedup put-events PATH... --bus NAME [options]

Sends event files (or folders of them) to an EventBridge event bus with PutEvents, signed with
SigV4. Each event becomes an entry: Source, DetailType (from "detail-type"), Detail, Resources and
Time; up to ${MAX_ENTRIES_PER_REQUEST} entries and ${MAX_REQUEST_ENTRY_BYTES / 1024} KiB per request. Entries that fail with a
retryable error (throttling, internal errors) are sent again with backoff.

Options:
  --bus NAME            event bus name or ARN (required)
  --region R            AWS region (default AWS_REGION, then AWS_DEFAULT_REGION)
  --endpoint URL        PutEvents endpoint, e.g. http://localhost:4566 for LocalStack
                        (default AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL, then
                        https://events.REGION.amazonaws.com/)
  --source S            Source for events whose source starts with "aws." (only AWS may use
                        those; default ${DEFAULT_SOURCE})
  --max-attempts N      attempts per entry, the first included (default ${DEFAULT_RETRY_POLICY.maxAttempts})
  --quiet               no line per entry, only the summary
  --json                print the summary as one JSON object on stdout (entry lines go to stderr)
  -h, --help            this help

Advanced:
  --timeout-ms MS       client timeout per request (default ${DEFAULT_PUT_TIMEOUT_MS})
  --retry-base-ms MS    backoff window before the 2nd attempt (default ${DEFAULT_RETRY_POLICY.baseDelayMs}; doubles each time)

Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else the profile
AWS_PROFILE (default "default") in AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials).

Exit codes: 0 every entry accepted; 1 some entry failed or an input could not be read; 2 bad
arguments, a missing setting (region, credentials) or no events.`;

const OPTIONS: OptionSpec = {
  bus: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  source: { type: 'string' },
  'max-attempts': { type: 'string' },
  quiet: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'timeout-ms': { type: 'string' },
  'retry-base-ms': { type: 'string' },
};

/** Entry error codes worth sending again; anything else (MalformedDetail, AccessDenied…) is final. */
export function isRetryableEntryError(code: string): boolean {
  return /throttl|internal|unavailable|timeout/i.test(code);
}

interface PutEventsOptions {
  paths: string[];
  bus: string;
  region: string;
  endpoint: URL;
  source: string;
  quiet: boolean;
  json: boolean;
  timeoutMs: number;
  policy: RetryPolicy;
}

export interface EntryOutcome {
  label: string;
  eventId?: string;
  errorCode?: string;
  errorMessage?: string;
  attempts: number;
}

export interface PutEventsSummary {
  endpoint: string;
  bus: string;
  region: string;
  requests: number;
  accepted: number;
  failed: number;
  unreadable: number;
  entries: EntryOutcome[];
  exitCode: number;
}

function parseOptions(ctx: ResolvedContext): PutEventsOptions | 'help' {
  const { values, positionals } = parseCommandArgs('put-events', ctx.argv, OPTIONS);
  if (flagOption(values, 'help')) return 'help';
  const bus = stringOption(values, 'bus')?.trim();
  if (!bus) throw new CliError('ebdedup put-events: --bus is required (see ebdedup put-events --help)');
  if (positionals.length === 0) {
    throw new CliError(
      'ebdedup put-events: name at least one event file or folder (see ebdedup put-events --help)',
    );
  }
  const region = resolveRegion(stringOption(values, 'region'), ctx.env);
  const endpointFlag = stringOption(values, 'endpoint');
  const [endpointName, rawEndpoint] =
    endpointFlag !== undefined
      ? ['--endpoint', endpointFlag]
      : ctx.env.AWS_ENDPOINT_URL_EVENTBRIDGE
        ? ['AWS_ENDPOINT_URL_EVENTBRIDGE', ctx.env.AWS_ENDPOINT_URL_EVENTBRIDGE]
        : ctx.env.AWS_ENDPOINT_URL
          ? ['AWS_ENDPOINT_URL', ctx.env.AWS_ENDPOINT_URL]
          : ['region', `https://events.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}/`];
  let endpoint: URL;
  try {
    endpoint = new URL(rawEndpoint);
  } catch {
    throw new CliError(`ebdedup put-events: ${endpointName} "${redactUrl(rawEndpoint)}" is not a URL`);
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
    throw new CliError(
      `ebdedup put-events: ${endpointName} must be http:// or https://, got ${endpoint.protocol}`,
    );
  }
  const source = stringOption(values, 'source') ?? DEFAULT_SOURCE;
  if (source === '' || isReservedSource(source)) {
    throw new CliError(
      `ebdedup put-events: --source "${source}" cannot be put by an account (empty, or starts with "aws.")`,
    );
  }
  return {
    paths: positionals,
    bus,
    region,
    endpoint,
    source,
    quiet: flagOption(values, 'quiet'),
    json: flagOption(values, 'json'),
    timeoutMs: intOption('put-events', values, 'timeout-ms', DEFAULT_PUT_TIMEOUT_MS, 1, 600_000),
    policy: {
      ...DEFAULT_RETRY_POLICY,
      maxAttempts: intOption('put-events', values, 'max-attempts', DEFAULT_RETRY_POLICY.maxAttempts, 1, 1000),
      baseDelayMs: intOption(
        'put-events',
        values,
        'retry-base-ms',
        DEFAULT_RETRY_POLICY.baseDelayMs,
        0,
        600_000,
      ),
    },
  };
}

type RequestAnswer =
  | { kind: 'entries'; entries: Array<{ EventId?: string; ErrorCode?: string; ErrorMessage?: string }> }
  | { kind: 'error'; retryable: boolean; message: string; retryAfterMs?: number };

/** The AWS JSON error type: `__type` (maybe `ns#Type`) or the `x-amzn-errortype` header. */
function awsErrorType(
  json: Record<string, unknown>,
  header: string | string[] | undefined,
): string | undefined {
  const raw = typeof json.__type === 'string' ? json.__type : Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw === '') return undefined;
  const afterHash = raw.slice(raw.lastIndexOf('#') + 1);
  return afterHash.split(':')[0];
}

async function sendOnce(
  dispatcher: Agent,
  options: PutEventsOptions,
  credentials: AwsCredentials,
  batch: readonly LabelledEntry[],
  ctx: ResolvedContext,
): Promise<RequestAnswer> {
  const body = JSON.stringify({ Entries: batch.map((item) => item.entry) });
  const headers = signRequest({
    url: options.endpoint,
    method: 'POST',
    service: 'events',
    region: options.region,
    headers: { 'Content-Type': AMZ_JSON_CONTENT_TYPE, 'X-Amz-Target': PUT_EVENTS_TARGET },
    body,
    credentials,
    date: ctx.clock(),
  });
  const where = redactUrl(options.endpoint);
  let status: number;
  let text: string;
  let responseHeaders: Record<string, string | string[] | undefined>;
  try {
    const response = await request(options.endpoint, {
      dispatcher,
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    status = response.statusCode;
    responseHeaders = response.headers;
    text = await response.body.text();
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    const message =
      name === 'TimeoutError' || name === 'AbortError'
        ? `no answer from ${where} within ${options.timeoutMs}ms`
        : `cannot reach ${where}: ${errorMessage(error)}`;
    return { kind: 'error', retryable: true, message };
  }
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      json = parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON: described below by status.
  }
  if (status >= 200 && status <= 299) {
    const entries = json.Entries;
    if (!Array.isArray(entries) || entries.length !== batch.length) {
      return {
        kind: 'error',
        retryable: false,
        message: `${where} answered ${status} without ${batch.length} Entries: ${text.slice(0, 200)}`,
      };
    }
    return {
      kind: 'entries',
      entries: entries.map((item) => {
        const record = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
        const out: { EventId?: string; ErrorCode?: string; ErrorMessage?: string } = {};
        if (typeof record.EventId === 'string') out.EventId = record.EventId;
        if (typeof record.ErrorCode === 'string') out.ErrorCode = record.ErrorCode;
        if (typeof record.ErrorMessage === 'string') out.ErrorMessage = record.ErrorMessage;
        return out;
      }),
    };
  }
  const type = awsErrorType(json, responseHeaders['x-amzn-errortype']);
  const awsMessage =
    typeof json.message === 'string'
      ? json.message
      : typeof json.Message === 'string'
        ? json.Message
        : undefined;
  const retryable = status >= 500 || status === 429 || (type !== undefined && isRetryableEntryError(type));
  const described = [type, awsMessage].filter((part) => part !== undefined).join(': ') || text.slice(0, 200);
  const answer: RequestAnswer = {
    kind: 'error',
    retryable,
    message: `${where} answered ${status}${described ? ` ${described}` : ''}`,
  };
  const retryAfterMs = parseRetryAfter(responseHeaders['retry-after'], ctx.clock().getTime());
  if (retryAfterMs !== undefined) answer.retryAfterMs = retryAfterMs;
  return answer;
}

interface BatchResult {
  outcomes: EntryOutcome[];
  requests: number;
  /** A failure of the whole request (not of single entries) that stops the run. */
  fatal?: string;
}

/** Sends one batch, re-sending the entries that failed with a retryable error until accepted or out of attempts. */
async function sendBatch(
  dispatcher: Agent,
  options: PutEventsOptions,
  credentials: AwsCredentials,
  batch: readonly LabelledEntry[],
  ctx: ResolvedContext,
): Promise<BatchResult> {
  const outcomes = new Map<LabelledEntry, EntryOutcome>();
  let pending = [...batch];
  let requests = 0;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const last = attempt >= options.policy.maxAttempts;
    const answer = await sendOnce(dispatcher, options, credentials, pending, ctx);
    requests++;
    if (answer.kind === 'error') {
      if (!answer.retryable || last) {
        const suffix = answer.retryable ? ` (after ${attempt} attempts)` : '';
        for (const item of pending) {
          outcomes.set(item, {
            label: item.label,
            errorCode: 'RequestFailed',
            errorMessage: answer.message,
            attempts: attempt,
          });
        }
        return {
          outcomes: batch.map((item) => outcomes.get(item) as EntryOutcome),
          requests,
          fatal: answer.message + suffix,
        };
      }
      await ctx.sleep(retryDelay(attempt, answer.retryAfterMs, options.policy, ctx.random));
      continue;
    }
    const retry: LabelledEntry[] = [];
    pending.forEach((item, index) => {
      const result = answer.entries[index] ?? {};
      if (result.EventId !== undefined && result.ErrorCode === undefined) {
        outcomes.set(item, { label: item.label, eventId: result.EventId, attempts: attempt });
        return;
      }
      const code = result.ErrorCode ?? 'UnknownError';
      if (isRetryableEntryError(code) && !last) {
        retry.push(item);
        return;
      }
      const outcome: EntryOutcome = { label: item.label, errorCode: code, attempts: attempt };
      if (result.ErrorMessage !== undefined) outcome.errorMessage = result.ErrorMessage;
      outcomes.set(item, outcome);
    });
    pending = retry;
    if (pending.length > 0) await ctx.sleep(backoffDelay(attempt, options.policy, ctx.random));
  }
  return { outcomes: batch.map((item) => outcomes.get(item) as EntryOutcome), requests };
}

export function formatEntryLine(outcome: EntryOutcome): string {
  if (outcome.eventId !== undefined) {
    return `accepted ${outcome.label} EventId=${outcome.eventId} attempts=${outcome.attempts}`;
  }
  const message = outcome.errorMessage === undefined ? '' : ` (${outcome.errorMessage})`;
  return `failed ${outcome.label} ${outcome.errorCode ?? 'UnknownError'}${message} attempts=${outcome.attempts}`;
}

/** `ebdedup put-events`: returns the exit code. */
export async function runPutEvents(input: CliContext): Promise<number> {
  const ctx = resolveContext(input);
  let options: PutEventsOptions | 'help';
  let credentials: AwsCredentials;
  try {
    options = parseOptions(ctx);
    if (options === 'help') {
      println(ctx.stdout, PUT_EVENTS_USAGE);
      return EXIT_OK;
    }
    credentials = (await resolveCredentials(ctx.env, ctx.homedir)).credentials;
  } catch (error) {
    if (error instanceof CliError) {
      println(ctx.stderr, error.message);
      return error.exitCode;
    }
    throw error;
  }

  const loaded = await loadEvents(options.paths, ctx.cwd);
  const built = buildEntries(loaded.events, options.bus, options.source);
  const problems = [...loaded.problems, ...built.problems];
  for (const problem of problems) println(ctx.stderr, `ebdedup put-events: ${problem}`);
  if (built.replacedSources.length > 0) {
    const count = loaded.events.filter(
      ({ event }) => typeof event.source === 'string' && isReservedSource(event.source),
    ).length;
    println(
      ctx.stderr,
      `ebdedup put-events: ${count} event(s) have a source starting with "aws." (${built.replacedSources[0]}${built.replacedSources.length > 1 ? ', …' : ''}), which only AWS may put: sent with Source "${options.source}" (--source)`,
    );
  }
  if (built.entries.length === 0) {
    println(ctx.stderr, 'ebdedup put-events: no events to send');
    return problems.length > 0 ? EXIT_FAILED : EXIT_USAGE;
  }

  const lineWriter = options.json ? ctx.stderr : ctx.stdout;
  const outcomes: EntryOutcome[] = [];
  let requests = 0;
  let fatal: string | undefined;
  const dispatcher = new Agent({ keepAliveTimeout: 10_000, connect: { timeout: options.timeoutMs } });
  try {
    for (const batch of batchEntries(built.entries)) {
      if (fatal !== undefined) {
        for (const item of batch) {
          const outcome: EntryOutcome = {
            label: item.label,
            errorCode: 'NotSent',
            errorMessage: 'an earlier request failed',
            attempts: 0,
          };
          outcomes.push(outcome);
          if (!options.quiet) println(lineWriter, formatEntryLine(outcome));
        }
        continue;
      }
      const result = await sendBatch(dispatcher, options, credentials, batch, ctx);
      requests += result.requests;
      outcomes.push(...result.outcomes);
      if (!options.quiet)
        for (const outcome of result.outcomes) println(lineWriter, formatEntryLine(outcome));
      if (result.fatal !== undefined) {
        fatal = result.fatal;
        println(ctx.stderr, `ebdedup put-events: ${fatal}`);
      }
    }
  } finally {
    await dispatcher.close().catch(() => undefined);
  }

  const accepted = outcomes.filter((o) => o.eventId !== undefined).length;
  const failed = outcomes.length - accepted;
  const unreadable = problems.length;
  const summary: PutEventsSummary = {
    endpoint: redactUrl(options.endpoint),
    bus: options.bus,
    region: options.region,
    requests,
    accepted,
    failed,
    unreadable,
    entries: outcomes,
    exitCode: failed + unreadable === 0 ? EXIT_OK : EXIT_FAILED,
  };
  if (options.json) {
    println(ctx.stdout, JSON.stringify(summary));
  } else {
    const notSent = unreadable > 0 ? `, ${unreadable} input(s) not sent (see above)` : '';
    println(
      ctx.stdout,
      `${outcomes.length} entries in ${requests} request(s) to ${summary.endpoint} (bus ${options.bus}): ${accepted} accepted, ${failed} failed${notSent}`,
    );
  }
  return summary.exitCode;
}
