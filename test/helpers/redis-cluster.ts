import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from './ports.js';
import { probeClient, serverArgs } from './redis-server.js';

const run = promisify(execFile);

/** Every redis-server this module starts, so a crashed test file still leaves none behind. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** One short-lived connection for a single command; never retries, never queues. */
export async function redisCommand(
  port: number,
  command: string,
  ...args: (string | number)[]
): Promise<unknown> {
  const probe = probeClient(port);
  try {
    await probe.connect();
    return await probe.call(command, ...args);
  } finally {
    probe.disconnect();
  }
}

/** `INFO`-style text (`key:value` lines) as a map. */
export function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/**
 * One redis-server process on a free loopback port with the given extra arguments, in its own temporary
 * directory (which survives a restart, so a cluster node keeps its nodes.conf). Kill, freeze, restart.
 */
export class RedisProcess {
  private child: ChildProcess | undefined;

  constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly extraArgs: readonly string[],
    /** The whole argument list instead of the server defaults (Sentinel). */
    private readonly ownArgs?: readonly string[],
  ) {
    mkdirSync(dir, { recursive: true });
  }

  static async start(extraArgs: readonly string[] = [], dir?: string): Promise<RedisProcess> {
    const port = await freePort();
    const node = new RedisProcess(port, dir ?? mkdtempSync(join(tmpdir(), 'ebdedup-node-')), extraArgs);
    await node.startProcess();
    return node;
  }

  /**
   * A Sentinel: `redis-server sentinel.conf --sentinel` with `config` (the `sentinel …` lines) written once
   * into its directory, which Sentinel then rewrites as it learns the replicas, its peers and failovers.
   */
  static async startSentinel(config: readonly string[], dir?: string): Promise<RedisProcess> {
    const port = await freePort();
    const home = dir ?? mkdtempSync(join(tmpdir(), 'ebdedup-sentinel-'));
    mkdirSync(home, { recursive: true });
    const file = join(home, 'sentinel.conf');
    const lines = [
      `port ${port}`,
      'bind 127.0.0.1',
      'daemonize no',
      `dir ${home}`,
      `logfile ${join(home, 'sentinel.log')}`,
      ...config,
    ];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const node = new RedisProcess(port, home, [], [file, '--sentinel']);
    await node.startProcess();
    return node;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async startProcess(): Promise<void> {
    const args = this.ownArgs ?? [
      ...serverArgs(this.port, this.dir, false),
      '--logfile',
      join(this.dir, 'redis.log'),
      // A replica's full sync starts at once instead of after the default 5 s (diskless) delay.
      '--repl-diskless-sync-delay',
      '0',
      ...this.extraArgs,
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    live.add(child);
    child.once('exit', () => live.delete(child));
    this.child = child;
    await waitFor(
      async () => (await redisCommand(this.port, 'PING')) === 'PONG',
      10_000,
      `redis on ${this.port}`,
    );
  }

  /** SIGKILL: nothing is flushed, the peers see the node vanish. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.startProcess();
  }

  freeze(): void {
    if (this.running) this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    if (this.running) this.child?.kill('SIGCONT');
  }

  command(command: string, ...args: (string | number)[]): Promise<unknown> {
    return redisCommand(this.port, command, ...args);
  }

  /** Writes a short-lived probe key and returns how many replicas WAIT saw acknowledge it. */
  async writeAndWait(replicas: number, timeoutMs: number): Promise<number> {
    const probe = probeClient(this.port, timeoutMs + 2000);
    try {
      await probe.connect();
      await probe.set('ebdedup-test:sync-probe', String(Date.now()), 'PX', 1000);
      return await probe.wait(replicas, timeoutMs);
    } finally {
      probe.disconnect();
    }
  }

  async info(section: string): Promise<Map<string, string>> {
    return infoFields(String(await this.command('INFO', section)));
  }

  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface RedisClusterOptions {
  /** cluster-node-timeout: how long a silent master takes to be failed over. */
  nodeTimeoutMs?: number;
}

/**
 * A Redis Cluster of 3 masters and 3 replicas on loopback, made with `redis-cli --cluster create`, for tests
 * that need real slot routing, MOVED redirections and replica promotion.
 */
export class RedisCluster {
  private readonly root = mkdtempSync(join(tmpdir(), 'ebdedup-cluster-'));

  private constructor(readonly nodes: RedisProcess[]) {}

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const nodeTimeout = options.nodeTimeoutMs ?? 1000;
    const cluster = new RedisCluster([]);
    try {
      for (let index = 0; index < 6; index += 1) {
        // The cluster bus port is chosen too (default port + 10000 may be taken or above 65535).
        const busPort = await freePort();
        const node = await RedisProcess.start(
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            String(nodeTimeout),
            '--cluster-port',
            String(busPort),
            // A replica may always be promoted, however long it was cut off (tests kill nodes on purpose).
            '--cluster-replica-validity-factor',
            '0',
          ],
          join(cluster.root, `node-${index}`),
        );
        cluster.nodes.push(node);
      }
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...cluster.nodes.map((n) => n.address),
          '--cluster-replicas',
          '1',
          '--cluster-yes',
        ],
        { timeout: 20_000 },
      );
      await cluster.waitHealthy();
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** `host:port` seeds, as REDIS_CLUSTER_NODES takes them. */
  get seeds(): string[] {
    return this.nodes.map((node) => node.address);
  }

  /** Waits until every running node reports `cluster_state:ok` and 3 masters own all 16384 slots. */
  async waitHealthy(timeoutMs = 15_000): Promise<void> {
    await waitFor(
      async () => {
        for (const node of this.nodes.filter((n) => n.running)) {
          const info = infoFields(String(await node.command('CLUSTER', 'INFO')));
          if (info.get('cluster_state') !== 'ok' || info.get('cluster_slots_ok') !== '16384') return false;
        }
        return (await this.masters()).length === 3;
      },
      timeoutMs,
      'the cluster to be healthy',
    );
  }

  /** The running nodes that call themselves master. */
  async masters(): Promise<RedisProcess[]> {
    const masters: RedisProcess[] = [];
    for (const node of this.nodes.filter((n) => n.running)) {
      const info = await node.info('replication');
      if (info.get('role') === 'master') masters.push(node);
    }
    return masters;
  }

  /** The node that serves `key` now, as the running masters see it (CLUSTER KEYSLOT, then CLUSTER SLOTS). */
  async masterOf(key: string): Promise<RedisProcess> {
    const slot = await this.keySlot(key);
    for (const node of await this.masters()) {
      const ranges = (await node.command('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
      const own = ranges.find(([from, to, [, port]]) => port === node.port && slot >= from && slot <= to);
      if (own) return node;
    }
    throw new Error(`no running master serves slot ${slot}`);
  }

  async keySlot(key: string): Promise<number> {
    const alive = this.nodes.find((n) => n.running);
    if (!alive) throw new Error('no node running');
    return Number(await alive.command('CLUSTER', 'KEYSLOT', key));
  }

  /** The replicas of `master` (by its node id) among the running nodes. */
  async replicasOf(master: RedisProcess): Promise<RedisProcess[]> {
    const id = String(await master.command('CLUSTER', 'MYID'));
    const replicas: RedisProcess[] = [];
    for (const node of this.nodes.filter((n) => n.running && n !== master)) {
      const myself = String(await node.command('CLUSTER', 'NODES'))
        .split('\n')
        .find((line) => line.includes('myself'));
      if (myself?.split(' ')[3] === id) replicas.push(node);
    }
    return replicas;
  }

  /**
   * SIGKILLs `master` and returns its replica (which the cluster will promote after cluster-node-timeout).
   */
  async killMaster(master: RedisProcess): Promise<RedisProcess> {
    const [replica] = await this.replicasOf(master);
    if (!replica) throw new Error(`master ${master.address} has no replica`);
    await master.kill();
    return replica;
  }

  /** Waits until `replica` is a master and the cluster (as the running nodes see it) is whole again. */
  async waitPromoted(replica: RedisProcess, timeoutMs = 15_000): Promise<void> {
    await waitFor(
      async () => (await replica.info('replication')).get('role') === 'master',
      timeoutMs,
      `${replica.address} to be promoted`,
    );
    await this.waitHealthy(timeoutMs);
  }

  /** Restarts a killed node; it reads its nodes.conf, finds its slots taken over and rejoins as a replica. */
  async restart(node: RedisProcess, timeoutMs = 15_000): Promise<void> {
    await node.startProcess();
    await waitFor(
      async () => {
        const info = await node.info('replication');
        return info.get('role') === 'slave' && info.get('master_link_status') === 'up';
      },
      timeoutMs,
      `${node.address} to rejoin as a replica`,
    );
    await this.waitHealthy(timeoutMs);
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.close()));
    rmSync(this.root, { recursive: true, force: true });
  }
}
