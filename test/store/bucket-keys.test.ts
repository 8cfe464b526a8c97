import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { createRedisClient, RedisStore } from '../../src/store/redis/index.js';
import { RedisServer } from '../helpers/redis-server.js';
import { processed } from '../helpers/stores.js';

/**
 * Every bucket hash a script touches is passed in KEYS, named by the client from its own clock and the TTLs
 * it knows (src/store/redis/bucket-keys.ts). A TTL it does not know, or a clock off Redis's by more than the
 * margin, is answered by the script (nothing written), learnt, and the call sent again: the outcome is the
 * same as with a client that knew.
 */

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

const digest = () => createHash('sha256').update(randomUUID()).digest('base64url');

async function openStore(ttlSeconds: number[] = [86_400]): Promise<RedisStore> {
  const store = new RedisStore({
    client: createRedisClient({ url: redis.url, commandTimeoutMs: 2000 }),
    prefix: 'ebdedup:',
    ttlSeconds,
  });
  onTestFinished(() => store.close());
  await store.connect();
  return store;
}

describe('redis store: the bucket hashes a script is passed', () => {
  it('finds a mark written under a TTL this receiver was not configured with', async () => {
    // Arrange: another receiver records the key with a rule's TTL of two days.
    const key = digest();
    await processed(await openStore(), key, 1_700_000_000_001, 172_800);
    const newcomer = await openStore([86_400]);

    // Act
    const outcome = await newcomer.claimKey(key, 5000);

    // Assert
    expect(outcome).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_001 });
  });

  it('finds a mark when this receiver’s clock is an hour off Redis’s', async () => {
    // Arrange: a day-TTL mark, looked up by a receiver whose clock is an hour ahead (a bucket is an hour wide).
    const key = digest();
    await processed(await openStore(), key, 1_700_000_000_002, 86_400);
    const skewed = await openStore();
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 3_600_000);
    onTestFinished(() => {
      vi.restoreAllMocks();
    });

    // Act
    const duplicate = await skewed.claimKey(key, 5000);
    const fresh = digest();
    await processed(skewed, fresh, 1_700_000_000_003, 86_400);
    vi.restoreAllMocks();
    const seenByOthers = await (await openStore()).claimKey(fresh, 5000);

    // Assert: Redis's clock picked the buckets: the mark written by the skewed receiver is where others look.
    expect(duplicate).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_002 });
    expect(seenByOthers).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_003 });
  });
});
