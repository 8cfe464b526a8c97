import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { streamNames } from '../sinks/redis-stream.js';
import { flagOption, intOption, parseCommandArgs, stringOption } from './args.js';
import {
  type CliContext,
  CliError,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  errorMessage,
  println,
  redactUrl,
} from './io.js';

/**
 * `ebdedup consume --group G`: reads what SINK=redis-stream appended, with a consumer group, so each entry
 * is handled by one consumer and acknowledged only after its handler succeeded. An entry whose consumer died
 * before acknowledging stays pending and is claimed by a live consumer after `--min-idle-ms`
 * (XAUTOCLAIM: https://redis.io/docs/latest/commands/xautoclaim/). Delivery to the handler is therefore at
 * least once: the entry's `key` is the dedup key, for a handler that must not act twice.
 */

export const CONSUME_USAGE = `Usage: ebdedup consume --group G [options]

Reads the receiver's stream (SINK=redis-stream) with a consumer group and prints each event as one JSON line,
or pipes it to --exec; acknowledges only after success; reclaims entries a dead consumer left pending.

Options:
  --group G           consumer group (created at the start of the stream if missing)      required
  --consumer C        this consumer's name                                                 host-pid
  --redis-url URL     the receiver's Redis                                                 REDIS_URL
  --stream S          stream name (SINK_STREAM)                                            ebdedup:events
  --partitions N      SINK_STREAM_PARTITIONS: read S{p0} … S{pN-1}                         1
  --exec CMD          run CMD (sh -c) per event with the JSON line on stdin; ack on exit 0
  --min-idle-ms MS    reclaim entries pending longer than this                             60000
  --count N           entries per read                                                     10
  --block-ms MS       how long one read waits for new entries                              2000
  --once              stop when nothing is left to read or reclaim (scripts, tests)

Each line: {"stream","entryId","key","id","source","detail-type","receivedAt","event"}.
Stops cleanly on SIGTERM or SIGINT (the entry in hand is finished first). Exit codes: 0 stopped cleanly
(with --once: every entry read was handled), 1 Redis failed or, with --once, a handler failed and left its
entry pending, 2 bad arguments.`;

const OPTIONS = {
  group: { type: 'string' },
  consumer: { type: 'string' },
  'redis-url': { type: 'string' },
  stream: { type: 'string' },
  partitions: { type: 'string' },
  exec: { type: 'string' },
  'min-idle-ms': { type: 'string' },
  count: { type: 'string' },
  'block-ms': { type: 'string' },
  once: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type RawEntry = [string, string[]];

function entryLine(stream: string, [entryId, flat]: RawEntry): string {
  const fields: Record<string, string> = {};
  for (let index = 0; index + 1 < flat.length; index += 2)
    fields[flat[index] as string] = flat[index + 1] as string;
  const line = JSON.stringify({
    stream,
    entryId,
    key: fields.key,
    id: fields.id,
    source: fields.source,
    'detail-type': fields['detail-type'],
    receivedAt: fields.receivedAt,
  });
  return `${line.slice(0, -1)},"event":${eventJson(fields.event)}}`;
}

/**
 * The entry's event as JSON in the line: the text the receiver was sent, as it was, not parsed and written
 * again (which would change `1.0`, integers past 2^53, key order), except that line breaks between its
 * tokens become spaces so the line stays one line (JSON strings hold no raw line breaks, so no value changes).
 * Text that is not JSON (not written by the receiver) is passed as a string.
 */
function eventJson(text: string | undefined): string {
  if (text === undefined) return 'null';
  try {
    JSON.parse(text);
  } catch {
    return JSON.stringify(text);
  }
  return text.replace(/[\r\n]+/g, ' ');
}

/** Runs `command` with `input` on stdin; resolves its exit code (a spawn failure is 127). */
function runHandler(command: string, input: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'inherit', 'inherit'] });
    child.once('error', () => resolve(127));
    child.once('exit', (code, killedBy) => resolve(code ?? (killedBy ? 128 : 1)));
    child.stdin.on('error', () => {
      // The handler may exit without reading its input; its exit code decides.
    });
    child.stdin.end(`${input}\n`);
  });
}

export async function runConsume(ctx: CliContext): Promise<number> {
  const { values } = parseCommandArgs('consume', ctx.argv, OPTIONS);
  if (flagOption(values, 'help')) {
    println(ctx.stdout, CONSUME_USAGE);
    return EXIT_OK;
  }
  const group = stringOption(values, 'group');
  if (!group)
    throw new CliError('ebdedup consume: --group is required (see ebdedup consume --help)', EXIT_USAGE);
  const urlOption = stringOption(values, 'redis-url');
  const redisUrl = urlOption ?? ctx.env.REDIS_URL;
  if (!redisUrl) throw new CliError('ebdedup consume: give --redis-url or set REDIS_URL', EXIT_USAGE);
  const consumer = stringOption(values, 'consumer') ?? `${hostname()}-${process.pid}`;
  const stream = stringOption(values, 'stream') ?? ctx.env.SINK_STREAM ?? 'ebdedup:events';
  const partitions = intOption(
    'consume',
    values,
    'partitions',
    Number(ctx.env.SINK_STREAM_PARTITIONS ?? 1) || 1,
    1,
    1024,
  );
  const minIdleMs = intOption('consume', values, 'min-idle-ms', 60_000, 0);
  const count = intOption('consume', values, 'count', 10, 1, 10_000);
  const blockMs = intOption('consume', values, 'block-ms', 2000, 1, 60_000);
  const command = stringOption(values, 'exec');
  const once = flagOption(values, 'once');
  const streams = streamNames(stream, partitions);

  let redis: Redis;
  try {
    redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  } catch {
    // ioredis parses the URL in its constructor. Its error is not shown: it does not say which setting was
    // wrong, and a URL parser's message may quote the URL, password and all (Node 16's did).
    const name = urlOption === undefined ? 'REDIS_URL' : '--redis-url';
    throw new CliError(`ebdedup consume: ${name} "${redactUrl(redisUrl)}" is not a Redis URL`, EXIT_USAGE);
  }
  redis.on('error', () => {
    // Reported where a command fails.
  });
  const stop = () => redis.disconnect();
  ctx.signal?.addEventListener('abort', stop, { once: true });
  const stopped = () => ctx.signal?.aborted === true;

  // Entries whose handler failed and that no later attempt in this run handled: still pending.
  const failed = new Set<string>();
  const handle = async (streamName: string, entry: RawEntry): Promise<boolean> => {
    const line = entryLine(streamName, entry);
    const id = `${streamName} ${entry[0]}`;
    if (command === undefined) {
      println(ctx.stdout, line);
    } else {
      const code = await runHandler(command, line);
      if (code !== 0) {
        println(ctx.stderr, `consume: handler exited ${code} for ${id}: left pending for a retry`);
        failed.add(id);
        return false;
      }
    }
    await redis.xack(streamName, group, entry[0]);
    failed.delete(id);
    return true;
  };

  try {
    await redis.connect();
    for (const name of streams) {
      try {
        await redis.xgroup('CREATE', name, group, '0', 'MKSTREAM');
      } catch (error) {
        if (!errorMessage(error).includes('BUSYGROUP')) throw error;
      }
    }
    while (!stopped()) {
      let handled = 0;
      // Entries a dead (or failed) consumer left pending for longer than --min-idle-ms.
      for (const name of streams) {
        const [, claimed] = (await redis.xautoclaim(
          name,
          group,
          consumer,
          minIdleMs,
          '0-0',
          'COUNT',
          count,
        )) as [string, RawEntry[]];
        for (const entry of claimed) {
          if (stopped()) break;
          if (entry[1] === null) continue; // deleted by MAXLEN trimming while pending
          if (await handle(name, entry)) handled += 1;
        }
      }
      if (stopped()) break;
      const read = (await redis.xreadgroup(
        'GROUP',
        group,
        consumer,
        'COUNT',
        count,
        'BLOCK',
        once ? 1 : blockMs,
        'STREAMS',
        ...streams,
        ...streams.map(() => '>'),
      )) as [string, RawEntry[]][] | null;
      for (const [name, entries] of read ?? []) {
        for (const entry of entries) {
          if (await handle(name, entry)) handled += 1;
        }
      }
      if (once && handled === 0 && (read === null || read.length === 0)) break;
    }
    // A one-off run (a script, a cron job) must not report success when entries are left undone.
    if (once && failed.size > 0) {
      println(
        ctx.stderr,
        `consume: ${failed.size} entr${failed.size === 1 ? 'y' : 'ies'} left pending after the handler failed`,
      );
      return EXIT_FAILED;
    }
    return EXIT_OK;
  } catch (error) {
    if (stopped()) return EXIT_OK;
    println(ctx.stderr, `consume: ${redactUrl(redisUrl)}: ${errorMessage(error)}`);
    return 1;
  } finally {
    ctx.signal?.removeEventListener('abort', stop);
    redis.disconnect();
  }
}
