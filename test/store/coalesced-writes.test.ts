import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createRedisClient } from '../../src/store/redis/index.js';
import { RedisServer } from '../helpers/redis-server.js';

/**
 * The store's connection sends the commands of one turn of the event loop in one socket write (coalesceWrites in
 * src/store/redis.ts). Observed from the server's side: Redis counts the read events it processes
 * (`total_reads_processed` in INFO stats), one per arrival of data on a connection.
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

async function readsProcessed(): Promise<number> {
  const stats = await observer.info('stats');
  return Number(/total_reads_processed:(\d+)/.exec(stats)?.[1]);
}

async function openClient() {
  const client = createRedisClient({ url: redis.url, commandTimeoutMs: 1000 });
  onTestFinished(() => client.disconnect());
  await client.connect();
  return client;
}

describe('the Redis connection of the store', () => {
  it('sends the commands of one turn of the event loop to Redis in one write', async () => {
    const client = await openClient();
    const before = await readsProcessed();

    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, index) => client.echo(`same-turn-${index}`)),
    );
    const reads = (await readsProcessed()) - before;

    expect(replies).toEqual(Array.from({ length: 20 }, (_, index) => `same-turn-${index}`));
    // The batch, then the observer's own INFO: two reads, three should the batch be split by the kernel.
    expect(reads).toBeLessThanOrEqual(3);
  });

  it('sends each command at once when every turn has one, so none waits for a later one', async () => {
    const client = await openClient();
    const before = await readsProcessed();

    for (let index = 0; index < 20; index++)
      expect(await client.echo(`own-turn-${index}`)).toBe(`own-turn-${index}`);
    const reads = (await readsProcessed()) - before;

    expect(reads).toBeGreaterThanOrEqual(20);
  });
});
