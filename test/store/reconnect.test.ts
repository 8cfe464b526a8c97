import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, ReplicationWaitError } from '../../src/store/redis/index.js';
import { sleep, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import { openRedisStore } from '../helpers/stores.js';

/**
 * ioredis can give a connection up for good (status `end`), as its Sentinel failover detector does when the new
 * master is announced mid-reconnection (docs/scaling-out.md, Failover figures). The store connects such a connection again,
 * and leaves alone the ones it closed itself.
 */

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

function openStore(options: { waitReplicas?: number } = {}): Promise<RedisStore> {
  return openRedisStore({ url: redis.url }, { waitTimeoutMs: 50, ...options });
}

describe('RedisStore connections that ioredis ended', () => {
  it('connects its connection again when ioredis ended it while the store is open', async () => {
    const store = await openStore();
    const ended = new Promise((resolve) => store.client.once('end', () => resolve(store.client.status)));
    store.client.disconnect();
    const statusWhenEnded = await ended;

    await waitFor(async () => store.client.status === 'ready', 5000, 'the connection to come back');
    const claim = await store.claimKey('revived-key', 10_000);

    expect(statusWhenEnded).toBe('end');
    expect(claim.outcome).toBe('claimed');
  });

  it('connects a WAIT pool connection again too', async () => {
    // No replica here: WAIT answers 0 replicas, which proves the pool connection answered at all.
    const store = await openStore({ waitReplicas: 1 });
    const claim = await store.claimKey('wait-pool-key', 10_000);
    if (claim.outcome !== 'claimed') throw new Error('expected a claim');
    const pool = (store as unknown as { waitPool: { clients: RedisStore['client'][] } }).waitPool.clients;
    const ended = pool.map((client) => new Promise((resolve) => client.once('end', resolve)));
    for (const client of pool) client.disconnect();
    await Promise.all(ended);

    await waitFor(
      async () => pool.every((client) => client.status === 'ready'),
      5000,
      'the pool to come back',
    );
    const completion = await store
      .completeClaim('wait-pool-key', claim.token, 1, 86_400)
      .catch((e: unknown) => e);

    expect(completion).toBeInstanceOf(ReplicationWaitError);
  });

  it('leaves a connection ended once the store is closed', async () => {
    const store = await openStore();

    await store.close();
    await sleep(600);

    expect(store.client.status).toBe('end');
  });
});
