import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createRedisClient, RedisStore } from '../../src/store/redis/index.js';
import { sleep } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';

/**
 * The store sends the claims (and the completions) issued in one turn of the event loop as one script call
 * (src/store/redis/batcher.ts), each caller getting its own result. Observed from the server's side: INFO
 * commandstats counts the EVALSHA calls.
 */

let redis: RedisServer;
let observer: Redis;

beforeAll(async () => {
  redis = await RedisServer.start();
  observer = new Redis(redis.url);
});

afterAll(async () => {
  observer.disconnect();
  await redis.close();
});

const digest = () => createHash('sha256').update(randomUUID()).digest('base64url');

async function scriptCalls(): Promise<number> {
  const stats = await observer.info('commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(match[1]);
  return calls;
}

async function openStore(server: RedisServer = redis, maxAttempts = 0): Promise<RedisStore> {
  const store = new RedisStore({
    client: createRedisClient({ url: server.url, commandTimeoutMs: 500 }),
    prefix: 'ebdedup:',
    maxAttempts,
  });
  onTestFinished(() => store.close());
  await store.connect();
  // The first call loads the scripts (EVALSHA, then EVAL): not what the tests count.
  const warm = digest();
  const claim = await store.claimKey(warm, 1000);
  if (claim.outcome === 'claimed') await store.completeClaim(warm, claim.token, 1, 86_400);
  return store;
}

describe('redis store: batching', () => {
  it('sends the claims of one turn as one script call, and their completions as another', async () => {
    // Arrange
    const store = await openStore();
    const keys = Array.from({ length: 40 }, digest);
    const before = await scriptCalls();

    // Act
    const claims = await Promise.all(keys.map((key) => store.claimKey(key, 5000)));
    const afterClaims = await scriptCalls();
    const completed = await Promise.all(
      keys.map((key, index) => {
        const claim = claims[index];
        if (claim?.outcome !== 'claimed') throw new Error(`expected a claim, got ${claim?.outcome}`);
        return store.completeClaim(key, claim.token, 1_700_000_000_000 + index, 86_400);
      }),
    );
    const afterCompletions = await scriptCalls();
    const again = await Promise.all(keys.map((key) => store.claimKey(key, 5000)));

    // Assert
    expect(new Set(claims.map((claim) => (claim.outcome === 'claimed' ? claim.token : ''))).size).toBe(40);
    expect(afterClaims - before).toBe(1);
    expect(completed).toEqual(keys.map(() => true));
    expect(afterCompletions - afterClaims).toBe(1);
    expect(again).toEqual(
      keys.map((_, index) => ({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_000 + index })),
    );
  });

  it('gives each caller in one batch its own outcome: claimed, duplicate, in progress, poisoned', async () => {
    // Arrange
    const store = await openStore(redis, 1);
    const [fresh, done, held, poison] = [digest(), digest(), digest(), digest()] as const;
    const doneClaim = await store.claimKey(done, 5000);
    if (doneClaim.outcome !== 'claimed') throw new Error('expected a claim');
    await store.completeClaim(done, doneClaim.token, 1_700_000_000_007, 86_400);
    await store.claimKey(held, 5000);
    const poisonClaim = await store.claimKey(poison, 5000);
    if (poisonClaim.outcome !== 'claimed') throw new Error('expected a claim');
    await store.releaseClaim(poison, poisonClaim.token);
    const before = await scriptCalls();

    // Act
    const outcomes = await Promise.all([fresh, done, held, poison].map((key) => store.claimKey(key, 5000)));

    // Assert
    expect(await scriptCalls()).toBe(before + 1);
    expect(outcomes[0]).toMatchObject({ outcome: 'claimed' });
    expect(outcomes[1]).toEqual({ outcome: 'duplicate', firstSeenAt: 1_700_000_000_007 });
    expect(outcomes[2]).toMatchObject({ outcome: 'in_progress' });
    expect(outcomes[3]).toEqual({ outcome: 'poisoned', failures: 1 });
  });

  it('sends a lone claim at the end of its own turn', async () => {
    // Arrange
    const store = await openStore();
    const before = await scriptCalls();

    // Act
    for (let index = 0; index < 5; index += 1) await store.claimKey(digest(), 5000);

    // Assert
    expect(await scriptCalls()).toBe(before + 5);
  });

  it('fails every caller of a batch that fails, and leaves none of its claims behind', async () => {
    // Arrange: a Redis of the test's own, frozen while the batch is in flight.
    const own = await RedisServer.start();
    onTestFinished(() => own.close());
    const store = await openStore(own);
    const keys = Array.from({ length: 10 }, digest);

    // Act: the batch reaches the frozen Redis, times out, and lands when Redis thaws.
    own.freeze();
    const failures = await Promise.all(
      keys.map((key) => store.claimKey(key, 30_000).catch((error: unknown) => error)),
    );
    own.thaw();
    await sleep(1500);
    const retries = await Promise.all(keys.map((key) => store.claimKey(key, 30_000)));

    // Assert
    for (const failure of failures) expect((failure as Error).name).toBe('StoreError');
    expect(retries.map((retry) => retry.outcome)).toEqual(keys.map(() => 'claimed'));
  });
});
