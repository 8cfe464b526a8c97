import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { StoreError } from '../types.js';
import type { RedisClient } from './commands.js';

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
 * Sends the commands a connection is given within one turn of the event loop in one socket write: the socket
 * is corked at the turn's first command and uncorked by a setImmediate, after every I/O callback of that turn
 * (each one a request that may send a script) has run. A write is a system call, the costliest step of a
 * command here: with one write per command, `writeUtf8String` was 15 % of the receiver's CPU profile. This is
 * what ioredis's auto-pipelining is for, without its price (a Pipeline object per batch, a promise and a
 * nextTick per command). Only the connection's own commands are corked, and only while it is ready; the WAIT
 * pool's connections send explicit pipelines and are left alone.
 */
function coalesceWrites(client: Redis): void {
  const send = client.sendCommand;
  let corked: Redis['stream'] | undefined;
  const uncork = () => {
    const stream = corked;
    corked = undefined;
    stream?.uncork();
  };
  client.sendCommand = function sendCoalesced(this: Redis, command, stream) {
    if (corked === undefined && stream === undefined && this.status === 'ready' && this.stream?.writable) {
      corked = this.stream;
      corked.cork();
      setImmediate(uncork);
    }
    return send.call(this, command, stream);
  };
}

/**
 * A client that fails fast: no offline queue (a command while disconnected fails at once, instead of
 * waiting for a reconnection that may come after EventBridge's client timeout), no per-request retries, a
 * command timeout, and reconnection in the background forever.
 *
 * No auto-pipelining. It pays for itself when many commands are issued in one tick (a loop of 50 concurrent
 * SETs costs 3.8 µs of client CPU each with it, 6.3 without), but the receiver issues one script per request,
 * from its own I/O callback, so its batches are of one to three commands, and each batch builds an ioredis
 * Pipeline (which copies every defined script onto itself), a setImmediate and a promise per command. Measured
 * on the receiver at saturation (README, Performance): 72 → 55 µs of CPU per new event,
 * 49 → 43 per duplicate, and a lower p99, since one slow batch no longer holds up the commands queued behind it.
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
      // Kept for Redis Cluster (and its node connections are not coalesced): without it, while a master was
      // down and its slots had no master yet, some commands for the other masters timed out as well, in five runs
      // out of five of test/cluster/store-cluster.test.ts "keeps serving the other masters" (none in three with
      // it). Cluster throughput was not measured.
      enableAutoPipelining: true,
      clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1000),
      redisOptions: { ...common, ...credentials },
    });
  }
  let client: Redis;
  if (options.sentinels && options.sentinels.length > 0) {
    client = new Redis({
      ...common,
      ...credentials,
      sentinels: options.sentinels.map(hostPort),
      name: options.sentinelName ?? 'mymaster',
      // Reconnect as soon as any sentinel announces a new master: a master that stalled and was replaced would
      // otherwise keep taking (and later discard) writes over connections that survived the stall.
      failoverDetector: true,
    });
  } else {
    if (!url) throw new StoreError('no Redis location given');
    client = new Redis(options.url as string, common);
  }
  coalesceWrites(client);
  return client;
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
 * failover chaos run saw receivers answer 503 until EventBridge dead-lettered (README, Failover figures).
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
