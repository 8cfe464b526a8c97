import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisServer } from '../helpers/redis-server.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { REPO_ROOT } from '../helpers/server-process.js';
import { chaosEvents, isPoison, republished, uidOf } from './events.js';
import { type FaultPlan, startFaults } from './faults.js';
import { SupervisedReceiver } from './receiver.js';
import { analyse, type LedgerEntry, type ScenarioReport } from './report.js';
import { EventBridgeSimulator } from './simulator.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * One chaos scenario end to end: a private redis-server (append-only, appendfsync always), optionally behind
 * the lossy TCP proxy, one or two receivers (`node dist/main.js`, supervised) on it, the EventBridge
 * simulator delivering unique Genesys events at a steady rate while the faults run, then: faults stopped and
 * healed, every retry drained, receivers stopped with SIGTERM (late sinks settle), and the ground truth
 * (the module sink's ledger file, or the Redis stream) compared with what the simulator was told.
 */

export type SizeName = 'short' | 'full';

export interface Size {
  events: number;
  ratePerSecond: number;
  /** The simulator's age limit (EventBridge: 24 h), after which an event goes to the dead-letter queue. */
  maxAgeMs: number;
}

export type Feature = 'shedding' | 'poison';

export interface ScenarioSpec {
  name: string;
  title: string;
  sink: 'module' | 'redis-stream';
  receivers?: 1 | 2;
  /** The receivers reach Redis through the slow, lossy proxy. */
  proxy?: { latencyMs: number; jitterMs: number; dropRate: number };
  /** CHAOS_SINK_* variables for the ledger sink. */
  sinkEnv?: Record<string, string>;
  /** Extra receiver variables (over the suite's short settings). */
  receiverEnv?: Record<string, string>;
  faults?: readonly FaultPlan[];
  /** `crash-window`: doubles allowed only when a crash came between the sink's success and completion. */
  doubles: 'none' | 'crash-window';
  /** Every Nth event is a poison event (its sink always fails): it must reach the DLQ with this status. */
  poison?: { every: number; status: number };
  /** Needs a receiver feature that may not be built yet. */
  requires?: Feature;
  sizes: Record<SizeName, Size>;
}

export const API_KEY = 'chaos-key-5d1e8a';
const LEDGER_SINK = fileURLToPath(new URL('./ledger-sink.mjs', import.meta.url));
const POISON_FIELD = 'chaosPoison';

/** The receiver settings of the suite: short lease and deadlines, so faults play out in seconds. */
export const RECEIVER_SETTINGS: Record<string, string> = {
  NODE_ENV: 'development',
  LOG_LEVEL: 'warn',
  API_KEYS: API_KEY,
  DEDUP_LEASE_SECONDS: '3',
  SINK_TIMEOUT_MS: '1000',
  REDIS_COMMAND_TIMEOUT_MS: '500',
  SHUTDOWN_TIMEOUT_MS: '15000',
};

/** The simulator's settings: EventBridge's, with the backoff scaled down (the age limit is the size's). */
export const SIMULATOR_SETTINGS = {
  timeoutMs: 5000,
  maxAttempts: 185,
  baseDelayMs: 30,
  maxDelayMs: 1000,
  maxRetryAfterMs: 5000,
  concurrency: 32,
  lateDuplicateRate: 0.1,
  lateDuplicateDelayMs: [100, 1500] as const,
  concurrentRate: 0.05,
  republishRate: 0.1,
  republishDelayMs: [0, 1500] as const,
};

/** A simulated API destination delivering to `receivers` at random, with the chaos key and re-publications. */
export function chaosSimulator(
  receivers: readonly { url: string }[],
  maxAgeMs: number,
  seed: number,
): EventBridgeSimulator {
  return new EventBridgeSimulator({
    ...SIMULATOR_SETTINGS,
    maxAgeMs,
    targets: receivers.map((receiver) => `${receiver.url}/events`),
    targetChoice: 'random',
    headers: { 'x-api-key': API_KEY },
    uidOf,
    republish: republished,
    seed,
  });
}

/** Whether the built receiver (dist/) has a feature the issue asks for. */
export function receiverSupports(feature: Feature): boolean {
  const schema = join(REPO_ROOT, 'dist/config/schema.js');
  if (!existsSync(schema)) return false;
  const text = readFileSync(schema, 'utf8');
  return feature === 'shedding'
    ? text.includes('SHED_MAX_EVENT_LOOP_DELAY_MS')
    : text.includes('MAX_ATTEMPTS');
}

function readLedgerFile(file: string): LedgerEntry[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LedgerEntry);
}

/** The redis-stream sink's ground truth: one `processed` entry per stream entry. */
async function readStream(redis: RedisServer, stream: string): Promise<LedgerEntry[]> {
  const client = redis.client();
  const entries: LedgerEntry[] = [];
  let start = '-';
  for (;;) {
    const page = await client.xrange(stream, start, '+', 'COUNT', 1000);
    for (const [id, fields] of page) {
      const field = (name: string) => {
        const index = fields.indexOf(name);
        return index >= 0 && index % 2 === 0 ? fields[index + 1] : undefined;
      };
      const event = JSON.parse(field('event') ?? '{}') as Record<string, unknown>;
      let uid: string | null = null;
      try {
        uid = uidOf(event);
      } catch {
        uid = null;
      }
      entries.push({
        type: 'processed',
        uid,
        key: field('key') ?? '',
        eventId: field('id') ?? null,
        at: Number(id.split('-')[0]),
      });
    }
    if (page.length < 1000) return entries;
    const last = page.at(-1)?.[0] as string;
    start = `(${last}`;
  }
}

export interface RunOptions {
  seed?: number;
  log?: (line: string) => void;
}

export async function runScenario(
  spec: ScenarioSpec,
  sizeName: SizeName,
  options: RunOptions = {},
): Promise<ScenarioReport> {
  const size = spec.sizes[sizeName];
  const seed = options.seed ?? 1;
  const random = seededRandom(seed * 7919 + 13);
  const log = options.log;
  const dir = mkdtempSync(join(tmpdir(), `ebdedup-chaos-${spec.name}-`));
  const ledgerFile = join(dir, 'ledger.jsonl');
  writeFileSync(ledgerFile, '');
  const started = Date.now();

  const redis = await RedisServer.start({ appendOnly: true });
  let proxy: TcpProxy | undefined;
  const receivers: SupervisedReceiver[] = [];
  let simulator: EventBridgeSimulator | undefined;
  try {
    if (spec.proxy) proxy = await TcpProxy.start({ targetPort: redis.port, ...spec.proxy, random });
    const env: Record<string, string> = {
      ...RECEIVER_SETTINGS,
      REDIS_URL: proxy?.url ?? redis.url,
      SINK: spec.sink,
      ...(spec.sink === 'module' ? { SINK_MODULE: LEDGER_SINK } : {}),
      CHAOS_LEDGER_FILE: ledgerFile,
      ...(spec.poison ? { CHAOS_POISON_FIELD: POISON_FIELD } : {}),
      ...(spec.sinkEnv ?? {}),
      ...(spec.receiverEnv ?? {}),
    };
    const count = spec.receivers ?? 1;
    for (let index = 0; index < count; index += 1) {
      receivers.push(await SupervisedReceiver.start(String.fromCharCode(65 + index), env));
    }

    const events = chaosEvents(
      size.events,
      spec.poison ? { poisonEvery: spec.poison.every, poisonField: POISON_FIELD } : {},
    );
    const poisonUids = new Set(events.filter((event) => isPoison(event, POISON_FIELD)).map(uidOf));
    simulator = chaosSimulator(receivers, size.maxAgeMs, seed);
    const sim = simulator;

    const stamped = log ? { log: (line: string) => log(`${sim.now()} ms ${line}`) } : {};
    const faults = startFaults(spec.faults ?? [], { redis, proxy, receivers, random, ...stamped });
    const publishMs = (size.events / size.ratePerSecond) * 1000;
    // A bound on the whole run: publishing, then at most one age limit of retries, then a margin.
    const safety = setTimeout(
      () => {
        log?.('safety bound reached: cancelling what is still pending');
        sim.cancel();
      },
      publishMs + size.maxAgeMs + 15_000,
    );
    try {
      await sim.run(events, size.ratePerSecond, () => void faults.stop());
    } finally {
      clearTimeout(safety);
      await faults.stop();
    }
    await Promise.all(receivers.map((receiver) => receiver.stop()));

    const ledger =
      spec.sink === 'redis-stream' ? await readStream(redis, 'ebdedup:events') : readLedgerFile(ledgerFile);
    const receiverLog: Record<string, number> = {};
    for (const receiver of receivers) {
      for (const [name, value] of Object.entries(receiver.notable)) {
        receiverLog[name] = (receiverLog[name] ?? 0) + value;
      }
    }
    const faultCounts = { ...faults.counts };
    if (proxy && proxy.stats.drops > 0) faultCounts['proxy drops'] = proxy.stats.drops;
    return analyse({
      scenario: spec.name,
      title: spec.title,
      sink: spec.sink,
      size: sizeName,
      seed,
      receivers: receivers.length,
      durationMs: Date.now() - started,
      publishedUids: events.map(uidOf),
      attempts: sim.attempts,
      deliveries: sim.deliveries,
      ledger,
      deaths: receivers.flatMap((receiver) => receiver.deaths),
      epoch: sim.epochMs,
      faults: faultCounts,
      receiverLog,
      expectations: {
        doubles: spec.doubles,
        ...(spec.poison ? { deadLetterUids: poisonUids, deadLetterStatus: spec.poison.status } : {}),
      },
    });
  } finally {
    await simulator?.close();
    await Promise.allSettled(receivers.map((receiver) => receiver.stop(2000)));
    await proxy?.close();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
