import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { StoreError } from '../types.js';
import { KEY_COUNTED_SCRIPTS, type RedisClient } from './commands.js';

/**
 * The store's Redis connection: standalone, Sentinel or Cluster, failing fast, reconnecting in the
 * background, revived when ioredis gives it up.
 */

export interface RedisConnectionOptions {
  url?: string | undefined;
  clusterNodes?: readonly string[];
  sentinels?: readonly string[];
  sentinelName?: string | undefined;
  /** Per command: a stalled Redis fails the request fast instead of holding it past EventBridge's 5 s. */
  commandTimeoutMs: number;
  connectionName?: string;
}

function hostPort(item: string): { host: string; port: number } {
  const at = item.lastIndexOf(':');
  return { host: item.slice(0, at), port: Number(item.slice(at + 1)) };
}

/**
 * A client that fails fast: no offline queue (a command while disconnected fails at once, instead of
 * waiting for a reconnection that may come after EventBridge's client timeout), no per-request retries, a
 * command timeout, and reconnection in the background forever.
 *
 * No auto-pipelining on a standalone or Sentinel connection: the store batches its claims and completions
 * itself (batcher.ts: one script call per turn of the event loop), so what is left is a command or two per
 * turn, and auto-pipelining would add an ioredis Pipeline (which copies every defined script onto itself), a
 * setImmediate and a promise per command for nothing.
 */
export function createRedisClient(options: RedisConnectionOptions): RedisClient {
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: 2000,
    enableAutoPipelining: false,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
  };
  const url = options.url ? new URL(options.url) : undefined;
  const credentials: RedisOptions = url
    ? {
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
        ...(url.protocol === 'rediss:' ? { tls: { servername: url.hostname } } : {}),
      }
    : {};

  if (options.clusterNodes && options.clusterNodes.length > 0) {
    return new Cluster(options.clusterNodes.map(hostPort), {
      lazyConnect: true,
      enableOfflineQueue: false,
      // Kept for Redis Cluster: without it, while a master was
      // down and its slots had no master yet, some commands for the other masters timed out as well, in five runs
      // out of five of test/cluster/store-cluster.test.ts "keeps serving the other masters" (none in three with
      // it). Cluster throughput was not measured.
      enableAutoPipelining: true,
      autoPipeliningIgnoredCommands: KEY_COUNTED_SCRIPTS,
      clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1000),
      redisOptions: { ...common, ...credentials },
    });
  }
  if (options.sentinels && options.sentinels.length > 0) {
    return new Redis({
      ...common,
      ...credentials,
      sentinels: options.sentinels.map(hostPort),
      name: options.sentinelName ?? 'mymaster',
      // Reconnect as soon as any sentinel announces a new master: a master that stalled and was replaced would
      // otherwise keep taking (and later discard) writes over connections that survived the stall.
      failoverDetector: true,
    });
  }
  if (!url) throw new StoreError('no Redis location given');
  return new Redis(options.url as string, common);
}

export function commandTimeoutOf(client: RedisClient): number | undefined {
  return client instanceof Cluster
    ? client.options.redisOptions?.commandTimeout
    : client.options.commandTimeout;
}

/**
 * ioredis gives a connection up for good (status `end`: every command fails with "Connection is closed.", and no
 * reconnection follows) when a reconnection attempt fails inside its connector. With Sentinel's failover
 * detector that happens when a sentinel announces the new master while the client is reconnecting to the old
 * one (the detector's connections are not cleaned up: https://github.com/redis/ioredis/issues/1362); the
 * failover chaos run saw receivers answer 503 until EventBridge dead-lettered (docs/scaling-out.md, Failover figures).
 * A receiver must not need a restart after a failover, so a connection that ended while its store is open is
 * connected again. Cluster clients retry by themselves (clusterRetryStrategy never gives up).
 */
export function reconnectWhenEnded(client: RedisClient, storeClosed: () => boolean): void {
  if (client instanceof Cluster) return;
  let scheduled = false;
  client.on('end', () => {
    if (scheduled || storeClosed()) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      // A failed attempt ends the connection again, which schedules the next one.
      if (!storeClosed() && client.status === 'end') client.connect().catch(() => {});
    }, 200).unref();
  });
}
