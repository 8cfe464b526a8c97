import { Agent } from 'undici';
import { flagOption, type OptionSpec, parseCommandArgs, stringOption } from './args.js';
import { type AwsService, awsService } from './aws-json.js';
import {
  CREDENTIALS_USAGE,
  commandCredentials,
  commandRegion,
  EVENTS_PROTOCOL,
  serviceEndpoint,
  sourceOption,
  sourceUsage,
} from './aws-options.js';
import {
  DELIVERY_OPTIONS,
  type DeliveryFlags,
  deliveryFlags,
  deliveryOptionsUsage,
  openCommand,
} from './command-options.js';
import {
  type CliContext,
  CliError,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  println,
  type ResolvedContext,
  redactUrl,
} from './io.js';
import { loadEvents } from './load-events.js';
import {
  batchEntries,
  buildEntries,
  isReservedSource,
  MAX_ENTRIES_PER_REQUEST,
  MAX_REQUEST_ENTRY_BYTES,
} from './put-events-entries.js';
import { DEFAULT_PUT_TIMEOUT_MS, type EntryOutcome, formatEntryLine, sendBatch } from './put-events-send.js';

const common = deliveryOptionsUsage(24, DEFAULT_PUT_TIMEOUT_MS);

export const PUT_EVENTS_USAGE = `Usage: ebdedup put-events PATH... --bus NAME [options]

Sends event files (or folders of them) to an EventBridge event bus with PutEvents, signed with
SigV4. Each event becomes an entry: Source, DetailType (from "detail-type"), Detail, Resources and
Time; up to ${MAX_ENTRIES_PER_REQUEST} entries and ${MAX_REQUEST_ENTRY_BYTES / 1024} KiB per request. Entries that fail with a
retryable error (throttling, internal errors) are sent again with backoff.

Options:
  --bus NAME            event bus name or ARN (required)
  --region R            AWS region (default AWS_REGION, AWS_DEFAULT_REGION, then the profile's
                        region in ~/.aws/config)
  --endpoint URL        PutEvents endpoint, e.g. http://localhost:4566 for LocalStack
                        (default AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL, then
                        https://events.REGION.amazonaws.com/)
${sourceUsage(24)}
${common.options}

Advanced:
${common.advanced}

${CREDENTIALS_USAGE}

Exit codes: 0 every entry accepted; 1 some entry failed or an input could not be read; 2 bad
arguments, a missing setting (region, credentials) or no events.`;

const OPTIONS: OptionSpec = {
  ...DELIVERY_OPTIONS,
  bus: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  source: { type: 'string' },
};

interface PutEventsOptions extends DeliveryFlags {
  paths: string[];
  bus: string;
  service: AwsService;
  source: string;
}

export interface PutEventsSummary {
  endpoint: string;
  bus: string;
  region: string;
  /** PutEvents requests of up to 10 entries that were sent. */
  batches: number;
  /** PutEvents calls in all: each batch's first, plus its retries. */
  attempts: number;
  accepted: number;
  failed: number;
  unreadable: number;
  entries: EntryOutcome[];
  exitCode: number;
}

async function parseOptions(ctx: ResolvedContext): Promise<PutEventsOptions | 'help'> {
  const { values, positionals } = parseCommandArgs('put-events', ctx.argv, OPTIONS);
  if (flagOption(values, 'help')) return 'help';
  const bus = stringOption(values, 'bus')?.trim();
  if (!bus) throw new CliError('ebdedup put-events: --bus is required (see ebdedup put-events --help)');
  if (positionals.length === 0) {
    throw new CliError(
      'ebdedup put-events: name at least one event file or folder (see ebdedup put-events --help)',
    );
  }
  const region = await commandRegion('put-events', ctx, stringOption(values, 'region'));
  const flag = { name: '--endpoint', value: stringOption(values, 'endpoint') };
  const endpoint = serviceEndpoint('put-events', 'events', flag, ctx.env, region);
  const source = sourceOption('put-events', stringOption(values, 'source'));
  const flags = deliveryFlags('put-events', values, DEFAULT_PUT_TIMEOUT_MS);
  const credentials = await commandCredentials('put-events', ctx, region);
  return {
    ...flags,
    paths: positionals,
    bus,
    source,
    service: awsService(EVENTS_PROTOCOL, endpoint, region, credentials, flags.timeoutMs),
  };
}

/** `ebdedup put-events`: returns the exit code. */
export async function runPutEvents(input: CliContext): Promise<number> {
  const opened = await openCommand(input, PUT_EVENTS_USAGE, parseOptions);
  if (typeof opened === 'number') return opened;
  const { ctx, options } = opened;

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
  let batches = 0;
  let attempts = 0;
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
      const result = await sendBatch(dispatcher, options.service, options.policy, batch, ctx);
      batches += 1;
      attempts += result.attempts;
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
    endpoint: redactUrl(options.service.endpoint),
    bus: options.bus,
    region: options.service.region,
    batches,
    attempts,
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
      `${outcomes.length} entries in ${batches} batch(es), ${attempts} PutEvents attempt(s), to ${summary.endpoint} (bus ${options.bus}): ${accepted} accepted, ${failed} failed${notSent}`,
    );
  }
  return summary.exitCode;
}
