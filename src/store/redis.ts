import { Cluster, Redis, type RedisOptions } from 'ioredis';
import {
  type ClaimResult,
  type IdempotencyStore,
  type KeyInspection,
  newOwnerToken,
  ReplicationWaitError,
  StoreError,
} from './types.js';

export { ReplicationWaitError } from './types.js';

/**
 * The Redis store. Each state change is one Lua script (EVALSHA through ioredis `defineCommand`), so the
 * check and the write cannot interleave with another receiver's. Values are compact, since one key is kept
 * per event for a day or more:
 *   in progress: `~<owner token>` with a PX lease;   processed: `<first seen, epoch ms>` with a PX TTL
 *   (an integer, which Redis stores inside the object header).
 * Every key is `DEDUP_PREFIX{<digest>}`: the hash tag keeps each script on one slot of a Redis Cluster.
 */

// KEYS: dedup key, its failure counter. ARGV: owner, lease ms, MAX_ATTEMPTS (0: no limit).
// A key whose processing failed MAX_ATTEMPTS times is poison: `{'!', failures}`, never claimed again.
const CLAIM = `
local current = redis.call('GET', KEYS[1])
if current then return {current, redis.call('PTTL', KEYS[1])} end
local limit = tonumber(ARGV[3])
if limit > 0 then
  local failures = tonumber(redis.call('GET', KEYS[2]) or '0')
  if failures >= limit then return {'!', failures} end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

// A retried completion whose first reply was lost finds its own value: that is a success too.
// Completing also writes when the key is gone: the lease ran out while the sink still succeeded, and nobody
// else has claimed it, so recording it now is what keeps a later delivery from running it again.
const COMPLETE = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[2] then return 1 end
if current == ARGV[1] or not current then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

// KEYS: dedup key, its failure counter. ARGV: owner, counter TTL ms (0: failures are not counted).
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if tonumber(ARGV[2]) > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

// Re-asserts a processed key (same value, same expiry), so that the connection running it has written the key:
// WAIT counts the replicas holding *this connection's* writes, and the key may have been written by another
// connection or receiver. A replica applies the stream in order, so it has the original write before this one.
const TOUCH = `
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, 1) ~= '~' then redis.call('SET', KEYS[1], current, 'KEEPTTL') end
return current`;

type ClaimReply = 1 | [string, number];

/** The commands `defineCommand` adds; ioredis cannot type them itself. */
interface DedupCommands {
  ebdedupClaim(
    key: string,
    failures: string,
    owner: string,
    leaseMs: number,
    maxAttempts: number,
  ): Promise<ClaimReply>;
  ebdedupComplete(key: string, owner: string, firstSeenAt: number, ttlMs: number): Promise<number>;
  ebdedupRelease(key: string, failures: string, owner: string, failuresTtlMs: number): Promise<number>;
  ebdedupRenew(key: string, owner: string, leaseMs: number): Promise<number>;
  ebdedupTouch(key: string): Promise<string | null>;
}

export type RedisClient = Redis | Cluster;

export function defineDedupCommands(client: RedisClient): RedisClient & DedupCommands {
  client.defineCommand('ebdedupClaim', { numberOfKeys: 2, lua: CLAIM });
  client.defineCommand('ebdedupComplete', { numberOfKeys: 1, lua: COMPLETE });
  client.defineCommand('ebdedupRelease', { numberOfKeys: 2, lua: RELEASE });
  client.defineCommand('ebdedupRenew', { numberOfKeys: 1, lua: RENEW });
  client.defineCommand('ebdedupTouch', { numberOfKeys: 1, lua: TOUCH });
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
      // Reconnect as soon as any sentinel announces a new master: a master that stalled and was replaced would
      // otherwise keep taking (and later discard) writes over connections that survived the stall.
      failoverDetector: true,
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
  /**
   * REDIS_WAIT_REPLICAS: before completeClaim resolves, and before claimKey reports a duplicate, this many
   * replicas must hold the key (Redis WAIT); fewer within `waitTimeoutMs` throws a ReplicationWaitError.
   * 0 (the default): no WAIT.
   */
  waitReplicas?: number;
  /** REDIS_WAIT_TIMEOUT_MS: how long WAIT may block (default 100). */
  waitTimeoutMs?: number;
  /** Connections set aside for WAIT, which blocks the connection it runs on (default 8). */
  waitPoolSize?: number;
  /**
   * MAX_ATTEMPTS: after this many released (failed) claims a key is poison and claimKey answers `poisoned`;
   * failures are counted for `failureTtlSeconds`. 0 (the default): unlimited, nothing counted.
   */
  maxAttempts?: number;
  failureTtlSeconds?: number;
}

function storeFailure(operation: string, error: unknown): StoreError {
  return new StoreError(`redis ${operation} failed: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
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

type DedupClient = RedisClient & DedupCommands;

/** A Redis Cluster redirection (`MOVED slot host:port`, `ASK slot host:port`). */
function isRedirection(error: Error | null | undefined): boolean {
  return error !== null && error !== undefined && /^(MOVED|ASK) /.test(error.message);
}

/** Reloads a Cluster client's slot map (CLUSTER SLOTS from any known node). */
function refreshSlots(client: Cluster): Promise<void> {
  return new Promise((resolve, reject) => {
    client.refreshSlotsCache((error) => (error ? reject(error) : resolve()));
  });
}

function commandTimeoutOf(client: RedisClient): number | undefined {
  return client instanceof Cluster
    ? client.options.redisOptions?.commandTimeout
    : client.options.commandTimeout;
}

/** A connection like `source` (same nodes, credentials, TLS) of its own, for WAIT. */
function duplicateForWait(source: RedisClient, commandTimeoutMs: number): RedisClient {
  if (source instanceof Cluster) {
    const name = source.options.redisOptions?.connectionName;
    return source.duplicate([], {
      enableAutoPipelining: false,
      redisOptions: {
        ...source.options.redisOptions,
        commandTimeout: commandTimeoutMs,
        ...(name ? { connectionName: `${name}-wait` } : {}),
      },
    });
  }
  const name = source.options.connectionName;
  return source.duplicate({
    enableAutoPipelining: false,
    commandTimeout: commandTimeoutMs,
    ...(name ? { connectionName: `${name}-wait` } : {}),
  });
}

/**
 * Connections for WAIT. WAIT counts only the writes of the connection it runs on and blocks that connection
 * until the replicas acknowledge or its timeout passes, so each use takes a connection for itself: the write
 * and its WAIT go out together on it, and no other request is queued behind the block.
 */
class WaitPool {
  readonly clients: DedupClient[] = [];
  private readonly idle: DedupClient[] = [];
  private readonly waiting: ((client: DedupClient) => void)[] = [];

  constructor(
    source: RedisClient,
    size: number,
    commandTimeoutMs: number,
    private readonly acquireTimeoutMs: number,
  ) {
    for (let index = 0; index < Math.max(1, size); index += 1) {
      const client = defineDedupCommands(duplicateForWait(source, commandTimeoutMs));
      // The main connection reports the same outages; a listener keeps ioredis from printing these.
      client.on('error', () => {});
      this.clients.push(client);
      this.idle.push(client);
    }
  }

  async connect(): Promise<void> {
    await Promise.allSettled(
      this.clients.map((client) => (client.status === 'wait' ? client.connect() : undefined)),
    );
  }

  async use<T>(task: (client: DedupClient) => Promise<T>): Promise<T> {
    const client = this.idle.pop() ?? (await this.acquire());
    try {
      return await task(client);
    } finally {
      const next = this.waiting.shift();
      if (next) next(client);
      else this.idle.push(client);
    }
  }

  /** Waits for a connection to come free; a full pool for longer than one WAIT's worth is a store failure. */
  private acquire(): Promise<DedupClient> {
    return new Promise((resolve, reject) => {
      const waiter = (client: DedupClient) => {
        clearTimeout(timer);
        resolve(client);
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new StoreError(`no WAIT connection came free within ${this.acquireTimeoutMs} ms`));
      }, this.acquireTimeoutMs);
      this.waiting.push(waiter);
    });
  }

  async close(): Promise<void> {
    await Promise.all(
      this.clients.map(async (client) => {
        try {
          await client.quit();
        } catch {
          client.disconnect();
        }
      }),
    );
  }
}

export class RedisStore implements IdempotencyStore {
  readonly kind = 'redis' as const;
  readonly client: RedisClient & DedupCommands;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly waitPool: WaitPool | undefined;
  private readonly maxAttempts: number;
  private readonly failureTtlMs: number;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    this.maxAttempts = options.maxAttempts ?? 0;
    this.failureTtlMs = this.maxAttempts > 0 ? (options.failureTtlSeconds ?? 86_400) * 1000 : 0;
    this.client = defineDedupCommands(options.client);
    this.prefix = options.prefix;
    this.ownsClient = options.ownsClient ?? true;
    this.waitReplicas = options.waitReplicas ?? 0;
    this.waitTimeoutMs = options.waitTimeoutMs ?? 100;
    if (this.waitReplicas > 0) {
      const base = commandTimeoutOf(options.client) ?? 500;
      this.waitPool = new WaitPool(
        options.client,
        options.waitPoolSize ?? 8,
        base + this.waitTimeoutMs,
        base + this.waitTimeoutMs,
      );
    }
  }

  /**
   * Sends `command` and then `WAIT waitReplicas waitTimeoutMs` on one connection of the WAIT pool, and
   * resolves to the command's reply once enough replicas hold what it wrote.
   */
  private async writeAndWait(
    operation: 'complete' | 'duplicate',
    pool: WaitPool,
    command: [string, ...(string | number)[]],
  ): Promise<unknown> {
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pool.use(async (client) => {
        const send = () => client.pipeline([command, ['wait', this.waitReplicas, this.waitTimeoutMs]]).exec();
        const first = await send();
        // After a failover this connection's slot map may still name the old master. ioredis follows a
        // pipeline's MOVED only when every command in it failed the same way, and WAIT fails differently on a
        // replica, so the redirection surfaces here: learn the new map and send once more (the script did not
        // run where it was redirected from).
        if (!(client instanceof Cluster) || !isRedirection(first?.[0]?.[0])) return first;
        await refreshSlots(client);
        return send();
      });
    } catch (error) {
      throw storeFailure(operation, error);
    }
    const [written, waited] = replies ?? [];
    if (!written || !waited) throw new StoreError(`redis ${operation}: no reply to the pipeline`);
    if (written[0]) throw storeFailure(operation, written[0]);
    if (waited[0]) throw storeFailure(`${operation} wait`, waited[0]);
    const acknowledged = Number(waited[1]);
    if (!(acknowledged >= this.waitReplicas)) {
      throw new ReplicationWaitError(operation, acknowledged, this.waitReplicas, this.waitTimeoutMs);
    }
    return written[1];
  }

  /** The Redis key of a dedup key: the prefix, then the digest as a hash tag. */
  redisKey(key: string): string {
    return `${this.prefix}{${key}}`;
  }

  /** The failure counter of a dedup key, in the same hash slot. */
  failuresKey(key: string): string {
    return `${this.prefix}{${key}}:f`;
  }

  /**
   * With REDIS_WAIT_REPLICAS, resolves once that many replicas hold `redisKey` (written by any connection);
   * throws ReplicationWaitError otherwise. For sinks that write the processed mark themselves (redis-stream).
   */
  async confirmReplicated(redisKey: string): Promise<void> {
    if (this.waitPool) await this.writeAndWait('duplicate', this.waitPool, ['ebdedupTouch', redisKey]);
  }

  /** Connects now; when Redis is not there yet, keeps trying in the background and resolves false. */
  async connect(): Promise<boolean> {
    await this.waitPool?.connect();
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
      reply = await this.client.ebdedupClaim(
        this.redisKey(key),
        this.failuresKey(key),
        `~${token}`,
        leaseMs,
        this.maxAttempts,
      );
    } catch (error) {
      this.abandonClaim(key, token);
      throw storeFailure('claim', error);
    }
    if (reply === 1) return { outcome: 'claimed', token };
    const [value, pttl] = reply;
    if (value === '!') return { outcome: 'poisoned', failures: pttl };
    if (value.startsWith('~')) return { outcome: 'in_progress', leaseRemainingMs: Math.max(pttl, 0) };
    // A duplicate answers 200 as well: with REDIS_WAIT_REPLICAS, only once the replicas hold the key.
    if (this.waitPool) {
      await this.writeAndWait('duplicate', this.waitPool, ['ebdedupTouch', this.redisKey(key)]);
    }
    return { outcome: 'duplicate', firstSeenAt: Number(value) };
  }

  /**
   * A claim that failed (timed out, connection lost) may still have landed, and would then block the event
   * with 409s for a whole lease though nobody processes it. Releasing the token undoes it: retried until Redis
   * answers, without counting a MAX_ATTEMPTS failure.
   */
  private abandonClaim(key: string, token: string): void {
    const giveUpAt = Date.now() + 60_000;
    const attempt = (delay: number): void => {
      this.client.ebdedupRelease(this.redisKey(key), this.failuresKey(key), `~${token}`, 0).catch(() => {
        if (Date.now() >= giveUpAt || this.closed) return;
        setTimeout(() => attempt(Math.min(delay * 2, 1000)), delay).unref();
      });
    };
    attempt(100);
  }

  async completeClaim(key: string, token: string, firstSeenAt: number, ttlSeconds: number): Promise<boolean> {
    if (this.waitPool) {
      const reply = await this.writeAndWait('complete', this.waitPool, [
        'ebdedupComplete',
        this.redisKey(key),
        `~${token}`,
        firstSeenAt,
        ttlSeconds * 1000,
      ]);
      return reply === 1;
    }
    try {
      return (
        (await this.client.ebdedupComplete(
          this.redisKey(key),
          `~${token}`,
          firstSeenAt,
          ttlSeconds * 1000,
        )) === 1
      );
    } catch (error) {
      throw storeFailure('complete', error);
    }
  }

  async releaseClaim(key: string, token: string): Promise<boolean> {
    try {
      return (
        (await this.client.ebdedupRelease(
          this.redisKey(key),
          this.failuresKey(key),
          `~${token}`,
          this.failureTtlMs,
        )) === 1
      );
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

  /** Forgets a key, and its MAX_ATTEMPTS failure count with it, so a deliberate reprocess can run. */
  async deleteKey(key: string): Promise<KeyInspection> {
    return this.deleteRedisKey(this.redisKey(key), this.failuresKey(key));
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
  async deleteRedisKey(redisKey: string, ...alongside: string[]): Promise<KeyInspection> {
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await this.client
        .multi()
        .get(redisKey)
        .pttl(redisKey)
        .del(redisKey, ...alongside)
        .exec();
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
    this.closed = true;
    await this.waitPool?.close();
    if (!this.ownsClient) return;
    try {
      await this.client.quit();
    } catch {
      // Already disconnected (Redis down at shutdown): nothing is left to flush.
      this.client.disconnect();
    }
  }
}
