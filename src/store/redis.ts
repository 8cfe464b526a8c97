import { Cluster, Redis, type RedisOptions } from 'ioredis';
import {
  type ClaimResult,
  type IdempotencyStore,
  type KeyInspection,
  newOwnerToken,
  StoreError,
} from './types.js';

/**
 * The Redis store. Each state change is one Lua script (EVALSHA through ioredis `defineCommand`), so the
 * check and the write cannot interleave with another receiver's. Values are compact, since one key is kept
 * per event for a day or more:
 *   in progress: `~<owner token>` with a PX lease;   processed: `<first seen, epoch ms>` with a PX TTL
 *   (an integer, which Redis stores inside the object header).
 * Every key is `DEDUP_PREFIX{<digest>}`: the hash tag keeps each script on one slot of a Redis Cluster.
 */

const CLAIM = `
local current = redis.call('GET', KEYS[1])
if current then return {current, redis.call('PTTL', KEYS[1])} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

// Completing also writes when the key is gone: the lease ran out while the sink still succeeded, and nobody
// else has claimed it, so recording it now is what keeps a later delivery from running it again.
const COMPLETE = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] or not current then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

type ClaimReply = 1 | [string, number];

/** The commands `defineCommand` adds; ioredis cannot type them itself. */
interface DedupCommands {
  ebdedupClaim(key: string, owner: string, leaseMs: number): Promise<ClaimReply>;
  ebdedupComplete(key: string, owner: string, firstSeenAt: number, ttlMs: number): Promise<number>;
  ebdedupRelease(key: string, owner: string): Promise<number>;
  ebdedupRenew(key: string, owner: string, leaseMs: number): Promise<number>;
}

export type RedisClient = Redis | Cluster;

export function defineDedupCommands(client: RedisClient): RedisClient & DedupCommands {
  client.defineCommand('ebdedupClaim', { numberOfKeys: 1, lua: CLAIM });
  client.defineCommand('ebdedupComplete', { numberOfKeys: 1, lua: COMPLETE });
  client.defineCommand('ebdedupRelease', { numberOfKeys: 1, lua: RELEASE });
  client.defineCommand('ebdedupRenew', { numberOfKeys: 1, lua: RENEW });
  return client as RedisClient & DedupCommands;
}

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
 */
export function createRedisClient(options: RedisConnectionOptions): RedisClient {
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: 2000,
    enableAutoPipelining: true,
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
      enableAutoPipelining: true,
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
    });
  }
  if (!url) throw new StoreError('no Redis location given');
  return new Redis(options.url as string, common);
}

export interface RedisStoreOptions {
  client: RedisClient;
  /** DEDUP_PREFIX. */
  prefix: string;
  /** Close the client with the store (false when the caller shares it). */
  ownsClient?: boolean;
}

function storeFailure(operation: string, error: unknown): StoreError {
  return new StoreError(`redis ${operation} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** Reads `GET` and `PTTL` replies of a MULTI: `~token` is a claim, digits are a processed first-seen time. */
function inspection(replies: [Error | null, unknown][] | null): KeyInspection {
  const [value, pttl] = (replies ?? []).map(([error, reply]) => {
    if (error) throw storeFailure('inspect', error);
    return reply;
  });
  if (replies === null) throw new StoreError('redis inspect failed: transaction aborted');
  if (value === null || value === undefined) return { state: 'absent' };
  const remaining = typeof pttl === 'number' ? pttl : -1;
  const text = String(value);
  if (text.startsWith('~')) return { state: 'in_progress', leaseRemainingMs: Math.max(remaining, 0) };
  if (!/^\d+$/.test(text)) throw new StoreError('redis inspect failed: the key holds an unexpected value');
  return { state: 'processed', firstSeenAt: Number(text), ttlRemainingMs: remaining };
}

export class RedisStore implements IdempotencyStore {
  readonly kind = 'redis' as const;
  readonly client: RedisClient & DedupCommands;
  private readonly prefix: string;
  private readonly ownsClient: boolean;

  constructor(options: RedisStoreOptions) {
    this.client = defineDedupCommands(options.client);
    this.prefix = options.prefix;
    this.ownsClient = options.ownsClient ?? true;
  }

  /** The Redis key of a dedup key: the prefix, then the digest as a hash tag. */
  redisKey(key: string): string {
    return `${this.prefix}{${key}}`;
  }

  /** Connects now; when Redis is not there yet, keeps trying in the background and resolves false. */
  async connect(): Promise<boolean> {
    if (this.client.status !== 'wait') return this.client.status === 'ready';
    try {
      await this.client.connect();
      return true;
    } catch {
      return false;
    }
  }

  async claimKey(key: string, leaseMs: number): Promise<ClaimResult> {
    const token = newOwnerToken();
    let reply: ClaimReply;
    try {
      reply = await this.client.ebdedupClaim(this.redisKey(key), `~${token}`, leaseMs);
    } catch (error) {
      throw storeFailure('claim', error);
    }
    if (reply === 1) return { outcome: 'claimed', token };
    const [value, pttl] = reply;
    if (value.startsWith('~')) return { outcome: 'in_progress', leaseRemainingMs: Math.max(pttl, 0) };
    return { outcome: 'duplicate', firstSeenAt: Number(value) };
  }

  async completeClaim(key: string, token: string, firstSeenAt: number, ttlSeconds: number): Promise<boolean> {
    try {
      return (await this.client.ebdedupComplete(this.redisKey(key), `~${token}`, firstSeenAt, ttlSeconds * 1000)) === 1;
    } catch (error) {
      throw storeFailure('complete', error);
    }
  }

  async releaseClaim(key: string, token: string): Promise<boolean> {
    try {
      return (await this.client.ebdedupRelease(this.redisKey(key), `~${token}`)) === 1;
    } catch (error) {
      throw storeFailure('release', error);
    }
  }

  async renewClaim(key: string, token: string, leaseMs: number): Promise<boolean> {
    try {
      return (await this.client.ebdedupRenew(this.redisKey(key), `~${token}`, leaseMs)) === 1;
    } catch (error) {
      throw storeFailure('renew', error);
    }
  }

  async inspectKey(key: string): Promise<KeyInspection> {
    return this.inspectRedisKey(this.redisKey(key));
  }

  async deleteKey(key: string): Promise<KeyInspection> {
    return this.deleteRedisKey(this.redisKey(key));
  }

  /** The admin view of one Redis key: this store's, or one a sink placed elsewhere (redis-stream). */
  async inspectRedisKey(redisKey: string): Promise<KeyInspection> {
    let replies: [Error | null, unknown][] | null;
    try {
      // MULTI: the value and its PTTL from one moment (both keys of one slot on a Cluster).
      replies = await this.client.multi().get(redisKey).pttl(redisKey).exec();
    } catch (error) {
      throw storeFailure('inspect', error);
    }
    return inspection(replies);
  }

  /** Deletes one Redis key atomically and tells what it held. */
  async deleteRedisKey(redisKey: string): Promise<KeyInspection> {
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await this.client.multi().get(redisKey).pttl(redisKey).del(redisKey).exec();
    } catch (error) {
      throw storeFailure('delete', error);
    }
    return inspection(replies);
  }

  async checkHealth(): Promise<void> {
    try {
      const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
      if (nodes.length === 0) throw new Error('no master node known');
      await Promise.all(nodes.map((node) => node.ping()));
    } catch (error) {
      throw storeFailure('ping', error);
    }
  }

  async close(): Promise<void> {
    if (!this.ownsClient) return;
    try {
      await this.client.quit();
    } catch {
      // Already disconnected (Redis down at shutdown): nothing is left to flush.
      this.client.disconnect();
    }
  }
}
