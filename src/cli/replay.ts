import { flagOption, intOption, type OptionSpec, parseCommandArgs, stringOption } from './args.js';
import { resolveAuth } from './auth.js';
import { DELIVERY_OPTIONS, deliveryFlags, deliveryOptionsUsage, openCommand } from './command-options.js';
import { forEachConcurrently } from './concurrency.js';
import {
  CONTENT_TYPE,
  DEFAULT_TIMEOUT_MS,
  type Delivery,
  deliver,
  formatDeliveryLine,
  parseReceiverUrl,
  printNoCredentialsHint,
  type Receiver,
  receiverOf,
  receiverPool,
  USER_AGENT,
} from './delivery.js';
import {
  type CliContext,
  CliError,
  EXIT_FAILED,
  EXIT_USAGE,
  println,
  type ResolvedContext,
  redactUrl,
} from './io.js';
import { type EventObject, type LoadedEvent, loadEvents } from './load-events.js';
import { ProgressBar } from './progress.js';
import { formatSummary, ReplayTally } from './replay-report.js';

export const DEFAULT_CONCURRENCY = 4;

const common = deliveryOptionsUsage(26, DEFAULT_TIMEOUT_MS, ', as EventBridge');

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
${common.options}

Advanced:
${common.advanced}

Exit codes: 0 every delivery ended in a 2xx answer; 1 some did not (a final 4xx, or still failing
after the last attempt) or an input could not be read; 2 bad arguments or no events.`;

/** The receiver's options: where to post, and the auth header of the API destination's connection. */
export const RECEIVER_OPTIONS: OptionSpec = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  'api-key-header': { type: 'string' },
  basic: { type: 'string' },
  bearer: { type: 'string' },
  concurrency: { type: 'string' },
};

const OPTIONS: OptionSpec = {
  ...RECEIVER_OPTIONS,
  ...DELIVERY_OPTIONS,
  times: { type: 'string' },
  republish: { type: 'boolean' },
  shuffle: { type: 'boolean' },
};

/** One planned delivery: which loaded event, and whether it goes as a re-published copy. */
export interface PlannedDelivery {
  eventIndex: number;
  /** A copy sent under a fresh id and time (`--republish`). */
  republished: boolean;
}

interface ReplayOptions {
  receiver: Receiver;
  quiet: boolean;
  json: boolean;
  paths: string[];
  times: number;
  republish: boolean;
  shuffle: boolean;
  concurrency: number;
}

function parseReplayOptions(ctx: ResolvedContext): ReplayOptions | 'help' {
  const { values, positionals } = parseCommandArgs('replay', ctx.argv, OPTIONS);
  if (flagOption(values, 'help')) return 'help';
  const url = parseReceiverUrl('replay', stringOption(values, 'url'));
  if (positionals.length === 0) {
    throw new CliError('ebdedup replay: name at least one event file or folder (see ebdedup replay --help)');
  }
  const auth = resolveAuth('replay', values, ctx.env);
  const flags = deliveryFlags('replay', values, DEFAULT_TIMEOUT_MS);
  return {
    ...flags,
    receiver: receiverOf(url, auth, flags),
    paths: positionals,
    times: intOption('replay', values, 'times', 1, 1, 1_000_000),
    republish: flagOption(values, 'republish'),
    shuffle: flagOption(values, 'shuffle'),
    concurrency: intOption('replay', values, 'concurrency', DEFAULT_CONCURRENCY, 1, 1024),
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

/** The deliveries of a run, in order: how many, and the `index`th. */
export interface DeliveryPlan {
  count: number;
  at: (index: number) => PlannedDelivery;
}

/**
 * The delivery order: round after round of every event (so the copies of one event are spaced apart, as retries
 * are), each event followed by its re-published copy with `--republish`. Computed from the index, so the plan of
 * a million deliveries takes no memory; `--shuffle` keeps a permutation of the indexes (4 bytes a delivery).
 * Bodies are built only when sent (`materialize`).
 */
export function planDeliveries(
  eventCount: number,
  options: { times: number; republish: boolean; shuffle: boolean },
  random: () => number,
): DeliveryPlan {
  const copies = options.republish ? 2 : 1;
  const perRound = eventCount * copies;
  const count = perRound * options.times;
  const slot = (index: number): PlannedDelivery => {
    const inRound = index % perRound;
    return { eventIndex: Math.floor(inRound / copies), republished: inRound % copies === 1 };
  };
  if (!options.shuffle) return { count, at: slot };
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  // Fisher–Yates.
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = order[i] as number;
    order[i] = order[j] as number;
    order[j] = a;
  }
  return { count, at: (index) => slot(order[index] as number) };
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

/** `ebdedup replay`: returns the exit code. */
export async function runReplay(input: CliContext): Promise<number> {
  const opened = await openCommand(input, REPLAY_USAGE, parseReplayOptions);
  if (typeof opened === 'number') return opened;
  const { ctx, options } = opened;

  const loaded = await loadEvents(options.paths, ctx.cwd);
  for (const problem of loaded.problems) println(ctx.stderr, `ebdedup replay: ${problem}`);
  if (loaded.events.length === 0) {
    println(ctx.stderr, 'ebdedup replay: no events to send');
    return loaded.problems.length > 0 ? EXIT_FAILED : EXIT_USAGE;
  }

  const plan = planDeliveries(loaded.events.length, options, ctx.random);
  const pool = receiverPool(options.receiver.url, options.concurrency, options.receiver.timeoutMs);
  // With --json, stdout holds the summary alone; delivery lines go to stderr.
  const lineWriter = options.json ? ctx.stderr : ctx.stdout;
  const progress = new ProgressBar({
    write: ctx.stderr,
    enabled: ctx.stderrIsTTY,
    total: plan.count,
    now: ctx.now,
  });
  // Each result is printed, counted and dropped: memory stays flat however many deliveries a run makes.
  const tally = new ReplayTally();
  const started = ctx.now();

  try {
    await forEachConcurrently(plan.count, options.concurrency, async (index) => {
      const delivery = materialize(plan.at(index), loaded.events, ctx);
      if (delivery === undefined) return;
      const result = await deliver(delivery, pool, options.receiver, ctx);
      tally.add(result);
      if (!options.quiet) {
        progress.clear();
        println(lineWriter, formatDeliveryLine(result));
      }
      progress.update(tally.done, tally.progressLine());
    });
  } finally {
    progress.clear();
    await pool.close().catch(() => undefined);
  }

  if (tally.unreachable !== undefined) {
    println(
      ctx.stderr,
      `ebdedup replay: cannot reach ${redactUrl(options.receiver.url)}: ${tally.unreachable}`,
    );
  }
  printNoCredentialsHint(ctx.stderr, 'replay', options.receiver, tally.answered(401));
  const summary = tally.summary({
    url: options.receiver.url,
    events: loaded.events.length,
    unreadable: loaded.problems.length,
    elapsedMs: ctx.now() - started,
  });
  if (options.json) println(ctx.stdout, JSON.stringify(summary));
  else for (const line of formatSummary(summary)) println(ctx.stdout, line);
  return summary.exitCode;
}
