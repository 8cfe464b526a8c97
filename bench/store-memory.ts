import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  bucketHash,
  bucketWidthMs,
  createRedisClient,
  RedisStore,
  storeLocation,
} from '../src/store/redis/index.js';
import { RedisProcess, sleep } from './lib/procs.js';

/**
 * Redis memory per retained processed key in the store's layout (src/store/redis/layout.ts), and the Redis CPU of a
 * claim, on a fresh `redis-server` per measurement (issue 7: at most 110 B per key).
 *
 *   node --import tsx bench/store-memory.ts            # about a minute
 *   node --import tsx bench/store-memory.ts 1200 2000  # only the steady state, at these events/s
 *
 * 1. Through the store: N keys claimed and completed with the real scripts, INFO memory `used_memory` before
 *    and after. They all land in the current bucket, as a burst would.
 * 2. At steady state with the default TTL: a day of keys at a given rate fills 24 one-hour buckets (and part of
 *    a 25th) equally, so a mark shares its hash with 3600·rate/4096 others. Written straight into the layout
 *    (HSET into the live buckets, PEXPIREAT, the `:ttls` entry), for the 64 tags starting with `A` only (1/64
 *    of the keyspace: the same hashes, as full as the whole would make them). Then the Redis CPU of a claim
 *    (INFO commandstats, EVALSHA µs per call) that looks through those 25 buckets.
 */

const TTL = 86_400;
const TAGS_SAMPLED = 64;
const TAGS = 64 * 64;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function digest(seed: string): string {
  return createHash('sha256').update(seed).digest('base64url');
}

async function usedMemory(client: Redis): Promise<number> {
  await sleep(300);
  return Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
}

/**
 * Redis's own time per EVALSHA (INFO commandstats) over `claims` calls made one after another; the least of
 * three rounds, since other processes on the machine stretch what Redis measures.
 */
async function claimMicros(client: Redis, claim: (index: number) => Promise<unknown>): Promise<number> {
  let least = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round += 1) {
    await client.config('RESETSTAT');
    for (let index = 0; index < 1000; index += 1) await claim(round * 1000 + index);
    const stats = await client.info('commandstats');
    least = Math.min(least, Number(/cmdstat_evalsha:.*usec_per_call=([\d.]+)/.exec(stats)?.[1]));
  }
  return least;
}

async function encodings(client: Redis, pattern: string): Promise<string> {
  const counts = new Map<string, number>();
  let cursor = '0';
  let seen = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys.slice(0, 200 - seen)) {
      const encoding = String(await client.object('ENCODING', key));
      counts.set(encoding, (counts.get(encoding) ?? 0) + 1);
      seen += 1;
    }
  } while (cursor !== '0' && seen < 200);
  return [...counts].map(([encoding, count]) => `${encoding} ${count}`).join(', ');
}

async function throughStore(count: number): Promise<void> {
  const redis = await RedisProcess.start(undefined);
  try {
    const store = new RedisStore({
      client: createRedisClient({ url: redis.url, commandTimeoutMs: 10_000 }),
      prefix: 'ebdedup:',
    });
    await store.connect();
    const before = await usedMemory(redis.client);
    for (let start = 0; start < count; start += 2000) {
      await Promise.all(
        Array.from({ length: Math.min(2000, count - start) }, async (_, offset) => {
          const key = digest(`through-store ${start + offset}`);
          const claim = await store.claimKey(key, 30_000);
          if (claim.outcome !== 'claimed') throw new Error(`expected a claim, got ${claim.outcome}`);
          await store.completeClaim(key, claim.token, Date.now(), TTL);
        }),
      );
    }
    const after = await usedMemory(redis.client);
    const keys = await redis.dbsize();
    const hashes = (await redis.client.keys('ebdedup:{*}:86400:*')).length;
    const sample = await encodings(redis.client, 'ebdedup:{*}:86400:*');
    await store.close();
    out(
      `through the store  ${String(count).padStart(9)} keys  ${((after - before) / count).toFixed(1).padStart(6)} B/key` +
        `  (used_memory +${after - before} B, ${keys} Redis keys of which ${hashes} bucket hashes, ${(count / hashes).toFixed(1)} marks/hash, ${sample})`,
    );
  } finally {
    await redis.stop();
  }
}

async function oneKeyPerEvent(count: number): Promise<void> {
  const redis = await RedisProcess.start(undefined);
  try {
    const before = await usedMemory(redis.client);
    for (let start = 0; start < count; start += 5000) {
      const pipeline = redis.client.pipeline();
      for (let index = start; index < Math.min(count, start + 5000); index += 1) {
        pipeline.set(`ebdedup:{${digest(`old ${index}`)}}`, String(Date.now()), 'PX', TTL * 1000);
      }
      await pipeline.exec();
    }
    const after = await usedMemory(redis.client);
    // The claim script before issue 7 (GET, then SET with PX), for the Redis CPU of a claim.
    redis.client.defineCommand('oldClaim', {
      numberOfKeys: 2,
      lua: `local current = redis.call('GET', KEYS[1])
if current then return {current, redis.call('PTTL', KEYS[1])} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,
    });
    const call = redis.client as Redis & {
      oldClaim(key: string, failures: string, owner: string, leaseMs: number): Promise<unknown>;
    };
    const micros = await claimMicros(redis.client, (index) => {
      const key = `ebdedup:{${digest(`old claim ${index}`)}}`;
      return call.oldClaim(key, `${key}:f`, '~token', 30_000);
    });
    out(
      `one key per event  ${String(count).padStart(9)} keys  ${((after - before) / count).toFixed(1).padStart(6)} B/key  (the layout before issue 7, for comparison; a claim ${micros.toFixed(1)} µs of Redis CPU)`,
    );
  } finally {
    await redis.stop();
  }
}

async function steadyState(eventsPerSecond: number): Promise<void> {
  const redis = await RedisProcess.start(undefined);
  const { client } = redis;
  try {
    const width = bucketWidthMs(TTL);
    const [seconds] = await client.time();
    const current = Math.floor((Number(seconds) * 1000) / width);
    const perBucket = Math.round((3600 * eventsPerSecond * TAGS_SAMPLED) / TAGS);
    const sampleTag = (seed: string) => `A${digest(seed).slice(1)}`;
    const before = await usedMemory(client);
    let marks = 0;
    // 24 full buckets: the 25th (the current one) is what a claim is about to write into.
    for (let age = 24; age >= 1; age -= 1) {
      const bucket = current - age + 1;
      const expires = (bucket + 1) * width + TTL * 1000;
      for (let start = 0; start < perBucket; start += 5000) {
        const pipeline = client.pipeline();
        for (let index = start; index < Math.min(perBucket, start + 5000); index += 1) {
          const location = storeLocation('ebdedup:', sampleTag(`steady ${bucket} ${index}`));
          const hash = bucketHash(location, TTL, bucket);
          pipeline.hset(hash, location.field, String(bucket * width + (index % width)));
          pipeline.pexpireat(hash, expires);
          pipeline.hset(location.ttls, String(TTL), String(expires));
          pipeline.pexpireat(location.ttls, expires);
          marks += 1;
        }
        await pipeline.exec();
      }
    }
    const after = await usedMemory(client);
    const sample = await encodings(client, 'ebdedup:{A*}:86400:*');

    const store = new RedisStore({
      client: createRedisClient({ url: redis.url, commandTimeoutMs: 10_000 }),
      prefix: 'ebdedup:',
    });
    await store.connect();
    const micros = await claimMicros(client, (index) => store.claimKey(sampleTag(`claim ${index}`), 30_000));
    await store.close();
    out(
      `steady state ${String(eventsPerSecond).padStart(5)}/s  ${((after - before) / marks).toFixed(1).padStart(6)} B/key` +
        `  (${(perBucket / TAGS_SAMPLED).toFixed(1)} marks/hash, ${sample}; a claim ${micros.toFixed(1)} µs of Redis CPU)`,
    );
  } finally {
    await redis.stop();
  }
}

async function main(): Promise<void> {
  const probe = await RedisProcess.start(undefined);
  out(
    `redis-server ${await probe.version()}, hash-max-listpack-entries ${(await probe.client.config('GET', 'hash-max-listpack-entries'))[1]}`,
  );
  await probe.stop();
  const rates = process.argv.slice(2).map(Number);
  if (rates.length > 0) {
    for (const rate of rates) await steadyState(rate);
    return;
  }
  await oneKeyPerEvent(200_000);
  for (const count of [20_000, 200_000, 1_000_000]) await throughStore(count);
  for (const rate of [1, 10, 100, 580, 1000]) await steadyState(rate);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
