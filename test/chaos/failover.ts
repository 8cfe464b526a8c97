import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { keySlot } from '../helpers/crc16.js';
import { sleep, waitFor } from '../helpers/ports.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { infoFields, probeClient, type RedisProcess } from '../helpers/redis-process.js';
import { RedisSentinel } from '../helpers/redis-sentinel.js';
import { chaosEvents, uidOf } from './events.js';
import { chaosSimulator, RECEIVER_SETTINGS, type SizeName } from './harness.js';
import { SupervisedReceiver } from './receiver.js';
import {
  analyse,
  deadLetterCell,
  type LedgerEntry,
  latencyAndVerdictCells,
  markdownRows,
  type ScenarioReport,
} from './report.js';

/**
 * Failover figures (issue 8): the EventBridge simulator against two receivers (`node dist/main.js`) on a
 * replicated Redis with SINK=redis-stream, while the master holding the streams is SIGKILLed mid-load, its
 * replica is promoted (Redis Cluster's own failover, or Sentinel's), and the old master is started again and
 * rejoins as a replica (empty: no persistence, so it resyncs from the new master). The `freeze` variants
 * SIGSTOP the master instead and thaw it after the promotion, with its data and its clients' connections (a VM
 * pause, a long stall, a partition from the sentinels).
 *
 * Ground truth: after the run, every partition stream read on the master that serves it then. *Lost* = an
 * event acknowledged 2xx (processed or duplicate) that no stream holds; *doubled* = an event (by its Genesys
 * body id, shared by a re-publication under a new EventBridge id) that the streams hold more than once.
 * A consumer's view is measured too: a reader tails every stream on its master during the run (blocking
 * XREAD); an entry it read that is gone afterwards *vanished* with the dead master, and if the event is in
 * the streams again (a retry or re-publication appended it to the new master), a consumer sees it twice.
 *
 * REDIS_WAIT_REPLICAS=1: nothing acknowledged may be lost (asserted). =0: a failover may lose what the dead
 * master acknowledged before replicating it; the figure is reported, not asserted.
 */

export type TopologyKind = 'cluster' | 'sentinel';

export interface FailoverSize {
  events: number;
  ratePerSecond: number;
  /** The simulator's age limit, after which an event goes to the dead-letter queue. */
  maxAgeMs: number;
  /** How many times a master is killed (each time the master serving the most streams then). */
  failovers: number;
  /** When the first kill comes, ms after publishing starts; the next ones `gapMs` after the previous kill. */
  firstKillAtMs: number;
  gapMs: number;
  /** How long after the promotion the old master is started again. */
  rejoinAfterMs: number;
}

/** How the master fails: `kill` (SIGKILL, then started again empty) or `freeze` (SIGSTOP, then SIGCONT). */
export type FailoverFault = 'kill' | 'freeze';

export interface FailoverSpec {
  name: string;
  title: string;
  topology: TopologyKind;
  /** Default `kill`. */
  fault?: FailoverFault;
  waitReplicas: 0 | 1;
  /** SINK_STREAM_PARTITIONS. */
  partitions: number;
  sizes: Record<SizeName, FailoverSize>;
}

/** REDIS_WAIT_TIMEOUT_MS of these runs. */
export const FAILOVER_WAIT_TIMEOUT_MS = 200;

/** The receiver settings of the failover runs, for the results (topology and WAIT are per scenario). */
export const FAILOVER_RECEIVER_SETTINGS: Record<string, string> = {
  SINK: 'redis-stream',
  DEDUP_LEASE_SECONDS: RECEIVER_SETTINGS.DEDUP_LEASE_SECONDS as string,
  SINK_TIMEOUT_MS: RECEIVER_SETTINGS.SINK_TIMEOUT_MS as string,
  REDIS_COMMAND_TIMEOUT_MS: RECEIVER_SETTINGS.REDIS_COMMAND_TIMEOUT_MS as string,
  REDIS_WAIT_TIMEOUT_MS: String(FAILOVER_WAIT_TIMEOUT_MS),
};

/** What the failover table's columns mean, for the results file. */
export const FAILOVER_SETUP = [
  `Two receivers (\`node dist/main.js\`), ${Object.entries(FAILOVER_RECEIVER_SETTINGS)
    .map(([name, value]) => `\`${name}=${value}\``)
    .join(', ')}; the simulator delivers as EventBridge does (at least once, retries, re-publications).`,
  'Redis without persistence: a restarted node comes back empty and resyncs.',
  'Cluster: 3 masters + 3 replicas, `cluster-node-timeout 1000`, `SINK_STREAM_PARTITIONS=6`; each time, the master',
  'serving the most partition streams fails. Sentinel: 1 master + 2 replicas, 3 sentinels (quorum 2,',
  '`down-after-milliseconds 1000`, `failover-timeout 5000`), one stream. SIGKILL: the old master is started again',
  'after the promotion; SIGSTOP: it is frozen until the promotion, then thawed with its data and its clients.',
  'Either way it must end up a replica of the new master.',
  '',
  '*lost*: acknowledged 2xx, absent from every stream read on the current masters after the run. *doubled in',
  'streams*: an event (Genesys body id) held more than once. *consumer view*: a reader tailing every stream on its',
  "master (blocking XREAD, through a client like the receiver's) read entries that are gone after the failover",
  '(*vanished*); *re-appended*: of those, the events a retry or re-publication appended again, which such a consumer',
  'sees twice; *skipped*: entries it never read, having read past their ids on a replaced master. *503*: attempts',
  'answered 503 (master unreachable, or WAIT fell short). Latency: *attempt* = one HTTP attempt, *ack* = first',
  "attempt to the 2xx, EventBridge's retries included.",
].join('\n');

/** What a topology step may take at most (promotion, rejoin, replicas in sync). */
const STEP_TIMEOUT_MS = 25_000;

/** One master killed: what it served, who took over, when (ms since the simulator's start). */
export interface FailoverCycle {
  fault: 'SIGKILL' | 'SIGSTOP';
  victim: string;
  /** The streams the victim served when it was killed. */
  victimStreams: string[];
  /** Its replicas at the kill. */
  replicas: string[];
  promoted?: string;
  /** The node promoted was one of the victim's replicas (it must be). */
  promotedWasReplica: boolean;
  /** The old master is back, as a replica of the new one, its link up. */
  rejoinedAsReplica: boolean;
  killAtMs: number;
  promotedAtMs?: number;
  /** When the old master was started again (or thawed). */
  backAtMs?: number;
  rejoinedAtMs?: number;
}

export interface ConsumerView {
  /** Stream entries the tailing reader read during the run. */
  seen: number;
  /** Of those, entries absent from the streams after the run: they died with a master. */
  vanished: number;
  /** Vanished entries whose event is in the streams again: a consumer would have seen it twice. */
  reappended: number;
  /**
   * Entries in the streams after the run that the reader never read: it had read past their ids on a master
   * that was replaced meanwhile, so a reader that tracks its position by entry id skips them (0 unless a
   * replaced master kept taking writes).
   */
  missed: number;
  /** Reads that failed (the reader's master was down): retried. */
  readErrors: number;
}

export interface FailoverReport extends ScenarioReport {
  topology: TopologyKind;
  waitReplicas: number;
  partitions: number;
  failovers: FailoverCycle[];
  failoversPlanned: number;
  failoverError?: string;
  /** Attempts answered 503 (store_unavailable: a master down, or WAIT fell short). */
  status503: number;
  streams: { stream: string; master: string; entries: number }[];
  consumerView: ConsumerView;
  /** The receivers' error lines (in the log tail each keeps) by message, numbers masked, most frequent first. */
  receiverErrors: { message: string; count: number }[];
}

// ---------------------------------------------------------------------------------------------------------
// Topologies

export interface Topology {
  readonly kind: TopologyKind;
  /** How the receiver finds Redis. */
  receiverEnv(): Record<string, string>;
  /** The node serving `stream` now. */
  masterOf(stream: string): Promise<RedisProcess>;
  /** The master to kill (the one serving the most of `streams`) and its replicas. */
  chooseVictim(streams: readonly string[]): Promise<{ victim: RedisProcess; replicas: RedisProcess[] }>;
  /** Waits until a replica of `victim` is master, and returns it. */
  waitPromoted(victim: RedisProcess, replicas: readonly RedisProcess[]): Promise<RedisProcess>;
  /** Waits until `victim` (started again, or thawed) is a replica of the current master, its link up. */
  waitRejoined(victim: RedisProcess): Promise<void>;
  /** Waits until every master's replicas acknowledge writes (WAIT succeeds), so runs start alike. */
  ensureReplicated(): Promise<void>;
  /** A client for the tailing reader. */
  client(): Redis | Cluster;
  close(): Promise<void>;
}

function hostPort(item: string): { host: string; port: number } {
  const at = item.lastIndexOf(':');
  return { host: item.slice(0, at), port: Number(item.slice(at + 1)) };
}

class ClusterTopology implements Topology {
  readonly kind = 'cluster' as const;

  constructor(readonly cluster: RedisCluster) {}

  static async start(): Promise<ClusterTopology> {
    // The helper's own cluster-node-timeout (1000 ms): a silent master is failed over in about 2 s.
    return new ClusterTopology(await RedisCluster.start());
  }

  receiverEnv(): Record<string, string> {
    return { REDIS_CLUSTER_NODES: this.cluster.seeds.join(',') };
  }

  masterOf(stream: string): Promise<RedisProcess> {
    return this.cluster.masterOf(stream);
  }

  async chooseVictim(streams: readonly string[]) {
    const served = new Map<RedisProcess, number>();
    for (const stream of streams) {
      const master = await this.masterOf(stream);
      served.set(master, (served.get(master) ?? 0) + 1);
    }
    const [victim] = [...served.entries()].sort((a, b) => b[1] - a[1])[0] ?? [];
    if (!victim) throw new Error('no master serves the streams');
    return { victim, replicas: await this.cluster.replicasOf(victim) };
  }

  async waitPromoted(_victim: RedisProcess, replicas: readonly RedisProcess[]): Promise<RedisProcess> {
    const [replica] = replicas;
    if (!replica) throw new Error('the failed master had no replica');
    // Not the helper's waitPromoted: it asks every running node, and a frozen one never answers.
    await waitFor(
      async () => {
        if ((await replica.info('replication')).get('role') !== 'master') return false;
        const info = infoFields(String(await replica.command('CLUSTER', 'INFO')));
        return info.get('cluster_state') === 'ok';
      },
      STEP_TIMEOUT_MS,
      `${replica.address} to be promoted`,
    );
    return replica;
  }

  async waitRejoined(victim: RedisProcess): Promise<void> {
    // A restarted master reads its nodes.conf, a thawed one hears the cluster bus: its slots have a newer owner,
    // so it turns into that owner's replica.
    await waitFor(
      async () => (await victim.replicatingFrom()) !== undefined,
      STEP_TIMEOUT_MS,
      `${victim.address} to rejoin as a replica`,
    );
    await this.cluster.waitHealthy(STEP_TIMEOUT_MS);
  }

  async ensureReplicated(): Promise<void> {
    await this.cluster.waitHealthy(STEP_TIMEOUT_MS);
    for (const master of await this.cluster.masters()) {
      const key = await probeKeyOn(master);
      await waitFor(
        async () => (await master.writeAndWait(1, 100, key)) >= 1,
        STEP_TIMEOUT_MS,
        `a replica of ${master.address} to acknowledge writes`,
      );
    }
  }

  client(): Cluster {
    return new Cluster(this.cluster.seeds.map(hostPort), {
      enableOfflineQueue: false,
      clusterRetryStrategy: () => 200,
      redisOptions: { maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 2000 },
    });
  }

  close(): Promise<void> {
    return this.cluster.close();
  }
}

/** A key that `master` serves (one of its slots), for a WAIT probe sent to it directly. */
async function probeKeyOn(master: RedisProcess): Promise<string> {
  const ranges = (await master.command('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const own = ranges.filter(([, , [, port]]) => port === master.port);
  for (let index = 0; index < 100_000; index += 1) {
    const key = `failover-probe{${index}}`;
    const slot = keySlot(key);
    if (own.some(([from, to]) => slot >= from && slot <= to)) return key;
  }
  throw new Error(`no probe key found for ${master.address}`);
}

class SentinelTopology implements Topology {
  readonly kind = 'sentinel' as const;

  constructor(readonly sentinel: RedisSentinel) {}

  static async start(): Promise<SentinelTopology> {
    // The helper's settings: down-after-milliseconds 1000, failover-timeout 5000, quorum 2 of 3.
    return new SentinelTopology(await RedisSentinel.start());
  }

  receiverEnv(): Record<string, string> {
    return { REDIS_SENTINELS: this.sentinel.seeds.join(','), REDIS_SENTINEL_NAME: RedisSentinel.masterName };
  }

  masterOf(): Promise<RedisProcess> {
    return this.sentinel.currentMaster();
  }

  async chooseVictim() {
    const victim = await this.sentinel.currentMaster();
    const replicas: RedisProcess[] = [];
    for (const node of this.sentinel.data.nodes) {
      if (node === victim || !node.running) continue;
      const info = await node.info('replication');
      if (info.get('role') === 'slave' && info.get('master_port') === String(victim.port))
        replicas.push(node);
    }
    return { victim, replicas };
  }

  waitPromoted(victim: RedisProcess): Promise<RedisProcess> {
    return this.sentinel.waitNewMaster(victim, STEP_TIMEOUT_MS);
  }

  async waitRejoined(victim: RedisProcess): Promise<void> {
    // Started as it was (a master, empty) or thawed (a master still, with its data): the sentinels see it back
    // and, some seconds later, turn it into a replica of the master they name then.
    await waitFor(
      async () => (await victim.replicatingFrom()) === (await this.sentinel.currentMaster()).port,
      STEP_TIMEOUT_MS,
      `${victim.address} to rejoin as a replica of the master the sentinels name`,
    );
  }

  async ensureReplicated(): Promise<void> {
    const master = await this.sentinel.currentMaster();
    const replicas = this.sentinel.data.nodes.filter((node) => node !== master && node.running).length;
    await this.sentinel.data.waitInSync(master, replicas, STEP_TIMEOUT_MS);
  }

  client(): Redis {
    return new Redis({
      sentinels: this.sentinel.seeds.map(hostPort),
      name: RedisSentinel.masterName,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
      commandTimeout: 2000,
      retryStrategy: () => 200,
    });
  }

  close(): Promise<void> {
    return this.sentinel.close();
  }
}

export async function startTopology(kind: TopologyKind): Promise<Topology> {
  return kind === 'cluster' ? ClusterTopology.start() : SentinelTopology.start();
}

// ---------------------------------------------------------------------------------------------------------
// Streams: the names the sink writes (the contract's), the final read, the tailing reader

/** SINK_STREAM_PARTITIONS=1: `stream` itself; N > 1: `stream{p0}` … `stream{pN-1}` (CONTRACT.md). */
export function streamNames(stream: string, partitions: number): string[] {
  if (partitions <= 1) return [stream];
  return Array.from({ length: partitions }, (_, index) => `${stream}{p${index}}`);
}

interface StreamEntry {
  id: string;
  uid: string | null;
  key: string;
  eventId: string | null;
}

function entryOf(id: string, fields: readonly string[]): StreamEntry {
  const field = (name: string) => {
    for (let index = 0; index + 1 < fields.length; index += 2) {
      if (fields[index] === name) return fields[index + 1];
    }
    return undefined;
  };
  let uid: string | null = null;
  try {
    uid = uidOf(JSON.parse(field('event') ?? '{}') as Record<string, unknown>);
  } catch {
    uid = null;
  }
  return { id, uid, key: field('key') ?? '', eventId: field('id') ?? null };
}

/** Every entry of `stream`, read on the node `port` directly (it must serve the stream). */
async function readStreamOn(port: number, stream: string): Promise<StreamEntry[]> {
  const client = probeClient(port, 5000);
  try {
    await client.connect();
    const entries: StreamEntry[] = [];
    let start = '-';
    for (let page = 0; page < 10_000; page += 1) {
      const rows = await client.xrange(stream, start, '+', 'COUNT', 1000);
      for (const [id, fields] of rows) entries.push(entryOf(id, fields));
      if (rows.length < 1000) return entries;
      start = `(${rows.at(-1)?.[0]}`;
    }
    throw new Error(`${stream} has more than 10 million entries`);
  } finally {
    client.disconnect();
  }
}

/**
 * A consumer's view: one blocking XREAD loop per stream, on the master that serves it (through the cluster or
 * sentinel client, so it follows a failover), recording every entry it reads.
 */
class StreamTail {
  readonly seen = new Map<string, Map<string, StreamEntry>>();
  readErrors = 0;
  private stopped = false;
  private readonly clients: (Redis | Cluster)[] = [];
  private readonly loops: Promise<void>[];

  constructor(streams: readonly string[], makeClient: () => Redis | Cluster) {
    this.loops = streams.map((stream) => {
      const client = makeClient();
      client.on('error', () => {});
      this.clients.push(client);
      const seen = new Map<string, StreamEntry>();
      this.seen.set(stream, seen);
      return this.follow(client, stream, seen);
    });
  }

  private async follow(client: Redis | Cluster, stream: string, seen: Map<string, StreamEntry>) {
    let last = '0-0';
    // Bounded: each turn blocks at most 300 ms (command timeout 2 s); stop() ends it.
    while (!this.stopped) {
      try {
        const reply = (await client.xread('COUNT', 1000, 'BLOCK', 300, 'STREAMS', stream, last)) as
          | [string, [string, string[]][]][]
          | null;
        for (const [, rows] of reply ?? []) {
          for (const [id, fields] of rows) {
            seen.set(id, entryOf(id, fields));
            last = id;
          }
        }
      } catch {
        this.readErrors += 1;
        await sleep(100);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.loops);
    for (const client of this.clients) client.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The run

/** Things to undo, last first, whatever happened (also from a test's onTestFinished after a time-out). */
export class Cleanup {
  private readonly tasks: (() => unknown)[] = [];

  add(task: () => unknown): void {
    this.tasks.push(task);
  }

  async run(): Promise<void> {
    for (let task = this.tasks.pop(); task; task = this.tasks.pop()) {
      try {
        await task();
      } catch {
        // best effort: the next one still runs
      }
    }
  }
}

export interface FailoverRunOptions {
  seed?: number;
  log?: (line: string) => void;
  /** A topology to run on (left running); otherwise the run starts its own and closes it. */
  topology?: Topology;
  /** Where the run registers what it starts; run by the run itself at the end, and idempotent. */
  cleanup?: Cleanup;
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Fails a master, waits for the promotion and brings the old master back, `size.failovers` times, on the
 * schedule; never throws (the error is returned), and leaves no node frozen or down.
 */
async function driveFailovers(
  topology: Topology,
  streams: readonly string[],
  fault: FailoverFault,
  size: FailoverSize,
  now: () => number,
  cycles: FailoverCycle[],
  log: ((line: string) => void) | undefined,
): Promise<string | undefined> {
  let failed: RedisProcess | undefined;
  try {
    for (let index = 0; index < size.failovers; index += 1) {
      const due = size.firstKillAtMs + index * size.gapMs;
      if (due > now()) await sleep(due - now());
      const { victim, replicas } = await topology.chooseVictim(streams);
      const victimStreams: string[] = [];
      for (const stream of streams) {
        if ((await topology.masterOf(stream)) === victim) victimStreams.push(stream);
      }
      const cycle: FailoverCycle = {
        fault: fault === 'kill' ? 'SIGKILL' : 'SIGSTOP',
        victim: victim.address,
        victimStreams,
        replicas: replicas.map((node) => node.address),
        promotedWasReplica: false,
        rejoinedAsReplica: false,
        killAtMs: now(),
      };
      cycles.push(cycle);
      const step = (line: string) => log?.(`failover ${index + 1}: ${line}`);
      step(
        `${cycle.fault} master ${victim.address} (${victimStreams.length} stream(s), replicas ${cycle.replicas.join(', ')})`,
      );
      failed = victim;
      if (fault === 'kill') await victim.kill();
      else victim.freeze();
      const promoted = await topology.waitPromoted(victim, replicas);
      cycle.promotedAtMs = now();
      cycle.promoted = promoted.address;
      cycle.promotedWasReplica = replicas.includes(promoted);
      step(`${promoted.address} promoted after ${cycle.promotedAtMs - cycle.killAtMs} ms`);
      await sleep(size.rejoinAfterMs);
      if (fault === 'kill') await victim.startProcess();
      else victim.thaw();
      failed = undefined;
      cycle.backAtMs = now();
      step(`${victim.address} ${fault === 'kill' ? 'started again (empty)' : 'thawed'}`);
      await topology.waitRejoined(victim);
      cycle.rejoinedAtMs = now();
      cycle.rejoinedAsReplica = true;
      step(`${victim.address} rejoined as a replica after ${cycle.rejoinedAtMs - cycle.killAtMs} ms`);
    }
    return undefined;
  } catch (error) {
    log?.(`failover failed: ${errorText(error)}`);
    // Heal what can be healed, so the streams can still be read.
    if (failed) {
      failed.thaw();
      if (!failed.running) await failed.startProcess().catch(() => undefined);
    }
    return errorText(error);
  }
}

export async function runFailover(
  spec: FailoverSpec,
  sizeName: SizeName,
  options: FailoverRunOptions = {},
): Promise<FailoverReport> {
  const size = spec.sizes[sizeName];
  const seed = options.seed ?? 1;
  const log = options.log;
  const cleanup = options.cleanup ?? new Cleanup();
  const started = Date.now();
  try {
    let topology = options.topology;
    if (!topology) {
      const own = await startTopology(spec.topology);
      cleanup.add(() => own.close());
      topology = own;
    }
    if (topology.kind !== spec.topology) throw new Error(`${spec.name} needs a ${spec.topology} topology`);
    // Each run its own streams and keys, so runs can share a topology.
    const tag = randomUUID().slice(0, 8);
    const streamBase = `ebdedup:failover:${spec.name}:${tag}`;
    const streams = streamNames(streamBase, spec.partitions);
    await topology.ensureReplicated();

    const env: Record<string, string> = {
      ...RECEIVER_SETTINGS,
      ...topology.receiverEnv(),
      SINK: 'redis-stream',
      SINK_STREAM: streamBase,
      SINK_STREAM_PARTITIONS: String(spec.partitions),
      DEDUP_PREFIX: `ebdedup:failover:${tag}:`,
      REDIS_WAIT_REPLICAS: String(spec.waitReplicas),
      REDIS_WAIT_TIMEOUT_MS: String(FAILOVER_WAIT_TIMEOUT_MS),
    };
    const receivers: SupervisedReceiver[] = [];
    for (const name of ['A', 'B']) {
      const receiver = await SupervisedReceiver.start(name, env);
      cleanup.add(() => receiver.stop(2000));
      receivers.push(receiver);
    }
    const tail = new StreamTail(streams, () => (topology as Topology).client());
    cleanup.add(() => tail.stop());

    const events = chaosEvents(size.events);
    const simulator = chaosSimulator(receivers, size.maxAgeMs, seed);
    cleanup.add(() => simulator.close());
    const stamped = log ? (line: string) => log(`${simulator.now()} ms ${line}`) : undefined;

    const publishMs = (size.events / size.ratePerSecond) * 1000;
    const cycles: FailoverCycle[] = [];
    const safety = setTimeout(
      () => {
        stamped?.('safety bound reached: cancelling what is still pending');
        simulator.cancel();
      },
      Math.max(publishMs, size.firstKillAtMs + size.failovers * (size.gapMs + STEP_TIMEOUT_MS)) +
        size.maxAgeMs +
        15_000,
    );
    let failoverError: string | undefined;
    try {
      const failovers = driveFailovers(
        topology,
        streams,
        spec.fault ?? 'kill',
        size,
        () => simulator.now(),
        cycles,
        stamped,
      );
      await simulator.run(events, size.ratePerSecond);
      failoverError = await failovers;
      // Deliveries still retrying when the last rejoin came have ended too.
      await simulator.drain();
    } finally {
      clearTimeout(safety);
    }
    await tail.stop();
    await Promise.all(receivers.map((receiver) => receiver.stop()));

    // The ground truth: every stream, on the master that serves it now.
    const final: StreamEntry[] = [];
    const streamRows: FailoverReport['streams'] = [];
    /** Stream → entry id → event: two masters may give different entries one id. */
    const finalIds = new Map<string, Map<string, string | null>>();
    for (const stream of streams) {
      const master = await topology.masterOf(stream);
      const entries = await readStreamOn(master.port, stream);
      final.push(...entries);
      finalIds.set(stream, new Map(entries.map((entry) => [entry.id, entry.uid])));
      streamRows.push({ stream, master: master.address, entries: entries.length });
    }
    const ledger: LedgerEntry[] = final.map((entry) => ({
      type: 'processed',
      uid: entry.uid,
      key: entry.key,
      eventId: entry.eventId,
      at: Number(entry.id.split('-')[0]),
    }));

    // The consumer's view.
    const finalUids = new Set(final.map((entry) => entry.uid));
    let seen = 0;
    let vanished = 0;
    let reappended = 0;
    const seenIds = new Set<string>();
    for (const [stream, entries] of tail.seen) {
      const kept = finalIds.get(stream) ?? new Map<string, string | null>();
      for (const entry of entries.values()) {
        seen += 1;
        if (kept.get(entry.id) === entry.uid) {
          seenIds.add(`${stream}/${entry.id}`);
          continue;
        }
        vanished += 1;
        if (finalUids.has(entry.uid)) reappended += 1;
      }
    }
    let missed = 0;
    for (const [stream, ids] of finalIds) {
      for (const id of ids.keys()) if (!seenIds.has(`${stream}/${id}`)) missed += 1;
    }

    const receiverLog: Record<string, number> = {};
    for (const receiver of receivers) {
      for (const [name, value] of Object.entries(receiver.notable)) {
        receiverLog[name] = (receiverLog[name] ?? 0) + value;
      }
    }
    const base = analyse({
      scenario: spec.name,
      title: spec.title,
      sink: 'redis-stream',
      size: sizeName,
      seed,
      receivers: receivers.length,
      durationMs: Date.now() - started,
      publishedUids: events.map(uidOf),
      attempts: simulator.attempts,
      deliveries: simulator.deliveries,
      ledger,
      deaths: receivers.flatMap((receiver) => receiver.deaths),
      epoch: simulator.epochMs,
      faults: { [`master ${spec.fault === 'freeze' ? 'SIGSTOP' : 'SIGKILL'}`]: cycles.length },
      receiverLog,
      expectations: { doubles: 'none', lost: spec.waitReplicas > 0 ? 'none' : 'reported' },
    });
    const report: FailoverReport = {
      ...base,
      topology: spec.topology,
      waitReplicas: spec.waitReplicas,
      partitions: spec.partitions,
      failovers: cycles,
      failoversPlanned: size.failovers,
      ...(failoverError ? { failoverError } : {}),
      status503: simulator.attempts.filter((attempt) => attempt.status === 503).length,
      streams: streamRows,
      consumerView: { seen, vanished, reappended, missed, readErrors: tail.readErrors },
      receiverErrors: errorSummary(receivers),
    };
    report.violations.push(...failoverViolations(report));
    return report;
  } finally {
    await cleanup.run();
  }
}

/** The receivers' error-level log lines (pino JSON, the tail each keeps), by message with numbers masked. */
function errorSummary(receivers: readonly SupervisedReceiver[], top = 8): FailoverReport['receiverErrors'] {
  const counts = new Map<string, number>();
  for (const receiver of receivers) {
    for (const line of receiver.output.split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry: { level?: number; msg?: string; err?: { message?: string } };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if ((entry.level ?? 0) < 50) continue;
      const message = `${entry.msg ?? ''}: ${entry.err?.message ?? ''}`.replace(/\d+/g, '#').slice(0, 400);
      counts.set(message, (counts.get(message) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([message, count]) => ({ message, count }));
}

function failoverViolations(report: FailoverReport): string[] {
  const found: string[] = [];
  if (report.failoverError) found.push(`failover did not complete: ${report.failoverError}`);
  const done = report.failovers.filter((cycle) => cycle.promotedWasReplica && cycle.rejoinedAsReplica);
  if (done.length !== report.failoversPlanned) {
    found.push(`${done.length} of ${report.failoversPlanned} failover(s) completed (promoted and rejoined)`);
  }
  if (report.failovers.some((cycle) => cycle.victimStreams.length === 0)) {
    found.push('a killed master served none of the streams');
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------
// The scenarios and their table

const SHORT: FailoverSize = {
  events: 200,
  ratePerSecond: 40,
  // Longer than the other short scenarios' 30 s: after a Cluster failover the receiver's WAIT connections can
  // keep answering 503 for up to ~30 s (see docs/scaling-out.md, Failover figures), which must not end in the DLQ.
  maxAgeMs: 60_000,
  failovers: 1,
  firstKillAtMs: 1500,
  gapMs: 0,
  rejoinAfterMs: 500,
};

const CLUSTER_SIZES: Record<SizeName, FailoverSize> = {
  short: SHORT,
  full: {
    events: 1500,
    ratePerSecond: 60,
    maxAgeMs: 60_000,
    failovers: 3,
    firstKillAtMs: 4000,
    gapMs: 7000,
    rejoinAfterMs: 1000,
  },
};

/** Sentinel turns a returning old master into a replica only 8–10 s after it is back: longer cycles. */
const SENTINEL_SIZES: Record<SizeName, FailoverSize> = {
  short: SHORT,
  full: {
    events: 2400,
    ratePerSecond: 60,
    maxAgeMs: 60_000,
    failovers: 3,
    firstKillAtMs: 4000,
    gapMs: 14_000,
    rejoinAfterMs: 1000,
  },
};

const SAME_WITH_WAIT = 'the same with REDIS_WAIT_REPLICAS=1 (REDIS_WAIT_TIMEOUT_MS=200)';

export const FAILOVER_SCENARIOS: readonly FailoverSpec[] = [
  {
    name: 'failover-cluster-wait0',
    title:
      'Redis Cluster, redis-stream ×6 partitions, REDIS_WAIT_REPLICAS=0: the master serving the most streams SIGKILLed mid-load, its replica promoted, the old master started again (empty) and back as a replica',
    topology: 'cluster',
    waitReplicas: 0,
    partitions: 6,
    sizes: CLUSTER_SIZES,
  },
  {
    name: 'failover-cluster-wait1',
    title: SAME_WITH_WAIT,
    topology: 'cluster',
    waitReplicas: 1,
    partitions: 6,
    sizes: CLUSTER_SIZES,
  },
  {
    name: 'failover-sentinel-wait0',
    title:
      'Sentinel (1 master, 2 replicas, 3 sentinels), redis-stream ×1, REDIS_WAIT_REPLICAS=0: the master SIGKILLed mid-load, a replica promoted, the old master started again (empty) and turned into a replica by the sentinels',
    topology: 'sentinel',
    waitReplicas: 0,
    partitions: 1,
    sizes: SENTINEL_SIZES,
  },
  {
    name: 'failover-sentinel-wait1',
    title: SAME_WITH_WAIT,
    topology: 'sentinel',
    waitReplicas: 1,
    partitions: 1,
    sizes: SENTINEL_SIZES,
  },
  {
    name: 'failover-cluster-freeze-wait0',
    title:
      'Redis Cluster as above, but the master frozen (SIGSTOP) until its replica is promoted, then thawed with its data and its clients: it hears the cluster bus and turns into a replica',
    topology: 'cluster',
    fault: 'freeze',
    waitReplicas: 0,
    partitions: 6,
    sizes: CLUSTER_SIZES,
  },
  {
    name: 'failover-cluster-freeze-wait1',
    title: SAME_WITH_WAIT,
    topology: 'cluster',
    fault: 'freeze',
    waitReplicas: 1,
    partitions: 6,
    sizes: CLUSTER_SIZES,
  },
  {
    name: 'failover-sentinel-freeze-wait0',
    title:
      'Sentinel as above, but the master frozen (SIGSTOP) until a replica is promoted, then thawed: a second master, with the receivers still connected, until the sentinels demote it 8–10 s later',
    topology: 'sentinel',
    fault: 'freeze',
    waitReplicas: 0,
    partitions: 1,
    sizes: SENTINEL_SIZES,
  },
  {
    name: 'failover-sentinel-freeze-wait1',
    title: SAME_WITH_WAIT,
    topology: 'sentinel',
    fault: 'freeze',
    waitReplicas: 1,
    partitions: 1,
    sizes: SENTINEL_SIZES,
  },
];

export function failoverScenario(name: string): FailoverSpec {
  const found = FAILOVER_SCENARIOS.find((spec) => spec.name === name);
  if (!found) throw new Error(`no failover scenario '${name}'`);
  return found;
}

const seconds = (ms: number | undefined) => (ms === undefined ? '?' : (ms / 1000).toFixed(1));

function failoversCell(report: FailoverReport): string {
  const spans = report.failovers.map(
    (cycle) =>
      `${seconds(cycle.killAtMs)} s: ${cycle.fault}, ${cycle.victimStreams.length}/${report.partitions} stream(s); promoted +${seconds(
        cycle.promotedAtMs === undefined ? undefined : cycle.promotedAtMs - cycle.killAtMs,
      )} s, rejoined +${seconds(cycle.rejoinedAtMs === undefined ? undefined : cycle.rejoinedAtMs - cycle.killAtMs)} s`,
  );
  return spans.length > 0 ? spans.join('; ') : '–';
}

/** The Markdown table of failover runs: one row per scenario. */
export function failoverTable(reports: readonly FailoverReport[]): string {
  return markdownRows(
    '| scenario | topology | WAIT | masters failed (at: fault, streams served; promoted / rejoined after) | deliveries (attempts) | events | lost | doubled in streams | consumer view: vanished / re-appended / skipped | 503 | DLQ | attempt p50 / p99 ms | ack p50 / p99 / max ms | verdict |',
    reports.map((report) => [
      report.scenario,
      report.topology === 'cluster' ? `Cluster, ${report.partitions} partitions` : 'Sentinel, 1 stream',
      report.waitReplicas,
      failoversCell(report),
      `${report.deliveries} (${report.attempts})`,
      report.events,
      report.lost,
      report.doubled,
      `${report.consumerView.vanished} / ${report.consumerView.reappended} / ${report.consumerView.missed}`,
      report.status503,
      deadLetterCell(report),
      ...latencyAndVerdictCells(report),
    ]),
  );
}
