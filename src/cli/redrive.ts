import { Agent } from 'undici';
import { openCommand } from './command-options.js';
import { deliver, printNoCredentialsHint, receiverPool } from './delivery.js';
import { type DlqRecord, readDlqMessage } from './dlq-record.js';
import { type CliContext, println, type ResolvedContext, redactUrl } from './io.js';
import { invokeFunction } from './lambda-invoke.js';
import { ProgressBar } from './progress.js';
import {
  type Destination,
  parseRedriveOptions,
  REDRIVE_USAGE,
  type RedriveOptions,
} from './redrive-options.js';
import { formatRedriveSummary, RedriveTally } from './redrive-report.js';
import {
  deleteHandled,
  deliveryRound,
  listRound,
  putRound,
  type RoundResult,
  type Send,
} from './redrive-rounds.js';
import { receiveMessages, SQS_MAX_BATCH, type SqsMessage } from './sqs.js';

/** `to` in the summary: the receiver's URL (credentials hidden), `bus NAME` or `function NAME`. */
function describeDestination(destination: Destination): string {
  if (destination.kind === 'bus') return `bus ${destination.bus}`;
  if (destination.kind === 'function') return `function ${destination.functionName}`;
  return redactUrl(destination.receiver.url);
}

interface Rounds {
  run: (records: readonly DlqRecord[]) => Promise<RoundResult>;
  close: () => Promise<void>;
}

/** What each round does with its messages: lists them, puts them on the bus, or sends each on its own. */
function openRounds(options: RedriveOptions, dispatcher: Agent, ctx: ResolvedContext): Rounds {
  const { destination } = options;
  const none = async () => undefined;
  if (options.dryRun) return { run: async (records) => listRound(records), close: none };
  if (destination.kind === 'bus') {
    return { run: (records) => putRound(records, destination, dispatcher, options, ctx), close: none };
  }
  if (destination.kind === 'function') {
    const target = { ...destination, policy: options.policy };
    const send: Send = (delivery) => invokeFunction(dispatcher, target, delivery, ctx);
    return { run: (records) => deliveryRound(records, send, options), close: none };
  }
  const { receiver } = destination;
  const pool = receiverPool(receiver.url, options.concurrency, receiver.timeoutMs);
  const send: Send = async (delivery) => ({ result: await deliver(delivery, pool, receiver, ctx) });
  return { run: (records) => deliveryRound(records, send, options), close: () => pool.close() };
}

/** `ebdedup redrive`: returns the exit code. */
export async function runRedrive(input: CliContext): Promise<number> {
  const opened = await openCommand(input, REDRIVE_USAGE, parseRedriveOptions);
  if (typeof opened === 'number') return opened;
  const { ctx, options } = opened;
  const { destination } = options;
  const to = describeDestination(destination);
  const lineWriter = options.json ? ctx.stderr : ctx.stdout;
  const progress = new ProgressBar({ write: ctx.stderr, enabled: ctx.stderrIsTTY, total: 0, now: ctx.now });
  // Every call carries its own AbortSignal.timeout (--timeout-ms, up to 600 s for an invoke): undici's own
  // 300 s waits for headers and body would cut a longer invoke short, and are off.
  const dispatcher = new Agent({
    keepAliveTimeout: 10_000,
    connect: { timeout: options.awsTimeoutMs },
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const rounds = openRounds(options, dispatcher, ctx);
  // Each result is counted as its delete settles; only --json keeps them, since they are its `messages`.
  const tally = new RedriveTally({ keepMessages: options.json });
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

      const { handled, fatal: stop } = await rounds.run(records);
      fatal ??= stop;
      await deleteHandled(handled, messages, dispatcher, options, ctx);
      for (const h of handled) {
        tally.add(h.result);
        if (!options.quiet) {
          progress.clear();
          const fate = options.dryRun ? '' : h.result.deleted ? ' deleted' : ' left';
          println(lineWriter, `${h.line}${fate}`);
        }
      }
      progress.update(
        tally.done,
        tally.progressLine(),
        Math.max(tally.done, options.max === Number.MAX_SAFE_INTEGER ? 0 : options.max),
      );
    }
  } finally {
    progress.clear();
    await rounds.close().catch(() => undefined);
    await dispatcher.close().catch(() => undefined);
  }

  if (fatal !== undefined) println(ctx.stderr, `ebdedup redrive: ${fatal}`);
  if (destination.kind === 'receiver') {
    printNoCredentialsHint(ctx.stderr, 'redrive', destination.receiver, tally.answered(401));
  }
  const summary = tally.summary({
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
