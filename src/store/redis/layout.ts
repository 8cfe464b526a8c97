import { StoreError } from '../types.js';

/**
 * Where the Redis store keeps things: every key name is decided here.
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
 * tag, so either way a bucket is split into about 4,096 hashes. Every name of one location shares its tag,
 * so a script touching them runs on one Redis Cluster slot
 * (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
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
 * a mark written under any TTL, by any receiver, before a configuration change, be found. The scripts are
 * passed every bucket hash they may touch in KEYS (bucket-keys.ts says how the client names them).
 *
 * Why about 4,096 hashes per bucket: a hash of at most `hash-max-listpack-entries` (512 by default) fields
 * of at most 64 bytes is a listpack, about 48–55 B per mark; above, a hashtable, about 89–101 B per mark
 * (dictEntry, field and value sds and table slots, but no robj and no expires entry). 4,096 hashes keep a
 * bucket a listpack up to about 2 million marks (580 events/s with the default TTL), and even a hashtable
 * is under 110 B. Below about 10 events/s a hash holds few marks and its own cost (and its tag's `:ttls`)
 * dominates: more bytes per key, few in all (at most about 4,096 × 25 hashes). The price is Redis CPU: a
 * claim of a new key looks in 25 hashes instead of one key. `bench/store-memory.ts` measures both.
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

/** What Redis Cluster hashes in a key: the first non-empty `{…}`, else the whole name. */
export function hashTagOf(name: string): string {
  const open = name.indexOf('{');
  if (open >= 0) {
    const close = name.indexOf('}', open + 1);
    if (close > open + 1) return name.slice(open + 1, close);
  }
  return name;
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
export function ttlName(ttlSeconds: number): string {
  return String(ttlSeconds);
}

/** A TTL in milliseconds (the same arithmetic as marks.lua's ttl_ms). */
export function ttlMs(ttlSeconds: number): number {
  return Math.floor(ttlSeconds * 1000 + 0.5);
}

/** A bucket's width: ttl / 24, rounded up to a millisecond (the same arithmetic as marks.lua's width_ms). */
export function bucketWidthMs(ttlSeconds: number): number {
  return Math.ceil(ttlMs(ttlSeconds) / 24);
}

/** The name of the bucket hash `bucket` of a TTL at a location. */
export function bucketHash(location: DedupLocation, ttlSeconds: number, bucket: number): string {
  return `${location.hashPrefix}${ttlName(ttlSeconds)}:${bucket}${location.hashSuffix}`;
}

/** The bucket hashes that can hold a live mark of this TTL at `nowMs` (Redis's clock), newest first. */
export function liveBucketHashes(location: DedupLocation, ttlSeconds: number, nowMs: number): string[] {
  const width = bucketWidthMs(ttlSeconds);
  const names: string[] = [];
  for (
    let bucket = Math.floor(nowMs / width);
    bucket >= Math.floor((nowMs - ttlMs(ttlSeconds)) / width);
    bucket -= 1
  ) {
    names.push(bucketHash(location, ttlSeconds, bucket));
  }
  return names;
}
