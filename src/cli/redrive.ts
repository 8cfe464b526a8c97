import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, type Pool } from 'undici';
import { flagOption, intOption, type OptionSpec, parseCommandArgs, stringOption } from './args.js';
import { resolveAuth } from './auth.js';
import type { AwsService } from './aws-json.js';
import {
  CREDENTIALS_USAGE,
  commandCredentials,
  commandRegion,
  eventsService,
  resolveEndpoint,
  sourceOption,
  sourceUsage,
} from './aws-options.js';
import {
  DELIVERY_OPTIONS,
  deliveryFlags,
  deliveryOptionsUsage,
  httpUrl,
  openCommand,
} from './command-options.js';
import { forEachConcurrently } from './concurrency.js';
import {
  apiDestinationHeaders,
  DEFAULT_TIMEOUT_MS,
  deliver,
  formatDeliveryLine,
  isDelivered,
  parseReceiverUrl,
  type Receiver,
  receiverPool,
} from './delivery.js';
import { type DlqRecord, describeRecord, readDlqMessage } from './dlq-record.js';
import { type CliContext, CliError, errorMessage, println, type ResolvedContext, redactUrl } from './io.js';
import { ProgressBar } from './progress.js';
import { batchEntries, buildEntry, type LabelledEntry } from './put-events-entries.js';
import { DEFAULT_PUT_TIMEOUT_MS, formatEntryLine, sendBatch } from './put-events-send.js';
import { formatRedriveSummary, type MessageResult, summarizeRedrive } from './redrive-report.js';
import { RECEIVER_OPTIONS } from './replay.js';
import type { RetryPolicy } from './retry.js';
import {
  deleteMessages,
  queueUrlRegion,
  receiveMessages,
  SQS_MAX_BATCH,
  SQS_MAX_VISIBILITY_SECONDS,
  SQS_MAX_WAIT_SECONDS,
  type SqsMessage,
  sqsService,
} from './sqs.js';

export const DEFAULT_REDRIVE_CONCURRENCY = 4;
/** Long enough for one message's every attempt (5 s time-out, backoff, a capped Retry-After) and its delete. */
export const DEFAULT_VISIBILITY_SECONDS = 300;
/** --dry-run hides what it lists for a shorter time, so a real run can follow soon. */
export const DRY_RUN_VISIBILITY_SECONDS = 30;
export const DEFAULT_WAIT_SECONDS = 5;

const common = deliveryOptionsUsage(
  26,
  DEFAULT_TIMEOUT_MS,
  ` posting, ${DEFAULT_PUT_TIMEOUT_MS} for AWS calls`,
);

export const REDRIVE_USAGE = `Usage: ebdedup redrive --queue-url URL (--url RECEIVER_URL | --to-bus NAME) [options]

Brings events back from an EventBridge target's SQS dead-letter queue. Each message is read with
ReceiveMessage (long polling, hidden from other readers for --visibility-timeout), posted to the receiver
the way an API destination does (the bytes as they are, retried like replay), and deleted only after a
2xx answer (processed or duplicate). Because the receiver dedups, what did get through before is answered
duplicate and the rest is processed once; a run that stops part-way can simply be run again.

Options:
  --queue-url URL         the dead-letter queue's URL (aws sqs get-queue-url) (required)
  --url URL               receiver endpoint, e.g. https://receiver.example.com/events
  --api-key KEY           send KEY in the API key header        (env EBDEDUP_API_KEY)
  --api-key-header NAME   header for --api-key, default x-api-key (env EBDEDUP_API_KEY_HEADER)
  --basic USER:PASSWORD   HTTP basic auth                         (env EBDEDUP_BASIC)
  --bearer TOKEN          Authorization: Bearer TOKEN             (env EBDEDUP_BEARER)
  --to-bus NAME           instead of --url: put the events on this event bus again (PutEvents), for a
                          receiver behind the bus; deleted once PutEvents accepted them
${sourceUsage(26)}
  --region R              AWS region (default: the queue URL's, then AWS_REGION, AWS_DEFAULT_REGION)
  --endpoint-url URL      SQS endpoint, e.g. http://localhost:4566 or a VPC endpoint (default
                          AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL, then https://sqs.REGION.amazonaws.com/);
                          --to-bus uses AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL or the region's
  --dry-run               list the messages (by error code) without posting or deleting anything
  --max N                 handle at most N messages, then stop
  --concurrency C         deliveries in flight at once (default ${DEFAULT_REDRIVE_CONCURRENCY})
  --delete-rejected       a message the receiver answers with a final 4xx is written to --rejected-file,
                          then deleted (default: left in the queue)
  --rejected-file PATH    JSON lines file the rejected messages are appended to (with --delete-rejected)
${common.options}

Advanced:
  --visibility-timeout S  seconds a received message stays hidden (default ${DEFAULT_VISIBILITY_SECONDS}, ${DRY_RUN_VISIBILITY_SECONDS} with --dry-run)
  --wait-seconds S        ReceiveMessage long polling, 0 to ${SQS_MAX_WAIT_SECONDS} (default ${DEFAULT_WAIT_SECONDS}); an empty answer ends the run
${common.advanced}

${CREDENTIALS_USAGE}

A record written by a Custom Event Bus subscriber names its failed events by id but does not hold them:
it is listed and left in the queue (replay the bus's retained events to a subscriber instead).

Exit codes: 0 every message received was delivered and deleted (or --dry-run); 1 something is left in the
queue that should have gone (a 4xx, retries exhausted, a failed delete, a record without events) or the
queue could not be read; 2 bad arguments or a missing setting (region, credentials).`;

const OPTIONS: OptionSpec = {
  ...RECEIVER_OPTIONS,
  ...DELIVERY_OPTIONS,
  'queue-url': { type: 'string' },
  'to-bus': { type: 'string' },
  source: { type: 'string' },
  region: { type: 'string' },
  'endpoint-url': { type: 'string' },
  'dry-run': { type: 'boolean' },
  max: { type: 'string' },
  'delete-rejected': { type: 'boolean' },
  'rejected-file': { type: 'string' },
  'visibility-timeout': { type: 'string' },
  'wait-seconds': { type: 'string' },
};

/** Where the events go: the receiver (as an API destination), or an event bus (PutEvents). */
type Destination =
  | { kind: 'receiver'; receiver: Receiver }
  | { kind: 'bus'; bus: string; source: string; service: AwsService };

interface RedriveOptions {
  queueUrl: URL;
  sqs: AwsService;
  destination: Destination;
  dryRun: boolean;
  max: number;
  concurrency: number;
  /** Absolute path of --rejected-file when --delete-rejected is given. */
  rejectedFile?: string;
  visibilityTimeout: number;
  waitSeconds: number;
  quiet: boolean;
  json: boolean;
  policy: RetryPolicy;
  awsTimeoutMs: number;
}

async function parseRedriveOptions(ctx: ResolvedContext): Promise<RedriveOptions | 'help'> {
  const { values, positionals } = parseCommandArgs('redrive', ctx.argv, OPTIONS);
  if (flagOption(values, 'help')) return 'help';
  if (positionals.length > 0) {
    throw new CliError(
      `ebdedup redrive: unexpected argument "${positionals[0]}" (see ebdedup redrive --help)`,
    );
  }
  const rawQueueUrl = stringOption(values, 'queue-url');
  if (rawQueueUrl === undefined) {
    throw new CliError('ebdedup redrive: --queue-url is required (see ebdedup redrive --help)');
  }
  const queueUrl = httpUrl('redrive', '--queue-url', rawQueueUrl);
  const bus = stringOption(values, 'to-bus')?.trim();
  const hasUrl = stringOption(values, 'url') !== undefined;
  if (hasUrl === (bus !== undefined)) {
    throw new CliError('ebdedup redrive: give either --url (the receiver) or --to-bus (an event bus)');
  }
  if (bus === '') throw new CliError('ebdedup redrive: --to-bus is empty');
  const deleteRejected = flagOption(values, 'delete-rejected');
  const rejectedFile = stringOption(values, 'rejected-file');
  if (deleteRejected && (rejectedFile === undefined || rejectedFile === '')) {
    throw new CliError(
      'ebdedup redrive: --delete-rejected needs --rejected-file, where the rejected events are kept',
    );
  }
  if (deleteRejected && bus !== undefined) {
    throw new CliError('ebdedup redrive: --delete-rejected applies to --url (a receiver answering 4xx)');
  }
  const dryRun = flagOption(values, 'dry-run');
  const flags = deliveryFlags('redrive', values, DEFAULT_TIMEOUT_MS);
  const awsTimeoutMs =
    stringOption(values, 'timeout-ms') === undefined ? DEFAULT_PUT_TIMEOUT_MS : flags.timeoutMs;
  const region = commandRegion('redrive', stringOption(values, 'region'), queueUrlRegion(queueUrl), ctx.env);
  const sqsEndpoint = resolveEndpoint(
    'redrive',
    { name: '--endpoint-url', value: stringOption(values, 'endpoint-url') },
    ctx.env,
    'AWS_ENDPOINT_URL_SQS',
    'sqs',
    region,
  );
  const credentials = await commandCredentials('redrive', ctx);
  let destination: Destination;
  if (bus === undefined) {
    const url = parseReceiverUrl('redrive', stringOption(values, 'url'));
    const auth = resolveAuth('redrive', values, ctx.env);
    destination = {
      kind: 'receiver',
      receiver: {
        url,
        headers: apiDestinationHeaders(auth.headers),
        timeoutMs: flags.timeoutMs,
        policy: flags.policy,
      },
    };
  } else {
    for (const name of ['api-key', 'basic', 'bearer']) {
      if (stringOption(values, name) !== undefined) {
        throw new CliError(
          `ebdedup redrive: --${name} applies to --url, not --to-bus (which signs with AWS credentials)`,
        );
      }
    }
    const eventsEndpoint = resolveEndpoint(
      'redrive',
      { name: '--endpoint-url', value: undefined },
      ctx.env,
      'AWS_ENDPOINT_URL_EVENTBRIDGE',
      'events',
      region,
    );
    destination = {
      kind: 'bus',
      bus,
      source: sourceOption('redrive', stringOption(values, 'source')),
      service: eventsService(eventsEndpoint, region, credentials, awsTimeoutMs),
    };
  }
  const options: RedriveOptions = {
    queueUrl,
    sqs: sqsService(sqsEndpoint, region, credentials, awsTimeoutMs + SQS_MAX_WAIT_SECONDS * 1000),
    destination,
    dryRun,
    max: intOption('redrive', values, 'max', Number.MAX_SAFE_INTEGER, 1),
    concurrency: intOption('redrive', values, 'concurrency', DEFAULT_REDRIVE_CONCURRENCY, 1, 256),
    visibilityTimeout: intOption(
      'redrive',
      values,
      'visibility-timeout',
      dryRun ? DRY_RUN_VISIBILITY_SECONDS : DEFAULT_VISIBILITY_SECONDS,
      0,
      SQS_MAX_VISIBILITY_SECONDS,
    ),
    waitSeconds: intOption('redrive', values, 'wait-seconds', DEFAULT_WAIT_SECONDS, 0, SQS_MAX_WAIT_SECONDS),
    quiet: flags.quiet,
    json: flags.json,
    policy: flags.policy,
    awsTimeoutMs,
  };
  if (deleteRejected && rejectedFile !== undefined)
    options.rejectedFile = path.resolve(ctx.cwd, rejectedFile);
  return options;
}

/** One message's result, before its delete: `remove` says whether it may be deleted. */
interface Handled {
  result: MessageResult;
  line: string;
  remove: boolean;
}

function baseResult(record: DlqRecord): MessageResult {
  return {
    messageId: record.message.messageId,
    errorCode: record.failure.errorCode,
    outcome: 'failed',
    deleted: false,
  };
}

function dryRunLine(record: DlqRecord): string {
  const { failure } = record;
  const parts = ['listed', describeRecord(record), `dlq=${failure.errorCode}`];
  if (failure.retryAttempts !== undefined) parts.push(`retries=${failure.retryAttempts}`);
  if (failure.exhaustedRetryCondition !== undefined)
    parts.push(`exhausted=${failure.exhaustedRetryCondition}`);
  if (failure.source !== undefined) parts.push(`from=${failure.source}`);
  if (failure.errorMessage !== undefined) parts.push(`(${failure.errorMessage})`);
  return parts.join(' ');
}

function notRedrivable(record: DlqRecord): Handled {
  return {
    result: { ...baseResult(record), outcome: 'not-redrivable', error: 'subscriber record without events' },
    line: `not-redrivable - ${describeRecord(record)} (replay the bus's retained events to a subscriber)`,
    remove: false,
  };
}

/** What is appended to --rejected-file before a rejected message is deleted: enough to post it again. */
function rejectedLine(record: DlqRecord, status: number | undefined, error: string | undefined): string {
  return `${JSON.stringify({
    messageId: record.message.messageId,
    failure: record.failure,
    status,
    error,
    body: record.message.body,
  })}\n`;
}

async function postRound(
  records: readonly DlqRecord[],
  receiver: Receiver,
  pool: Pool,
  options: RedriveOptions,
  ctx: ResolvedContext,
): Promise<Handled[]> {
  const handled: Handled[] = new Array(records.length);
  await forEachConcurrently(records.length, options.concurrency, async (index) => {
    const record = records[index] as DlqRecord;
    if (record.content.kind !== 'event') {
      handled[index] = notRedrivable(record);
      return;
    }
    const label = describeRecord(record);
    // The body is the event as EventBridge would have sent it: posted as it is, never re-serialised.
    const delivery = await deliver(
      { label, republished: false, body: record.content.body },
      pool,
      receiver,
      ctx,
    );
    const result: MessageResult = { ...baseResult(record), outcome: 'failed' };
    if (delivery.status !== undefined) result.status = delivery.status;
    if (delivery.key !== undefined) result.key = delivery.key;
    if (delivery.error !== undefined) result.error = delivery.error;
    let remove = isDelivered(delivery);
    if (remove) {
      result.outcome = delivery.outcome as MessageResult['outcome'];
    } else if (delivery.outcome === 'invalid') {
      result.outcome = 'rejected';
      if (options.rejectedFile !== undefined) {
        try {
          await appendFile(options.rejectedFile, rejectedLine(record, delivery.status, delivery.error));
          remove = true;
        } catch (error) {
          // Not kept, so not deleted: it stays in the queue.
          result.error = `${delivery.error ?? 'rejected'}; not written to --rejected-file: ${errorMessage(error)}`;
        }
      }
    }
    handled[index] = { result, line: `${formatDeliveryLine(delivery)} dlq=${result.errorCode}`, remove };
  });
  return handled;
}

async function putRound(
  records: readonly DlqRecord[],
  destination: Extract<Destination, { kind: 'bus' }>,
  dispatcher: Agent,
  options: RedriveOptions,
  ctx: ResolvedContext,
): Promise<{ handled: Handled[]; fatal?: string }> {
  const handled: Handled[] = new Array(records.length);
  const entries: LabelledEntry[] = [];
  const indexOf = new Map<string, number>();
  records.forEach((record, index) => {
    if (record.content.kind !== 'event') {
      handled[index] = notRedrivable(record);
      return;
    }
    const label = describeRecord(record);
    const built =
      record.content.event === undefined
        ? ({ ok: false, problem: `${label}: the body is not a JSON object` } as const)
        : buildEntry(label, record.content.event, destination.bus, destination.source);
    if (!built.ok) {
      handled[index] = {
        result: { ...baseResult(record), outcome: 'unusable', error: built.problem },
        line: `unusable ${built.problem} dlq=${record.failure.errorCode}`,
        remove: false,
      };
      return;
    }
    entries.push(built.entry);
    indexOf.set(label, index);
  });
  let fatal: string | undefined;
  for (const batch of batchEntries(entries)) {
    const sent =
      fatal === undefined
        ? await sendBatch(dispatcher, destination.service, options.policy, batch, ctx)
        : undefined;
    fatal ??= sent?.fatal;
    batch.forEach((item, position) => {
      const index = indexOf.get(item.label) as number;
      const record = records[index] as DlqRecord;
      const outcome = sent?.outcomes[position] ?? {
        label: item.label,
        errorCode: 'NotSent',
        errorMessage: 'an earlier request failed',
        attempts: 0,
      };
      const result: MessageResult = { ...baseResult(record), outcome: outcome.eventId ? 'put' : 'failed' };
      if (outcome.eventId !== undefined) result.eventId = outcome.eventId;
      if (outcome.errorCode !== undefined) result.error = outcome.errorCode;
      handled[index] = {
        result,
        line: `${formatEntryLine(outcome)} dlq=${result.errorCode}`,
        remove: outcome.eventId !== undefined,
      };
    });
  }
  return fatal === undefined ? { handled } : { handled, fatal };
}

/** Deletes what may go, in batches of 10; marks each result deleted or says why not. */
async function deleteHandled(
  handled: readonly Handled[],
  messages: ReadonlyMap<string, SqsMessage>,
  dispatcher: Agent,
  options: RedriveOptions,
  ctx: ResolvedContext,
): Promise<void> {
  const removable = handled.filter((h) => h.remove);
  for (let start = 0; start < removable.length; start += SQS_MAX_BATCH) {
    const chunk = removable.slice(start, start + SQS_MAX_BATCH);
    const answer = await deleteMessages(
      dispatcher,
      options.sqs,
      options.queueUrl,
      chunk.map((h) => messages.get(h.result.messageId) as SqsMessage),
      options.policy,
      ctx,
    );
    if (!answer.ok) {
      for (const h of chunk) h.result.error = `not deleted: ${answer.message}`;
      continue;
    }
    const failed = new Map(answer.value.failed.map((f) => [f.id, f]));
    for (const h of chunk) {
      const failure = failed.get(h.result.messageId);
      if (failure === undefined) h.result.deleted = true;
      else h.result.error = `not deleted: ${failure.code} ${failure.message}`.trim();
    }
  }
}

/** `ebdedup redrive`: returns the exit code. */
export async function runRedrive(input: CliContext): Promise<number> {
  const opened = await openCommand(input, REDRIVE_USAGE, parseRedriveOptions);
  if (typeof opened === 'number') return opened;
  const { ctx, options } = opened;
  const { destination } = options;
  const to = destination.kind === 'bus' ? `bus ${destination.bus}` : redactUrl(destination.receiver.url);
  const lineWriter = options.json ? ctx.stderr : ctx.stdout;
  const progress = new ProgressBar({ write: ctx.stderr, enabled: ctx.stderrIsTTY, total: 0, now: ctx.now });
  const dispatcher = new Agent({ keepAliveTimeout: 10_000, connect: { timeout: options.awsTimeoutMs } });
  const pool =
    destination.kind === 'receiver'
      ? receiverPool(destination.receiver.url, options.concurrency, destination.receiver.timeoutMs)
      : undefined;
  const results: MessageResult[] = [];
  /** MessageIds handled in this run: one that shows again (its visibility timeout ran out) is not sent twice. */
  const seen = new Set<string>();
  const roundSize = Math.max(SQS_MAX_BATCH, options.concurrency);
  let fatal: string | undefined;
  const started = ctx.now();

  try {
    let drained = false;
    while (!drained && fatal === undefined && !ctx.signal.aborted && seen.size < options.max) {
      const want = Math.min(roundSize, options.max - seen.size);
      const records: DlqRecord[] = [];
      const messages = new Map<string, SqsMessage>();
      while (records.length < want) {
        const received = await receiveMessages(
          dispatcher,
          options.sqs,
          options.queueUrl,
          {
            max: Math.min(SQS_MAX_BATCH, want - records.length),
            waitSeconds: options.waitSeconds,
            visibilityTimeout: options.visibilityTimeout,
          },
          options.policy,
          ctx,
        );
        if (!received.ok) {
          fatal = received.message;
          break;
        }
        const fresh = received.value.filter((message) => !seen.has(message.messageId));
        // Nothing new: the queue is empty, or holds only what this run already handled and left.
        if (fresh.length === 0) {
          drained = true;
          break;
        }
        for (const message of fresh) {
          seen.add(message.messageId);
          messages.set(message.messageId, message);
          records.push(readDlqMessage(message));
        }
      }
      if (records.length === 0) break;

      let handled: Handled[];
      if (options.dryRun) {
        handled = records.map((record) => ({
          result: { ...baseResult(record), outcome: 'listed' },
          line: dryRunLine(record),
          remove: false,
        }));
      } else if (destination.kind === 'receiver' && pool !== undefined) {
        handled = await postRound(records, destination.receiver, pool, options, ctx);
      } else if (destination.kind === 'bus') {
        const put = await putRound(records, destination, dispatcher, options, ctx);
        handled = put.handled;
        fatal ??= put.fatal;
      } else {
        handled = [];
      }
      await deleteHandled(handled, messages, dispatcher, options, ctx);
      for (const h of handled) {
        results.push(h.result);
        if (!options.quiet) {
          progress.clear();
          const fate = options.dryRun ? '' : h.result.deleted ? ' deleted' : ' left';
          println(lineWriter, `${h.line}${fate}`);
        }
      }
      progress.update(
        results.length,
        `deleted=${results.filter((r) => r.deleted).length}`,
        Math.max(results.length, options.max === Number.MAX_SAFE_INTEGER ? 0 : options.max),
      );
    }
  } finally {
    progress.clear();
    await pool?.close().catch(() => undefined);
    await dispatcher.close().catch(() => undefined);
  }

  if (fatal !== undefined) println(ctx.stderr, `ebdedup redrive: ${fatal}`);
  const summary = summarizeRedrive(results, {
    queueUrl: redactUrl(options.queueUrl),
    to,
    dryRun: options.dryRun,
    ...(fatal === undefined ? {} : { error: fatal }),
    elapsedMs: ctx.now() - started,
  });
  if (options.json) println(ctx.stdout, JSON.stringify(summary));
  else for (const line of formatRedriveSummary(summary)) println(ctx.stdout, line);
  return summary.exitCode;
}
