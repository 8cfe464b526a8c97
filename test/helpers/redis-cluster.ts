import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from './ports.js';
import { infoFields, RedisProcess } from './redis-process.js';

const run = promisify(execFile);

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
        // The cluster bus port is chosen too (default port + 10000 may be taken or above 65535), again on
        // each attempt of the node's start.
        const node = await RedisProcess.startNode(
          async () => [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            String(nodeTimeout),
            '--cluster-port',
            String(await freePort()),
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
      async () => (await node.replicatingFrom()) !== undefined,
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
