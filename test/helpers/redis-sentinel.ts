import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './ports.js';
import { RedisProcess } from './redis-process.js';

/** A master and its replicas (`--replicaof`), each its own redis-server on loopback. */
export class RedisReplicaSet {
  private constructor(
    readonly master: RedisProcess,
    readonly replicas: RedisProcess[],
    private readonly root: string,
  ) {}

  static async start(replicaCount = 1): Promise<RedisReplicaSet> {
    const root = mkdtempSync(join(tmpdir(), 'ebdedup-replicas-'));
    const master = await RedisProcess.startNode([], join(root, 'master'));
    const set = new RedisReplicaSet(master, [], root);
    try {
      for (let index = 0; index < replicaCount; index += 1) {
        set.replicas.push(
          await RedisProcess.startNode(
            ['--replicaof', '127.0.0.1', String(master.port)],
            join(root, `replica-${index}`),
          ),
        );
      }
      await set.waitInSync(set.master, replicaCount);
      return set;
    } catch (error) {
      await set.close();
      throw error;
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.master.port}`;
  }

  get nodes(): RedisProcess[] {
    return [this.master, ...this.replicas];
  }

  /** Waits until `master` has `count` replicas online (full sync done). */
  async waitInSync(master: RedisProcess, count: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(
      async () => {
        const info = await master.info('replication');
        if (info.get('role') !== 'master' || Number(info.get('connected_slaves')) < count) return false;
        for (let index = 0; index < count; index += 1) {
          if (!info.get(`slave${index}`)?.includes('state=online')) return false;
        }
        // "online" is not yet streaming: after a full sync the master holds the command stream back until
        // the replica's first ACK (up to a second later). Only a write that WAIT sees acknowledged proves it.
        return (await master.writeAndWait(count, 100)) >= count;
      },
      timeoutMs,
      `${count} replica(s) of ${master.address} to be in sync`,
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.close()));
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface RedisSentinelOptions {
  /** Sentinel's down-after-milliseconds: how long a silent master takes to be considered down. */
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

/**
 * Redis Sentinel on loopback: 1 master, 2 replicas and 3 sentinels with quorum 2, with short timeouts so a
 * killed master is replaced in a few seconds.
 */
export class RedisSentinel {
  static readonly masterName = 'mymaster';

  private constructor(
    readonly data: RedisReplicaSet,
    readonly sentinels: RedisProcess[],
    private readonly root: string,
  ) {}

  static async start(options: RedisSentinelOptions = {}): Promise<RedisSentinel> {
    const data = await RedisReplicaSet.start(2);
    const root = mkdtempSync(join(tmpdir(), 'ebdedup-sentinels-'));
    const sentinel = new RedisSentinel(data, [], root);
    const name = RedisSentinel.masterName;
    try {
      for (let index = 0; index < 3; index += 1) {
        sentinel.sentinels.push(
          await RedisProcess.startSentinel(
            [
              `sentinel monitor ${name} 127.0.0.1 ${data.master.port} 2`,
              `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
              `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 5000}`,
              `sentinel parallel-syncs ${name} 2`,
            ],
            join(root, `sentinel-${index}`),
          ),
        );
      }
      // Each sentinel must know the others (to vote) and both replicas (to promote one).
      await waitFor(
        async () => {
          for (const node of sentinel.sentinels) {
            const fields = pairs((await node.command('SENTINEL', 'MASTER', name)) as string[]);
            if (fields.get('num-other-sentinels') !== '2' || fields.get('num-slaves') !== '2') return false;
          }
          return true;
        },
        15_000,
        'the sentinels to discover each other and the replicas',
      );
      return sentinel;
    } catch (error) {
      await sentinel.close();
      throw error;
    }
  }

  /** `host:port` of each sentinel, as REDIS_SENTINELS takes them. */
  get seeds(): string[] {
    return this.sentinels.map((node) => node.address);
  }

  /** The data node the sentinels name as master now. */
  async currentMaster(): Promise<RedisProcess> {
    const port = await this.reportedMasterPort();
    const node = this.data.nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`sentinels name an unknown master on port ${port}`);
    return node;
  }

  private async reportedMasterPort(): Promise<number> {
    for (const node of this.sentinels.filter((n) => n.running)) {
      try {
        const reply = (await node.command(
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          RedisSentinel.masterName,
        )) as [string, string];
        return Number(reply[1]);
      } catch {
        // ask the next one
      }
    }
    throw new Error('no sentinel answers');
  }

  /** SIGKILLs the current master: the sentinels will see it silent for down-after-milliseconds, then fail over. */
  async killMaster(): Promise<RedisProcess> {
    const master = await this.currentMaster();
    await master.kill();
    return master;
  }

  /**
   * Waits until a majority of the sentinels name a master other than `old`, and that node says it is master.
   */
  async waitNewMaster(old: RedisProcess, timeoutMs = 20_000): Promise<RedisProcess> {
    let found: RedisProcess | undefined;
    await waitFor(
      async () => {
        const ports: number[] = [];
        for (const node of this.sentinels.filter((n) => n.running)) {
          const reply = (await node.command(
            'SENTINEL',
            'GET-MASTER-ADDR-BY-NAME',
            RedisSentinel.masterName,
          )) as [string, string];
          ports.push(Number(reply[1]));
        }
        const moved = ports.filter((port) => port !== old.port);
        if (moved.length < 2 || new Set(moved).size !== 1) return false;
        const candidate = this.data.nodes.find((node) => node.port === moved[0]);
        if (!candidate?.running) return false;
        if ((await candidate.info('replication')).get('role') !== 'master') return false;
        found = candidate;
        return true;
      },
      timeoutMs,
      `a new master instead of ${old.address}`,
    );
    return found as RedisProcess;
  }

  async close(): Promise<void> {
    await Promise.all(this.sentinels.map((node) => node.close()));
    await this.data.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A flat `[name, value, name, value…]` reply as a map. */
function pairs(flat: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let index = 0; index + 1 < flat.length; index += 2)
    map.set(String(flat[index]), String(flat[index + 1]));
  return map;
}
