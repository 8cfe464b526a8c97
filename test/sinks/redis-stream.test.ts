import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { RedisStreamSink } from '../../src/sinks/redis-stream.js';
import type { SinkContext } from '../../src/sinks/types.js';
import type { RedisStore } from '../../src/store/redis/index.js';
import { JSON_HEADERS, redisStore, testApp } from '../helpers/app.js';
import { keySlot } from '../helpers/crc16.js';
import { findMark, untilNextBucket, via } from '../helpers/marks.js';
import { RedisServer } from '../helpers/redis-server.js';
import { type Json, republished, uniqueEvent } from '../helpers/samples.js';
import { redisServerPerFile } from '../helpers/stores.js';

const { redis, client } = redisServerPerFile();

async function streamApp(env: Record<string, string> = {}) {
  const store = redisStore(redis().url) as RedisStore;
  await store.connect();
  const sink = new RedisStreamSink({
    store,
    prefix: 'ebdedup:',
    stream: env.SINK_STREAM ?? 'ebdedup:events',
    maxLength: 1_000_000,
    partitions: Number(env.SINK_STREAM_PARTITIONS ?? '1'),
  });
  const { app } = await testApp({
    store,
    sink,
    env: { REDIS_URL: redis().url, STORE: 'redis', SINK: 'redis-stream', ...env },
  });
  return { app, sink };
}

const post = (event: Json) => ({
  method: 'POST' as const,
  url: '/events',
  headers: JSON_HEADERS,
  payload: JSON.stringify(event),
});

function sinkContext(key: string, rawBody = '{}'): SinkContext {
  return {
    key,
    rawBody,
    eventId: 'id-1',
    detailType: 'test',
    signal: new AbortController().signal,
    logger: createLogger({ level: 'silent' }),
  };
}

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
    await client().flushall();
    const { app } = await streamApp();
    const events = Array.from({ length: 16 }, () => uniqueEvent());
    const deliveries = events.flatMap((event) => [event, event, republished(event), event]);

    // Act
    const responses = await Promise.all(deliveries.map((event) => app.inject(post(event))));
    const entries = (await client().xrange('ebdedup:events', '-', '+')) as StreamEntry[];

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
    await client().flushall();
    const { app } = await streamApp();
    const event: Json = { ...uniqueEvent(), 'x-unknown': { kept: true } };

    const response = await app.inject(post(event));
    const [entry] = (await client().xrange('ebdedup:events', '-', '+')) as StreamEntry[];

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

  it('appends the body byte for byte as sent: integers past 2^53, 1.0, key order and white space survive', async () => {
    // Arrange: text no JSON.stringify would write back, as a sender may lay it out.
    await client().flushall();
    const { app } = await streamApp();
    const event = uniqueEvent();
    const text = JSON.stringify(event, null, 2).replace(
      '"detail": {',
      '"detail": {\n    "seq": 9007199254740993, "ratio": 1.0, "z": 1, "a": 2,',
    );

    // Act
    const response = await app.inject({ ...post(event), payload: text });
    const [entry] = (await client().xrange('ebdedup:events', '-', '+')) as StreamEntry[];

    // Assert
    expect(response.json().status).toBe('processed');
    expect(fields(entry as StreamEntry).event).toBe(text);
  });

  it('leaves no claim: the mark is a field of a bucket hash under the stream’s tag, kept for the TTL', async () => {
    // Arrange
    await client().flushall();
    const { app, sink } = await streamApp();

    // Act
    const response = await app.inject(post(uniqueEvent()));
    const key: string = response.json().key;
    const names = (await client().keys('ebdedup:{*')).sort();
    const mark = await findMark(via(client()), sink.locate(key).location);

    // Assert: one bucket hash (its shard from the key's first two characters) and the TTL index; no claim.
    expect(names).toEqual([mark?.hash, 'ebdedup:{ebdedup:events}:ttls']);
    const [bucket, shard] = (mark?.hash ?? '').slice('ebdedup:{ebdedup:events}:86400:'.length).split(':');
    expect(mark?.hash.startsWith('ebdedup:{ebdedup:events}:86400:')).toBe(true);
    expect(bucket).toMatch(/^\d+$/);
    expect(shard).toBe(key.slice(0, 2));
    expect(mark?.value).toMatch(/^\d{13}$/);
    expect(await client().pttl(mark?.hash as string)).toBeGreaterThan(86_399_000);
    expect(keySlot(mark?.hash as string)).toBe(keySlot('ebdedup:events'));
  });

  it('finds a key appended in an earlier bucket and does not append it again (ttl 24 s: W = 1 s)', async () => {
    // Arrange
    await client().flushall();
    const { sink } = await streamApp();
    const event = uniqueEvent();
    const context = sinkContext(createHash('sha256').update(randomUUID()).digest('base64url'));
    await untilNextBucket(via(client()), 24);
    const first = await sink.processOnce(event, context, 24);

    // Act
    await untilNextBucket(via(client()), 24);
    const again = await sink.processOnce(event, context, 24);
    const length = await client().xlen('ebdedup:events');

    // Assert
    expect(first).toEqual({ outcome: 'processed' });
    expect(again).toMatchObject({ outcome: 'duplicate', firstSeenAt: expect.any(Number) });
    expect(length).toBe(1);
  });

  it('spreads partitioned streams, each dedup key in its stream’s hash slot', async () => {
    await client().flushall();
    const { app, sink } = await streamApp({ SINK_STREAM_PARTITIONS: '4' });
    const events = Array.from({ length: 40 }, () => uniqueEvent());

    const responses = await Promise.all(events.map((event) => app.inject(post(event))));
    const lengths = await Promise.all([0, 1, 2, 3].map((p) => client().xlen(`ebdedup:events{p${p}}`)));

    expect(lengths.reduce((sum, length) => sum + length, 0)).toBe(40);
    expect(lengths.every((length) => length > 0)).toBe(true);
    for (const response of responses) {
      const { stream, dedupKey, location } = sink.locate(response.json().key);
      const mark = await findMark(via(client()), location);
      expect(keySlot(dedupKey)).toBe(keySlot(stream));
      expect(keySlot(mark?.hash as string)).toBe(keySlot(stream));
      expect(keySlot(location.ttls)).toBe(keySlot(stream));
    }
  });

  it('appends the events of one turn with one script call, each event once, each caller its own outcome', async () => {
    // Arrange: 20 new keys, 5 of them sent twice in the same turn, and one already appended.
    const { sink } = await streamApp({ SINK_STREAM: 'it:batched' });
    await client().del('it:batched');
    const keys = Array.from({ length: 20 }, () =>
      createHash('sha256').update(randomUUID()).digest('base64url'),
    );
    const earlier = keys[0] as string;
    await sink.processOnce({ source: 'test' }, sinkContext(earlier), 86_400);
    const scriptCalls = async () => {
      const stats = await client().info('commandstats');
      return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    };
    const before = await scriptCalls();

    // Act
    const sent = [...keys, ...keys.slice(1, 6)];
    const outcomes = await Promise.all(
      sent.map((key) => sink.processOnce({ source: 'test' }, sinkContext(key), 86_400)),
    );

    // Assert
    expect((await scriptCalls()) - before).toBe(1);
    expect(outcomes[0]?.outcome).toBe('duplicate');
    expect(outcomes.slice(1, 20).map((outcome) => outcome.outcome)).toEqual(
      keys.slice(1).map(() => 'processed'),
    );
    expect(outcomes.slice(20).map((outcome) => outcome.outcome)).toEqual(
      keys.slice(1, 6).map(() => 'duplicate'),
    );
    expect(await client().xlen('it:batched')).toBe(20);
  });

  it('answers 503 and appends nothing while Redis is down, then appends once when it is back', async () => {
    const own = await RedisServer.start();
    const store = redisStore(own.url) as RedisStore;
    await store.connect();
    const sink = new RedisStreamSink({
      store,
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
