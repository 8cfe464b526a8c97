import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Sink } from '../../src/sinks/types.js';
import { MemoryStore } from '../../src/store/memory.js';
import { createRedisClient, RedisStore } from '../../src/store/redis/index.js';
import { JSON_HEADERS, redisStore, testApp } from '../helpers/app.js';
import { sleep } from '../helpers/ports.js';
import { RedisReplicaSet } from '../helpers/redis-sentinel.js';
import { RedisServer } from '../helpers/redis-server.js';
import { type Json, uniqueEvent } from '../helpers/samples.js';
import { RecordingSink } from '../helpers/sinks.js';

const post = (event: Json) => ({
  method: 'POST' as const,
  url: '/events',
  headers: JSON_HEADERS,
  payload: JSON.stringify(event),
});

describe('MAX_ATTEMPTS: poison events', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.close();
  });

  it.each([
    [
      'redis',
      () =>
        new RedisStore({
          client: createRedisClient({ url: redis.url, commandTimeoutMs: 500 }),
          prefix: 'p:',
          maxAttempts: 2,
        }),
    ],
    ['memory', () => new MemoryStore({ maxAttempts: 2 })],
  ])(
    'answers 422 poison_event once processing failed MAX_ATTEMPTS times (%s store)',
    async (_name, makeStore) => {
      // Arrange
      const sink = new RecordingSink({ failFirst: 100 });
      const { app } = await testApp({ store: makeStore(), sink, env: { MAX_ATTEMPTS: '2' } });
      const event = uniqueEvent();
      const healthy = uniqueEvent();

      // Act
      const first = await app.inject(post(event));
      const second = await app.inject(post(event));
      const third = await app.inject(post(event));
      const other = await app.inject(post(healthy));

      // Assert
      expect([first.statusCode, second.statusCode]).toEqual([500, 500]);
      expect(third.statusCode).toBe(422);
      expect(third.json()).toEqual({
        error: 'poison_event',
        // A 500 names no key; the poison answer names the event's content digest.
        key: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        failures: 2,
      });
      expect(sink.calls).toBe(3);
      expect(other.statusCode).toBe(500);
    },
  );

  it('forgets the failure count when an operator deletes the key, so a deliberate reprocess runs', async () => {
    const store = new RedisStore({
      client: createRedisClient({ url: redis.url, commandTimeoutMs: 500 }),
      prefix: 'reset:',
      maxAttempts: 1,
    });
    const sink = new RecordingSink({ failFirst: 1 });
    const { app } = await testApp({ store, sink, env: { MAX_ATTEMPTS: '1' } });
    const event = uniqueEvent();
    const failed = await app.inject(post(event));
    const poisoned = await app.inject(post(event));

    await store.deleteKey(poisoned.json().key);
    const reprocessed = await app.inject(post(event));

    expect([failed.statusCode, poisoned.statusCode]).toEqual([500, 422]);
    expect(reprocessed.json()).toMatchObject({ status: 'processed' });
  });

  it('keeps counting off with MAX_ATTEMPTS=0', async () => {
    const sink = new RecordingSink({ failFirst: 5 });
    const { app } = await testApp({ store: redisStore(redis.url), sink });
    const event = uniqueEvent();

    const statuses: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1)
      statuses.push((await app.inject(post(event))).statusCode);

    expect(statuses).toEqual([500, 500, 500, 500, 500, 200]);
    expect(await redis.client().keys('ebdedup:{*}:f')).toEqual([]);
  });
});

describe('a completion write that fails', () => {
  it('answers 200 and records the key once Redis is back, so a later delivery is a duplicate', async () => {
    // Arrange: the sink succeeds, then Redis dies before the completion write.
    const redis = await RedisServer.start({ appendOnly: true });
    onTestFinished(() => redis.close());
    let processed = 0;
    const killer: Sink = {
      name: 'kills-redis',
      async handle() {
        processed += 1;
        if (processed === 1) await redis.stop();
      },
      async close() {},
    };
    const { app } = await testApp({
      store: redisStore(redis.url),
      sink: killer,
      env: { DEDUP_LEASE_SECONDS: '30' },
    });
    const event = uniqueEvent();

    // Act
    const first = await app.inject(post(event));
    await redis.restart();
    await sleep(1500);
    const later = await app.inject(post(event));

    // Assert
    expect(first.json()).toMatchObject({ status: 'processed' });
    expect(later.json()).toMatchObject({ status: 'duplicate', key: first.json().key });
    expect(processed).toBe(1);
  });
});

describe('REDIS_WAIT_REPLICAS through the pipeline', () => {
  let pair: RedisReplicaSet;
  beforeAll(async () => {
    pair = await RedisReplicaSet.start(1);
  });
  afterAll(async () => {
    await pair?.close();
  });

  function waitingStore(): RedisStore {
    return new RedisStore({
      client: createRedisClient({ url: pair.url, commandTimeoutMs: 500 }),
      prefix: `w${Date.now()}:`,
      waitReplicas: 1,
      waitTimeoutMs: 150,
    });
  }

  it('answers 200 once the replica holds the key, 503 while it cannot, and never processes twice', async () => {
    // Arrange
    const sink = new RecordingSink();
    const { app } = await testApp({ store: waitingStore(), sink, env: { REDIS_WAIT_REPLICAS: '1' } });
    const replicated = uniqueEvent();
    const unconfirmed = uniqueEvent();
    const [replica] = pair.replicas;
    if (!replica) throw new Error('no replica');

    // Act
    const ok = await app.inject(post(replicated));
    replica.freeze();
    const frozen = await app.inject(post(unconfirmed));
    const frozenDuplicate = await app.inject(post(replicated));
    replica.thaw();
    await pair.waitInSync(pair.master, 1);
    const retried = await app.inject(post(unconfirmed));

    // Assert
    expect(ok.json()).toMatchObject({ status: 'processed' });
    expect(frozen.statusCode).toBe(503);
    expect(frozen.json()).toEqual({ error: 'store_unavailable' });
    expect(frozenDuplicate.statusCode).toBe(503);
    expect(retried.json()).toMatchObject({ status: 'duplicate' });
    expect(sink.handled).toHaveLength(2);
  });
});
