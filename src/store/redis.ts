import { Cluster, Redis, type RedisOptions } from 'ioredis';
import {
  type ClaimResult,
  type IdempotencyStore,
  type KeyInspection,
  newOwnerToken,
  ReplicationWaitError,
  StoreError,
} from './types.js';

/** What a sink that writes its own marks did before confirmReplicated; `confirm` when it does not say. */
export type SinkWriteOperation = Exclude<ReplicationWaitError['operation'], 'complete'>;

export { ReplicationWaitError } from './types.js';

/**
 * The Redis store. Each state change is one Lua script (EVALSHA through ioredis `defineCommand`), so the
 * check and the write cannot interleave with another receiver's.
 *
 * Layout (issue 7: at most 110 bytes of Redis memory per retained processed key). One string key per event
 * cannot get there on Redis 7.0: dictEntry, key sds, robj, expires entry and table slots cost about 117 B
 * before the value. So processed marks are fields of time-bucketed hashes, and only what is short-lived or
 * rare is a key of its own. For a dedup key D (a 43-character base64url digest) under the hash tag T:
 *
 *   DEDUP_PREFIX{T}D                  in progress: `~<owner token>`, PX lease (one per event being processed)
 *   DEDUP_PREFIX{T}D:f                MAX_ATTEMPTS failure counter, PX DEDUP_TTL_SECONDS (failed keys only)
 *   DEDUP_PREFIX{T}:<ttl>:<bucket>[:<D[0..2]>]
 *                                     hash of processed marks: field D[2..32] → first seen (epoch ms)
 *   DEDUP_PREFIX{T}:ttls              hash: <ttl> → when the last bucket hash of that TTL expires (epoch ms)
 *
 * The store's tag is D's first two characters (64² = 4,096 tags, spread over Redis Cluster's 16,384 slots);
 * the redis-stream sink's is its stream's, and D's first two characters become a shard suffix outside the
 * tag, so either way a bucket is split into about 4,096 hashes. `dedupLocation` computes every name.
 *
 * The field is D's characters 2 to 32 (30 characters): 192 bits of the SHA-256 digest with the 12 of the
 * tag or shard, far past any chance of two events' digests sharing them (a birthday bound of 2^96 keys). At
 * 30 characters Redis's string (sds type 5: 1 + 30 + 1 bytes) fills jemalloc's 32-byte size class, where the
 * 41 remaining characters took the 48-byte one: 16 B less per mark in a hashtable (89–96 B, 105–112 B
 * before), 11 B less in a listpack (52 B, 64 B before). Keys that are not 43-character digests (tests'
 * UUIDs) are kept whole after the first two characters.
 *
 * Buckets: `<ttl>` is the TTL in seconds, W = ttl / 24 (rounded up to a millisecond), bucket = floor(now / W)
 * where `now` is Redis's own clock (TIME inside the script: one clock for every receiver; scripts are
 * replicated by their effects, https://redis.io/docs/latest/develop/interact/programmability/eval-intro/#script-replication,
 * so replicas get the resulting HSET/PEXPIREAT, never TIME). A bucket's hash expires at (bucket + 1)·W + ttl:
 * a mark is kept at least DEDUP_TTL_SECONDS and at most 1/24 longer. A lookup reads the TTLs in use from
 * `:ttls` and, per TTL, the buckets floor((now − ttl) / W) … floor(now / W) (25 HGETs for one TTL), newest
 * first. The `:ttls` hash exists because claimKey is not told the TTL (a rule can give its own), and it lets
 * a mark written under any TTL, by any receiver, before a configuration change, be found.
 *
 * Why about 4,096 hashes per bucket: a hash of at most `hash-max-listpack-entries` (512 by default) fields
 * of at most 64 bytes is a listpack, about 48–55 B per mark; above, a hashtable, about 89–101 B per mark
 * (dictEntry, field and value sds and table slots, but no robj and no expires entry). 4,096 hashes keep a
 * bucket a listpack up to about 2 million marks (580 events/s with the default TTL), and even a hashtable
 * is under 110 B. Below about 10 events/s a hash holds few marks and its own cost (and its tag's `:ttls`)
 * dominates: more bytes per key, few in all (at most about 4,096 × 25 hashes). The price is Redis CPU: a
 * claim of a new key looks in 25 hashes instead of one key. `bench/store-memory.ts` measures both.
 *
 * Redis Cluster: every key a script touches carries KEYS[1]'s hash tag, so one slot. The bucket names come
 * from Redis's clock inside the script and so cannot be passed in KEYS; Redis Cluster checks only that a
 * script's keys are on its node and slot (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
 */

/** Where one dedup key's claim, failure counter and processed mark live. All names share one hash tag. */
export interface DedupLocation {
  /** The in-progress claim (a short-lived string). */
  claim: string;
  /** The MAX_ATTEMPTS failure counter. */
  failures: string;
  /** The TTLs whose bucket hashes exist under this tag. */
  ttls: string;
  /** What every bucket hash name starts with: `DEDUP_PREFIX{T}:`. */
  hashPrefix: string;
  /** What every bucket hash name ends with: `` for the store, `:<D[0..2]>` when the tag is not D's. */
  hashSuffix: string;
  /** The mark's field in its bucket hash. */
  field: string;
}

/** Characters of a dedup key that pick its hash (the store's tag, or a shard suffix). */
const SHARD_CHARS = 2;
/** Characters of a digest a processed mark keeps, the shard's included (see the top of this file). */
const MARK_CHARS = 32;
/** A dedup key as every key strategy makes it: a SHA-256 digest, base64url. */
const DIGEST = /^[A-Za-z0-9_-]{43}$/;

/**
 * The names for dedup key `key` under hash tag `tag`: the one place that decides them, for the store
 * (tag = the key's first two characters), the redis-stream sink (tag = its stream's) and tests.
 */
export function dedupLocation(prefix: string, tag: string, key: string): DedupLocation {
  const shard = key.slice(0, SHARD_CHARS);
  const tagged = `${prefix}{${tag}}`;
  return {
    claim: `${tagged}${key}`,
    failures: `${tagged}${key}:f`,
    ttls: `${tagged}:ttls`,
    hashPrefix: `${tagged}:`,
    hashSuffix: tag === shard ? '' : `:${shard}`,
    field: DIGEST.test(key) ? key.slice(SHARD_CHARS, MARK_CHARS) : key.slice(SHARD_CHARS),
  };
}

/** The store's own location for a dedup key: tagged by its first two characters. */
export function storeLocation(prefix: string, key: string): DedupLocation {
  return dedupLocation(prefix, key.slice(0, SHARD_CHARS), key);
}

/**
 * The location whose claim key is `claim` (`DEDUP_PREFIX{T}D`): how a sink's `dedupKey` (the one string the
 * admin routes and confirmReplicated are given) names the whole location.
 */
export function locationOfClaim(prefix: string, claim: string): DedupLocation {
  const close = claim.indexOf('}', prefix.length);
  if (!claim.startsWith(`${prefix}{`) || close < 0) {
    throw new StoreError(`'${claim}' is not a dedup claim key under the prefix '${prefix}'`);
  }
  return dedupLocation(prefix, claim.slice(prefix.length + 1, close), claim.slice(close + 1));
}

/** The TTL as it appears in bucket hash names and in `:ttls`: seconds, as given (tests use fractions). */
function ttlName(ttlSeconds: number): string {
  return String(ttlSeconds);
}

/** A bucket's width: ttl / 24, rounded up to a millisecond (the same arithmetic as the Lua below). */
export function bucketWidthMs(ttlSeconds: number): number {
  return Math.ceil(Math.floor(ttlSeconds * 1000 + 0.5) / 24);
}

/** The name of the bucket hash `bucket` of a TTL at a location. */
export function bucketHash(location: DedupLocation, ttlSeconds: number, bucket: number): string {
  return `${location.hashPrefix}${ttlName(ttlSeconds)}:${bucket}${location.hashSuffix}`;
}

/** The bucket hashes that can hold a live mark of this TTL at `nowMs` (Redis's clock), newest first. */
export function liveBucketHashes(location: DedupLocation, ttlSeconds: number, nowMs: number): string[] {
  const ttlMs = Math.floor(ttlSeconds * 1000 + 0.5);
  const width = bucketWidthMs(ttlSeconds);
  const names: string[] = [];
  for (let bucket = Math.floor(nowMs / width); bucket >= Math.floor((nowMs - ttlMs) / width); bucket -= 1) {
    names.push(bucketHash(location, ttlSeconds, bucket));
  }
  return names;
}

/**
 * The Lua every script starts with: the location's names and Redis's clock, `find_mark` (the bucket that
 * holds the mark, and its value) and `add_mark`. KEYS[1] is the claim, KEYS[2] the `:ttls` hash; ARGV[1..3]
 * are the hash prefix, the hash suffix and the field; a script's own arguments follow (KEYS[3], ARGV[4]…).
 * Numbers are written with %d, never as Lua prints them (%.14g: an exponent past 14 digits).
 */
export const MARKS_LUA = `
local claim, ttls = KEYS[1], KEYS[2]
local hash_prefix, hash_suffix, field = ARGV[1], ARGV[2], ARGV[3]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function ttl_ms(ttl) return math.floor(tonumber(ttl) * 1000 + 0.5) end
local function width_ms(ttl) return math.ceil(ttl_ms(ttl) / 24) end
local function bucket_hash(ttl, bucket)
  return hash_prefix .. ttl .. ':' .. string.format('%d', bucket) .. hash_suffix
end

-- The bucket hash holding this field's mark, and the mark; nil when there is none.
local function find_mark()
  local known = redis.call('HGETALL', ttls)
  for i = 1, #known, 2 do
    if tonumber(known[i + 1]) > now then
      local ttl, width = known[i], width_ms(known[i])
      for bucket = math.floor(now / width), math.floor((now - ttl_ms(ttl)) / width), -1 do
        local hash = bucket_hash(ttl, bucket)
        local mark = redis.call('HGET', hash, field)
        if mark then return hash, mark end
      end
    end
  end
  return nil, nil
end

-- Records the mark in the current bucket of its TTL; the hash expires ttl after the bucket ends.
local function add_mark(mark, ttl)
  local width = width_ms(ttl)
  local bucket = math.floor(now / width)
  local hash = bucket_hash(ttl, bucket)
  local expires = (bucket + 1) * width + ttl_ms(ttl)
  redis.call('HSET', hash, field, mark)
  if redis.call('PTTL', hash) < 0 then redis.call('PEXPIREAT', hash, string.format('%d', expires)) end
  if tonumber(redis.call('HGET', ttls, ttl) or '0') < expires then
    redis.call('HSET', ttls, ttl, string.format('%d', expires))
    -- The index lives as long as its longest-lived bucket; TTLs whose buckets are all gone are dropped.
    local known, latest = redis.call('HGETALL', ttls), expires
    for i = 1, #known, 2 do
      local last = tonumber(known[i + 1])
      if last <= now then redis.call('HDEL', ttls, known[i]) elseif last > latest then latest = last end
    end
    redis.call('PEXPIREAT', ttls, string.format('%d', latest))
  end
end

-- What the location holds: the claim {'~owner', lease left}, else the mark {first seen, its hash's TTL left}.
local function held()
  local current = redis.call('GET', claim)
  if current then return {current, redis.call('PTTL', claim)} end
  local hash, mark = find_mark()
  if mark then return {mark, redis.call('PTTL', hash)} end
  return nil
end
`;

// Every script below that reads or writes a mark is MARKS_LUA followed by its own part: the claim key and
// the `:ttls` hash are KEYS[1] and KEYS[2], the location ARGV[1..3]; its own keys and arguments follow.

// KEYS[3]: failure counter. ARGV[4..6]: owner, lease ms, MAX_ATTEMPTS (0: no limit).
// A key whose processing failed MAX_ATTEMPTS times is poison: `{'!', failures}`, never claimed again.
const CLAIM = `${MARKS_LUA}
local state = held()
if state then return state end
local limit = tonumber(ARGV[6])
if limit > 0 then
  local failures = tonumber(redis.call('GET', KEYS[3]) or '0')
  if failures >= limit then return {'!', failures} end
end
redis.call('SET', claim, ARGV[4], 'PX', ARGV[5])
return 1`;

// ARGV[4..6]: owner, first seen (epoch ms), TTL in seconds.
// The holder's completion (the usual case) needs no lookup: nobody records a key that someone holds.
// Without a claim, a retried completion whose first reply was lost finds its own mark: a success too. And
// completing also records when the claim is gone and no mark exists: the lease ran out while the sink still
// succeeded, and nobody else has claimed it, so recording it now keeps a later delivery from running it again.
const COMPLETE = `${MARKS_LUA}
local current = redis.call('GET', claim)
if current and current ~= ARGV[4] then return 0 end
if not current then
  local _, mark = find_mark()
  if mark then
    if mark == ARGV[5] then return 1 end
    return 0
  end
end
add_mark(ARGV[5], ARGV[6])
if current then redis.call('DEL', claim) end
return 1`;

// Re-asserts a processed mark (the same value in the same hash, whose expiry HSET leaves alone), so that the
// connection running it has written the mark: WAIT counts the replicas holding *this connection's* writes,
// and the mark may have been written by another connection or receiver. A replica applies the stream in
// order, so it has the original write (and the `:ttls` entry written with it) before this one.
const TOUCH = `${MARKS_LUA}
local hash, mark = find_mark()
if mark then redis.call('HSET', hash, field, mark) end
return mark`;

// The admin view: `{'~owner', lease left}`, `{first seen, its bucket hash's TTL left}` or nil.
const INSPECT = `${MARKS_LUA}
return held()`;

// KEYS[3]: failure counter. Forgets the key: its claim, its failure count and its mark, in whichever bucket.
const DELETE = `${MARKS_LUA}
local state = held()
local hash, mark = find_mark()
while mark do
  redis.call('HDEL', hash, field)
  hash, mark = find_mark()
end
redis.call('DEL', claim, KEYS[3])
return state`;

// KEYS: claim, its failure counter. ARGV: owner, counter TTL ms (0: failures are not counted).
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

/** A claim `['~owner', lease left]`, a mark `[first seen, TTL left]`, or poison `['!', failures]`. */
type HeldReply = [string, number];
type ClaimReply = 1 | HeldReply;

/** The location of a mark, as a script built on MARKS_LUA takes it: 2 keys then 3 arguments. */
type Located = [claim: string, ttls: string, hashPrefix: string, hashSuffix: string, field: string];

/** The same with the failure counter as third key: the scripts that count or clear MAX_ATTEMPTS failures. */
type LocatedWithFailures = [
  claim: string,
  ttls: string,
  failures: string,
  hashPrefix: string,
  hashSuffix: string,
  field: string,
];

/** The commands `defineCommand` adds; ioredis cannot type them itself. */
interface DedupCommands {
  ebdedupClaim(
    ...args: [...LocatedWithFailures, owner: string, leaseMs: number, maxAttempts: number]
  ): Promise<ClaimReply>;
  ebdedupComplete(
    ...args: [...Located, owner: string, firstSeenAt: number, ttlSeconds: number]
  ): Promise<number>;
  ebdedupRelease(claim: string, failures: string, owner: string, failuresTtlMs: number): Promise<number>;
  ebdedupRenew(claim: string, owner: string, leaseMs: number): Promise<number>;
  ebdedupTouch(...args: Located): Promise<string | null>;
  ebdedupInspect(...args: Located): Promise<HeldReply | null>;
  ebdedupDelete(...args: LocatedWithFailures): Promise<HeldReply | null>;
}

/** The arguments of a script built on MARKS_LUA that takes no keys of its own. */
export function located(location: DedupLocation): Located {
  return [location.claim, location.ttls, location.hashPrefix, location.hashSuffix, location.field];
}

export type RedisClient = Redis | Cluster;

export function defineDedupCommands(client: RedisClient): RedisClient & DedupCommands {
  client.defineCommand('ebdedupClaim', { numberOfKeys: 3, lua: CLAIM });
  client.defineCommand('ebdedupComplete', { numberOfKeys: 2, lua: COMPLETE });
  client.defineCommand('ebdedupRelease', { numberOfKeys: 2, lua: RELEASE });
  client.defineCommand('ebdedupRenew', { numberOfKeys: 1, lua: RENEW });
  client.defineCommand('ebdedupTouch', { numberOfKeys: 2, lua: TOUCH });
  client.defineCommand('ebdedupInspect', { numberOfKeys: 2, lua: INSPECT });
  client.defineCommand('ebdedupDelete', { numberOfKeys: 3, lua: DELETE });
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

/** Reads what a location holds: `~token` is a claim, digits are a processed first-seen time. */
function inspection(reply: HeldReply | null): KeyInspection {
  if (reply === null) return { state: 'absent' };
  const [text, pttl] = reply;
  const remaining = typeof pttl === 'number' ? pttl : -1;
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

/**
 * ioredis gives a connection up for good (status `end`: every command fails with "Connection is closed.", and no
 * reconnection follows) when a reconnection attempt fails inside its connector. With Sentinel's failover
 * detector that happens when a sentinel announces the new master while the client is reconnecting to the old
 * one (the detector's connections are not cleaned up: https://github.com/redis/ioredis/issues/1362); the
 * failover chaos run saw receivers answer 503 until EventBridge dead-lettered (README, Failover figures).
 * A receiver must not need a restart after a failover, so a connection that ended while its store is open is
 * connected again. Cluster clients retry by themselves (clusterRetryStrategy never gives up).
 */
function reconnectWhenEnded(client: RedisClient, storeClosed: () => boolean): void {
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
      for (const client of this.waitPool.clients) reconnectWhenEnded(client, () => this.closed);
    }
    // A shared client is its owner's to close and to revive.
    if (this.ownsClient) reconnectWhenEnded(this.client, () => this.closed);
  }

  /**
   * Sends `command` and then `WAIT waitReplicas waitTimeoutMs` on one connection of the WAIT pool, and
   * resolves to the command's reply once enough replicas hold what it wrote.
   */
  private async writeAndWait(
    operation: ReplicationWaitError['operation'],
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

  /** Where this store keeps dedup key `key`: tagged by its first two characters (see the top of this file). */
  location(key: string): DedupLocation {
    return storeLocation(this.prefix, key);
  }

  /**
   * With REDIS_WAIT_REPLICAS, resolves once that many replicas hold the processed mark of the location whose
   * claim key is `dedupKey` (written by any connection); throws ReplicationWaitError otherwise. For sinks that
   * write the mark themselves (redis-stream), which say what they did: `append` (a new event) or `duplicate`.
   * Without `operation` (a caller that does not pass it on) the error says `confirm`.
   */
  async confirmReplicated(dedupKey: string, operation: SinkWriteOperation = 'confirm'): Promise<void> {
    if (!this.waitPool) return;
    await this.writeAndWait(operation, this.waitPool, [
      'ebdedupTouch',
      ...located(locationOfClaim(this.prefix, dedupKey)),
    ]);
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
    const location = this.location(key);
    let reply: ClaimReply;
    try {
      reply = await this.client.ebdedupClaim(
        location.claim,
        location.ttls,
        location.failures,
        location.hashPrefix,
        location.hashSuffix,
        location.field,
        `~${token}`,
        leaseMs,
        this.maxAttempts,
      );
    } catch (error) {
      this.abandonClaim(location, token);
      throw storeFailure('claim', error);
    }
    if (reply === 1) return { outcome: 'claimed', token };
    const [value, pttl] = reply;
    if (value === '!') return { outcome: 'poisoned', failures: pttl };
    if (value.startsWith('~')) return { outcome: 'in_progress', leaseRemainingMs: Math.max(pttl, 0) };
    // A duplicate answers 200 as well: with REDIS_WAIT_REPLICAS, only once the replicas hold the mark.
    if (this.waitPool) {
      await this.writeAndWait('duplicate', this.waitPool, ['ebdedupTouch', ...located(location)]);
    }
    return { outcome: 'duplicate', firstSeenAt: Number(value) };
  }

  /**
   * A claim that failed (timed out, connection lost) may still have landed, and would then block the event
   * with 409s for a whole lease though nobody processes it. Releasing the token undoes it: retried until Redis
   * answers, without counting a MAX_ATTEMPTS failure.
   */
  private abandonClaim(location: DedupLocation, token: string): void {
    const giveUpAt = Date.now() + 60_000;
    const attempt = (delay: number): void => {
      this.client.ebdedupRelease(location.claim, location.failures, `~${token}`, 0).catch(() => {
        if (Date.now() >= giveUpAt || this.closed) return;
        setTimeout(() => attempt(Math.min(delay * 2, 1000)), delay).unref();
      });
    };
    attempt(100);
  }

  async completeClaim(key: string, token: string, firstSeenAt: number, ttlSeconds: number): Promise<boolean> {
    const args: Parameters<DedupCommands['ebdedupComplete']> = [
      ...located(this.location(key)),
      `~${token}`,
      firstSeenAt,
      ttlSeconds,
    ];
    if (this.waitPool) {
      return (await this.writeAndWait('complete', this.waitPool, ['ebdedupComplete', ...args])) === 1;
    }
    try {
      return (await this.client.ebdedupComplete(...args)) === 1;
    } catch (error) {
      throw storeFailure('complete', error);
    }
  }

  async releaseClaim(key: string, token: string): Promise<boolean> {
    const location = this.location(key);
    try {
      return (
        (await this.client.ebdedupRelease(
          location.claim,
          location.failures,
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
      return (await this.client.ebdedupRenew(this.location(key).claim, `~${token}`, leaseMs)) === 1;
    } catch (error) {
      throw storeFailure('renew', error);
    }
  }

  async inspectKey(key: string): Promise<KeyInspection> {
    return this.inspectLocation(this.location(key));
  }

  /** Forgets a key, and its MAX_ATTEMPTS failure count with it, so a deliberate reprocess can run. */
  async deleteKey(key: string): Promise<KeyInspection> {
    return this.deleteLocation(this.location(key));
  }

  /** The admin view of a location a sink placed elsewhere (redis-stream), named by its claim key. */
  async inspectRedisKey(dedupKey: string): Promise<KeyInspection> {
    return this.inspectLocation(locationOfClaim(this.prefix, dedupKey));
  }

  /** Forgets a location a sink placed elsewhere (redis-stream), named by its claim key, and tells what it held. */
  async deleteRedisKey(dedupKey: string): Promise<KeyInspection> {
    return this.deleteLocation(locationOfClaim(this.prefix, dedupKey));
  }

  private async inspectLocation(location: DedupLocation): Promise<KeyInspection> {
    let reply: HeldReply | null;
    try {
      // One script: the claim or the mark, and its TTL, from one moment (all on one slot of a Cluster).
      reply = await this.client.ebdedupInspect(...located(location));
    } catch (error) {
      throw storeFailure('inspect', error);
    }
    return inspection(reply);
  }

  /** Deletes the claim, the failure count and the mark (whichever bucket holds it) atomically. */
  private async deleteLocation(location: DedupLocation): Promise<KeyInspection> {
    let reply: HeldReply | null;
    try {
      reply = await this.client.ebdedupDelete(
        location.claim,
        location.ttls,
        location.failures,
        location.hashPrefix,
        location.hashSuffix,
        location.field,
      );
    } catch (error) {
      throw storeFailure('delete', error);
    }
    return inspection(reply);
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
