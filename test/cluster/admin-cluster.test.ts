import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createRedisClient, RedisStore } from '../../src/store/redis/index.js';
import { RedisCluster } from '../helpers/redis-cluster.js';

/** The admin methods (inspectKey/deleteKey: one script each over the claim and the bucket hashes) on a real Redis Cluster. */

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await RedisCluster.start({ nodeTimeoutMs: 3000 });
});

afterAll(async () => {
  await cluster?.close();
});

const dedupKey = () => createHash('sha256').update(randomUUID()).digest('base64url');

describe('admin methods on Redis Cluster', { timeout: 60_000 }, () => {
  it('inspect and delete keys whichever master holds their slot', async () => {
    // Arrange
    const client = createRedisClient({ clusterNodes: cluster.seeds, commandTimeoutMs: 500 });
    client.on('error', () => {});
    const store = new RedisStore({ client, prefix: 'ebdedup:' });
    onTestFinished(() => store.close());
    expect(await store.connect()).toBe(true);
    const keys = Array.from({ length: 12 }, dedupKey);
    const masters = new Set(
      await Promise.all(keys.map(async (key) => (await cluster.masterOf(store.location(key).claim)).port)),
    );

    // Act
    const states = [];
    for (const key of keys) {
      const claim = await store.claimKey(key, 10_000);
      if (claim.outcome !== 'claimed') throw new Error('expected a claim');
      states.push((await store.inspectKey(key)).state);
      await store.completeClaim(key, claim.token, 1_700_000_000_000, 86_400);
      states.push((await store.inspectKey(key)).state);
      states.push((await store.deleteKey(key)).state);
      states.push((await store.inspectKey(key)).state);
    }

    // Assert
    expect(masters.size).toBeGreaterThan(1);
    expect(new Set(states.filter((_, index) => index % 4 === 0))).toEqual(new Set(['in_progress']));
    expect(new Set(states.filter((_, index) => index % 4 === 1))).toEqual(new Set(['processed']));
    expect(new Set(states.filter((_, index) => index % 4 === 2))).toEqual(new Set(['processed']));
    expect(new Set(states.filter((_, index) => index % 4 === 3))).toEqual(new Set(['absent']));
  });
});
