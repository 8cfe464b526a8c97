import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStreamSink } from '../../src/sinks/redis-stream.js';
import type { RedisStore } from '../../src/store/redis.js';
import { JSON_HEADERS, redisStore, testApp } from '../helpers/app.js';
import { keySlot } from '../helpers/crc16.js';
import { RedisServer } from '../helpers/redis-server.js';
import { type Json, republished, uniqueEvent } from '../helpers/samples.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

async function streamApp(env: Record<string, string> = {}) {
  const store = redisStore(redis.url) as RedisStore;
  await store.connect();
  const sink = new RedisStreamSink({
    client: store.client,
    prefix: 'ebdedup:',
    stream: env.SINK_STREAM ?? 'ebdedup:events',
    maxLength: 1_000_000,
    partitions: Number(env.SINK_STREAM_PARTITIONS ?? '1'),
  });
  const { app } = await testApp({
    store,
    sink,
    env: { REDIS_URL: redis.url, STORE: 'redis', SINK: 'redis-stream', ...env },
  });
  return { app, sink };
}

const post = (event: Json) => ({
  method: 'POST' as const,
  url: '/events',
  headers: JSON_HEADERS,
  payload: JSON.stringify(event),
});

type StreamEntry = [string, string[]];

function fields(entry: StreamEntry): Record<string, string> {
  const [, flat] = entry;
  const record: Record<string, string> = {};
  for (let index = 0; index < flat.length; index += 2)
    record[flat[index] as string] = flat[index + 1] as string;
  return record;
}

describe('redis-stream sink', () => {
  it('appends each key exactly once under 64 concurrent deliveries with duplicates', async () => {
    // Arrange: 16 events, each delivered 4 times (2 retries, 1 re-publication), all at once.
    await redis.client().flushall();
    const { app } = await streamApp();
    const events = Array.from({ length: 16 }, () => uniqueEvent());
    const deliveries = events.flatMap((event) => [event, event, republished(event), event]);

    // Act
    const responses = await Promise.all(deliveries.map((event) => app.inject(post(event))));
    const entries = (await redis.client().xrange('ebdedup:events', '-', '+')) as StreamEntry[];

    // Assert
    const statuses = responses.map((response) => response.json().status);
    expect(statuses.filter((status) => status === 'processed')).toHaveLength(16);
    expect(statuses.filter((status) => status === 'duplicate')).toHaveLength(48);
    expect(entries).toHaveLength(16);
    const keys = entries.map((entry) => fields(entry).key);
    expect(new Set(keys).size).toBe(16);
    expect(
      new Set(
        events.map((event) => fields(entries.find((e) => fields(e).id === event.id) as StreamEntry).id),
      ),
    ).toEqual(new Set(events.map((event) => event.id)));
  });

  it('writes the key, id, source, detail-type, receive time and the event as received', async () => {
    await redis.client().flushall();
    const { app } = await streamApp();
    const event: Json = { ...uniqueEvent(), 'x-unknown': { kept: true } };

    const response = await app.inject(post(event));
    const [entry] = (await redis.client().xrange('ebdedup:events', '-', '+')) as StreamEntry[];

    const record = fields(entry as StreamEntry);
    expect(record).toMatchObject({
      key: response.json().key,
      id: event.id,
      source: event.source,
      'detail-type': event['detail-type'],
    });
    expect(Date.parse(record.receivedAt as string)).toBeGreaterThan(Date.now() - 10_000);
    expect(JSON.parse(record.event as string)).toEqual(event);
  });

  it('leaves no in-progress claim: the dedup key holds the first-seen time with the TTL', async () => {
    await redis.client().flushall();
    const { app } = await streamApp();

    const response = await app.inject(post(uniqueEvent()));
    const [dedupKey] = await redis.client().keys('ebdedup:{*');

    expect(dedupKey).toBe(`ebdedup:{ebdedup:events}${response.json().key}`);
    expect(await redis.client().get(dedupKey as string)).toMatch(/^\d{13}$/);
    expect(await redis.client().pttl(dedupKey as string)).toBeGreaterThan(86_399_000);
  });

  it('spreads partitioned streams, each dedup key in its stream’s hash slot', async () => {
    await redis.client().flushall();
    const { app, sink } = await streamApp({ SINK_STREAM_PARTITIONS: '4' });
    const events = Array.from({ length: 40 }, () => uniqueEvent());

    const responses = await Promise.all(events.map((event) => app.inject(post(event))));
    const lengths = await Promise.all([0, 1, 2, 3].map((p) => redis.client().xlen(`ebdedup:events{p${p}}`)));

    expect(lengths.reduce((sum, length) => sum + length, 0)).toBe(40);
    expect(lengths.every((length) => length > 0)).toBe(true);
    for (const response of responses) {
      const { stream, dedupKey } = sink.locate(response.json().key);
      expect(keySlot(dedupKey)).toBe(keySlot(stream));
      expect(await redis.client().exists(dedupKey)).toBe(1);
    }
  });

  it('answers 503 and appends nothing while Redis is down, then appends once when it is back', async () => {
    const own = await RedisServer.start();
    const store = redisStore(own.url) as RedisStore;
    await store.connect();
    const sink = new RedisStreamSink({
      client: store.client,
      prefix: 'ebdedup:',
      stream: 's',
      maxLength: 100,
      partitions: 1,
    });
    const { app } = await testApp({ store, sink });
    const event = uniqueEvent();

    await own.stop();
    const down = await app.inject(post(event));
    await own.restart();
    let back = await app.inject(post(event));
    for (let attempt = 0; attempt < 40 && back.statusCode !== 200; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      back = await app.inject(post(event));
    }
    const again = await app.inject(post(event));
    const length = await own.client().xlen('s');
    await own.close();

    expect(down.statusCode).toBe(503);
    expect(back.json()).toMatchObject({ status: 'processed' });
    expect(again.json().status).toBe('duplicate');
    expect(length).toBe(1);
  });
});
