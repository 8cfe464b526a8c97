import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Config } from '../../src/config/index.js';
import {
  bucketWidthMs,
  dedupLocation,
  liveBucketHashes,
  locationOfClaim,
  type RedisStore,
  storeLocation,
} from '../../src/store/redis/index.js';
import { redisStore, testConfig } from '../helpers/app.js';
import { keySlot } from '../helpers/crc16.js';
import { findMark, redisNow, untilNextBucket, via } from '../helpers/marks.js';
import { sleep } from '../helpers/ports.js';
import { processed, redisServerPerFile } from '../helpers/stores.js';

/**
 * The Redis store's layout (src/store/redis/layout.ts): processed marks are fields of hashes bucketed by Redis's
 * clock, W = ttl / 24 wide, each expiring ttl after its bucket ends. Tiny TTLs stand in for a day so that
 * bucket boundaries and expiries happen within a test, on real Redis time (no fake timers: the clock is
 * Redis's).
 */

const { redis, client } = redisServerPerFile();

const digest = () => createHash('sha256').update(randomUUID()).digest('base64url');

async function freshStore(config: Config = testConfig()): Promise<RedisStore> {
  const store = redisStore(redis().url, config) as RedisStore;
  await store.connect();
  onTestFinished(() => store.close());
  return store;
}

describe('redis store: time-bucketed marks', () => {
  it('finds a mark written in the previous bucket (ttl 24 s: W = 1 s)', async () => {
    // Arrange
    const store = await freshStore();
    const key = digest();
    await untilNextBucket(via(client()), 24);
    await processed(store, key, 1_700_000_000_000, 24);
    const written = await findMark(via(client()), store.location(key), 24);

    // Act: past the bucket boundary, so the mark is in an older bucket than the one being written.
    await untilNextBucket(via(client()), 24);
    const current = liveBucketHashes(store.location(key), 24, await redisNow(via(client())))[0];
    const again = await store.claimKey(key, 5000);

    // Assert
    expect(written?.hash).not.toBe(current);
    expect(await client().hexists(current as string, store.location(key).field)).toBe(0);
    expect(again).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_000 });
  });

  it('keeps a mark at least ttl and at most ttl + W (1/24 more), wherever in its bucket it is written', async () => {
    // Arrange: ttl 2.4 s, W = 100 ms; writes at 15 points of the bucket.
    const store = await freshStore();
    const run = via(client());
    const lifetimes: { least: number; most: number }[] = [];

    // Act
    for (let write = 0; write < 15; write += 1) {
      const key = digest();
      const before = await redisNow(run);
      await processed(store, key, Date.now(), 2.4);
      const after = await redisNow(run);
      const mark = await findMark(run, store.location(key), 2.4);
      const expiresAt = Number(await client().call('PEXPIRETIME', mark?.hash as string));
      // The write happened between `before` and `after`, so its lifetime lies within these bounds.
      lifetimes.push({ least: expiresAt - after, most: expiresAt - before });
      await sleep(7);
    }

    // Assert
    expect(bucketWidthMs(2.4)).toBe(100);
    for (const { least, most } of lifetimes) {
      expect(most).toBeGreaterThan(2400);
      expect(least).toBeLessThanOrEqual(2500);
    }
  });

  it('forgets a mark once its bucket hash expires, no later than ttl + W after it was written', async () => {
    // Arrange: ttl 1.2 s, W = 50 ms.
    const store = await freshStore();
    const key = digest();
    const started = performance.now();
    await processed(store, key, 1_700_000_000_000, 1.2);

    // Act: ask until the key is claimable again.
    let outcome = (await store.claimKey(key, 100)).outcome;
    while (outcome === 'duplicate' && performance.now() - started < 5000) {
      await sleep(10);
      outcome = (await store.claimKey(key, 100)).outcome;
    }
    const gone = performance.now() - started;

    // Assert: never before the TTL; after ttl + W, with room for a loaded machine's scheduling.
    expect(outcome).toBe('claimed');
    expect(gone).toBeGreaterThanOrEqual(1200);
    expect(gone).toBeLessThan(1250 + 300);
  });

  it('finds a mark whatever TTL it was written with, from another store too (claimKey is not told the TTL)', async () => {
    // Arrange: a rule's own TTL next to the default one.
    const store = await freshStore();
    const other = await freshStore();
    const ruled = digest();
    const plain = digest();

    // Act
    await processed(store, ruled, 1_700_000_000_001, 172_800);
    await processed(store, plain, 1_700_000_000_002, 86_400);

    // Assert
    expect(await other.claimKey(ruled, 5000)).toEqual({
      outcome: 'duplicate',
      firstSeenAt: 1_700_000_000_001,
    });
    expect(await other.claimKey(plain, 5000)).toEqual({
      outcome: 'duplicate',
      firstSeenAt: 1_700_000_000_002,
    });
    const inspected = await other.inspectKey(ruled);
    expect(inspected).toMatchObject({ state: 'processed', firstSeenAt: 1_700_000_000_001 });
    if (inspected.state === 'processed') expect(inspected.ttlRemainingMs).toBeGreaterThan(172_790_000);
    expect(await findMark(via(client()), store.location(ruled), 172_800)).toMatchObject({
      hash: expect.stringMatching(/:172800:\d+$/),
    });
  });

  it('re-records a completion without a claim in the current bucket, and then finds it only once', async () => {
    // Arrange: the lease ran out before the sink's success was recorded (no claim, no mark).
    const store = await freshStore();
    const key = digest();
    const claim = await store.claimKey(key, 50);
    if (claim.outcome !== 'claimed') throw new Error('expected a claim');
    await sleep(100);

    // Act
    const recorded = await store.completeClaim(key, claim.token, 1_700_000_000_003, 86_400);
    const retried = await store.completeClaim(key, claim.token, 1_700_000_000_003, 86_400);
    const someoneElse = await store.completeClaim(key, 'another-token', 1_700_000_000_004, 86_400);
    const deleted = await store.deleteKey(key);

    // Assert
    expect([recorded, retried, someoneElse]).toEqual([true, true, false]);
    expect(deleted).toMatchObject({ state: 'processed', firstSeenAt: 1_700_000_000_003 });
    expect(await store.inspectKey(key)).toEqual({ state: 'absent' });
  });

  it('spreads one bucket over 4,096 hashes, and keeps them listpacks', async () => {
    // Arrange
    await client().flushall();
    // A command timeout for a loaded machine: 500 ms (the default) failed rounds here while the suite ran beside.
    const store = await freshStore(testConfig({ REDIS_COMMAND_TIMEOUT_MS: '10000' }));
    const keys = Array.from({ length: 3000 }, digest);

    // Act
    // In rounds of 500: the layout is under test here, not how long a burst of 3,000 waits for Redis.
    for (let start = 0; start < keys.length; start += 500) {
      await Promise.all(
        keys
          .slice(start, start + 500)
          .map((key, index) => processed(store, key, 1_700_000_000_000 + start + index, 86_400)),
      );
    }
    const hashes = await client().keys('ebdedup:{*}:86400:*');

    // Assert: 3,000 keys over 64² tags (about 2,100 distinct expected), one bucket, no claims left.
    expect(hashes.length).toBeGreaterThan(1900);
    expect(new Set(hashes.map((hash) => hash.split(':').at(-1))).size).toBeLessThanOrEqual(2);
    expect(await client().keys('ebdedup:{??}[^:]*')).toEqual([]);
    expect(await client().object('ENCODING', hashes[0] as string)).toBe('listpack');
  });
});

describe('redis key names', () => {
  it('puts the claim, the failure counter, the TTL index and every bucket hash of a key on one slot', () => {
    // Arrange
    const key = digest();
    const locations = [
      storeLocation('ebdedup:', key),
      dedupLocation('ebdedup:', 'ebdedup:events', key),
      dedupLocation('ebdedup:', 'p3', key),
    ];

    for (const location of locations) {
      // Act
      const names = [
        location.failures,
        location.ttls,
        ...liveBucketHashes(location, 86_400, Date.now()),
        ...liveBucketHashes(location, 172_800, Date.now()),
      ];

      // Assert
      expect(new Set(names.map(keySlot))).toEqual(new Set([keySlot(location.claim)]));
    }
  });

  it('looks 25 buckets back for the default TTL, one hour wide', () => {
    const location = storeLocation('ebdedup:', digest());

    const names = liveBucketHashes(location, 86_400, Date.UTC(2026, 10, 27, 21, 30));

    expect(bucketWidthMs(86_400)).toBe(3_600_000);
    expect(names).toHaveLength(25);
  });

  it('names a store location by the key’s first two characters and a sink’s by its tag, with a shard suffix; a mark keeps 30 more characters of a digest', () => {
    const key = 'BdbkwYv_0123456789abcdefghijklmnopqrstuvwxy';

    const store = storeLocation('ebdedup:', key);
    const sink = dedupLocation('ebdedup:', 'ebdedup:events', key);
    const notADigest = storeLocation('ebdedup:', '0b9f3c2e-8d4a-4f7e-9a61-5c2d7e8f9a0b');

    expect(store).toEqual({
      claim: `ebdedup:{Bd}${key}`,
      failures: `ebdedup:{Bd}${key}:f`,
      ttls: 'ebdedup:{Bd}:ttls',
      hashPrefix: 'ebdedup:{Bd}:',
      hashSuffix: '',
      field: 'bkwYv_0123456789abcdefghijklmn',
    });
    expect(sink).toMatchObject({
      claim: `ebdedup:{ebdedup:events}${key}`,
      hashSuffix: ':Bd',
      field: 'bkwYv_0123456789abcdefghijklmn',
    });
    expect(notADigest.field).toBe('9f3c2e-8d4a-4f7e-9a61-5c2d7e8f9a0b');
    expect(locationOfClaim('ebdedup:', sink.claim)).toEqual(sink);
    expect(locationOfClaim('ebdedup:', store.claim)).toEqual(store);
  });
});
