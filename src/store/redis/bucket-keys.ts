import { StoreError } from '../types.js';
import { bucketHash, bucketWidthMs, type DedupLocation, ttlMs, ttlName } from './layout.js';

/**
 * Names, client-side, the bucket hashes a script may touch, so that every key it touches is in KEYS, as Redis
 * asks of scripts (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/#script-parameterization).
 *
 * Which buckets are live is Redis's clock's to say (TIME inside the script, one clock for every receiver), so
 * for each TTL it knows of the client passes the buckets of [now − ttl − margin, now + margin] by its own
 * clock (25 to 27 hash names), and the script picks the live ones among them. The margin is the clock skew
 * tolerated without a round trip: a receiver whose clock is further off gets `{'?clock', redisNow}` back
 * (nothing written), corrects by the difference and sends again, so correctness never depends on the
 * receivers' clocks. The TTLs: DEDUP_TTL_SECONDS (and any the caller configures), every TTL a completion
 * used, and any the `:ttls` hash names that the client did not pass, which the script answers with
 * `{'?ttl', ttl, expiry}`: learnt, and kept while marks of it may live.
 */

/** Clock skew tolerated without a round trip; capped at one bucket so tests' tiny TTLs pass few names. */
const MAX_SKEW_MS = 5000;

/** A marks script's reply that says the client must pass more (marks.lua). */
export type MissingReply = ['?ttl', string, string | number] | ['?clock', number] | ['?lookup'];

export function isMissing(reply: unknown): reply is MissingReply {
  return Array.isArray(reply) && typeof reply[0] === 'string' && reply[0].startsWith('?');
}

export class BucketKeys {
  /** TTL in seconds → until when (Redis's clock, epoch ms) marks of it may live; Infinity: configured. */
  private readonly ttls = new Map<number, number>();
  /** Redis's clock minus this process's, as last learnt. */
  private offsetMs = 0;

  constructor(configured: readonly number[]) {
    for (const ttl of configured) this.ttls.set(ttl, Number.POSITIVE_INFINITY);
  }

  /** Redis's clock, as well as this process knows it. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Remembers a TTL a completion writes with, for as long as its marks may live. */
  use(ttlSeconds: number): void {
    const until = this.now() + ttlMs(ttlSeconds) + 2 * bucketWidthMs(ttlSeconds) + MAX_SKEW_MS;
    if ((this.ttls.get(ttlSeconds) ?? 0) < until) this.ttls.set(ttlSeconds, until);
  }

  /**
   * Appends one event's location as marks.lua's read_location reads it: the claim, `:ttls`, the failure
   * counter when `withFailures`, and bucket hashes to `keys`; the field and where those hashes are to `args`.
   * With `lookup`, the buckets of every TTL known (and `writeTtl`'s) over a whole TTL: what finding a mark
   * needs. Without, only `writeTtl`'s current bucket (one or two names, by the margin): what a write needs.
   */
  append(
    location: DedupLocation,
    withFailures: boolean,
    keys: string[],
    args: (string | number)[],
    options: { writeTtl?: number | undefined; lookup: boolean },
  ): void {
    const { writeTtl, lookup } = options;
    keys.push(location.claim, location.ttls);
    if (withFailures) keys.push(location.failures);
    if (writeTtl !== undefined) this.use(writeTtl);
    const now = this.now();
    if (!lookup) {
      if (writeTtl === undefined) {
        args.push(location.field, 0, 0);
      } else {
        args.push(location.field, 0, 1);
        this.appendSpan(location, writeTtl, now, 0, keys, args);
      }
      return;
    }
    const countAt = args.push(location.field, 1, 0) - 1;
    let count = 0;
    for (const [ttl, until] of this.ttls) {
      if (until <= now) {
        this.ttls.delete(ttl);
        continue;
      }
      this.appendSpan(location, ttl, now, ttlMs(ttl), keys, args);
      count += 1;
    }
    args[countAt] = count;
  }

  /** One TTL's buckets over [now − span − margin, now + margin], newest first, and where they are. */
  private appendSpan(
    location: DedupLocation,
    ttl: number,
    now: number,
    spanMs: number,
    keys: string[],
    args: (string | number)[],
  ): void {
    const width = bucketWidthMs(ttl);
    const margin = Math.min(MAX_SKEW_MS, width);
    const newest = Math.floor((now + margin) / width);
    const oldest = Math.floor((now - spanMs - margin) / width);
    args.push(ttlName(ttl), newest, newest - oldest + 1);
    for (let bucket = newest; bucket >= oldest; bucket -= 1) keys.push(bucketHash(location, ttl, bucket));
  }

  /**
   * Learns what a `{'?…'}` reply says was missing, so that sending again passes it. Throws a StoreError when
   * it teaches nothing new (a clock still off after correcting: Redis's time jumping back and forth).
   */
  learn(reply: MissingReply): void {
    if (reply[0] === '?lookup') return;
    if (reply[0] === '?ttl') {
      const ttl = Number(reply[1]);
      const until = Math.max(Number(reply[2]), this.now() + ttlMs(ttl) + MAX_SKEW_MS);
      if (!(ttl > 0) || (this.ttls.get(ttl) ?? 0) >= until) {
        throw new StoreError(`redis: the script asked again for the buckets of TTL ${reply[1]}`);
      }
      this.ttls.set(ttl, until);
      return;
    }
    const offset = Number(reply[1]) - Date.now();
    if (!Number.isFinite(offset)) throw new StoreError('redis: unreadable clock in a script reply');
    this.offsetMs = offset;
  }
}
