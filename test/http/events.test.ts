import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SinkContext } from '../../src/sinks/types.js';
import { JSON_HEADERS, redisStore, testApp } from '../helpers/app.js';
import { sleep } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import {
  AUDIT,
  CONVERSATION_END,
  CONVERSATION_START,
  type Json,
  loadSample,
  republished,
  uniqueEvent,
} from '../helpers/samples.js';
import { RecordingSink } from '../helpers/sinks.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

async function redisApp(options: { sink?: RecordingSink; env?: Record<string, string> } = {}) {
  const sink = options.sink ?? new RecordingSink();
  const { app } = await testApp({
    store: redisStore(redis.url),
    sink,
    ...(options.env ? { env: options.env } : {}),
  });
  return { app, sink };
}

function post(payload: unknown, headers: Record<string, string> = JSON_HEADERS) {
  return { method: 'POST' as const, url: '/events', headers, payload: JSON.stringify(payload) };
}

describe('POST /events: the contract status table', () => {
  it('answers 200 processed for a new event and hands the body to the sink unchanged', async () => {
    // Arrange
    const { app, sink } = await redisApp();
    const event: Json = { ...uniqueEvent(), 'x-unknown': { kept: [1, 2] } };

    // Act
    const response = await app.inject(post(event));

    // Assert
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      status: 'processed',
      key: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect(sink.handled).toHaveLength(1);
    expect(sink.handled[0]?.event).toEqual(event);
    expect(sink.handled[0]?.context).toMatchObject({ key: response.json().key, eventId: event.id });
  });

  it('answers 200 duplicate for a retry and for a re-publication, without processing again', async () => {
    const { app, sink } = await redisApp();
    const event = uniqueEvent();
    const first = await app.inject(post(event));

    const retry = await app.inject(post(event));
    const republication = await app.inject(post(republished(event)));

    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toEqual({
      status: 'duplicate',
      key: first.json().key,
      firstSeenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(republication.json().status).toBe('duplicate');
    expect(sink.handled).toHaveLength(1);
  });

  it('processes every later update of one conversation', async () => {
    const { app, sink } = await redisApp();

    const start = await app.inject(post(loadSample(CONVERSATION_START)));
    const end = await app.inject(post(loadSample(CONVERSATION_END)));

    expect([start.json().status, end.json().status]).toEqual(['processed', 'processed']);
    expect(sink.handled).toHaveLength(2);
  });

  it('answers 400 with issues naming the field as sent', async () => {
    const { app, sink } = await redisApp();
    const { 'detail-type': _gone, ...event } = uniqueEvent();

    const response = await app.inject(post(event));

    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: 'invalid_event',
      issues: [{ path: 'detail-type', message: 'is required' }],
    });
    expect(sink.calls).toBe(0);
  });

  it('answers 400 for unparsable JSON and for an empty body', async () => {
    const { app } = await redisApp();

    const broken = await app.inject({
      method: 'POST',
      url: '/events',
      headers: JSON_HEADERS,
      payload: '{"id": ',
    });
    const empty = await app.inject({ method: 'POST', url: '/events', headers: JSON_HEADERS, payload: '' });

    expect(broken.statusCode).toBe(400);
    expect(broken.json().error).toBe('invalid_event');
    expect(broken.json().issues[0].message).toMatch(/not valid JSON/);
    expect(empty.statusCode).toBe(400);
    expect(empty.json().issues[0].message).toMatch(/empty/);
  });

  it('answers 400 for a __proto__ key rather than passing it on', async () => {
    const { app, sink } = await redisApp();

    const response = await app.inject({
      method: 'POST',
      url: '/events',
      headers: JSON_HEADERS,
      payload: `{"__proto__": {"polluted": true}, "id": "x"}`,
    });

    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe('invalid_event');
    expect(sink.calls).toBe(0);
  });

  it('answers 401 without credentials, before reading the body', async () => {
    const { app, sink } = await redisApp();
    const { 'x-api-key': _key, ...headers } = JSON_HEADERS;

    const missing = await app.inject({ method: 'POST', url: '/events', headers, payload: '{not json' });
    const wrong = await app.inject(post(uniqueEvent(), { ...JSON_HEADERS, 'x-api-key': 'guess' }));

    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toEqual({ error: 'unauthorized' });
    expect(wrong.statusCode).toBe(401);
    expect(sink.calls).toBe(0);
  });

  it('returns 409 while the same key is in progress, with Retry-After', async () => {
    const { app, sink } = await redisApp({ sink: new RecordingSink({ delayMs: 300 }) });
    const event = uniqueEvent();

    const slow = app.inject(post(event));
    await sleep(50);
    const concurrent = await app.inject(post(event));
    const first = await slow;

    expect(concurrent.statusCode).toBe(409);
    expect(concurrent.json()).toEqual({ error: 'in_progress', key: first.json().key });
    expect(concurrent.headers['retry-after']).toBe('1');
    expect(first.json().status).toBe('processed');
    expect(sink.handled).toHaveLength(1);
  });

  it('answers 413 for a body over BODY_LIMIT_BYTES', async () => {
    const { app } = await redisApp({ env: { BODY_LIMIT_BYTES: '2048' } });
    const event = { ...uniqueEvent(), padding: 'x'.repeat(4096) };

    const response = await app.inject(post(event));

    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({ error: 'payload_too_large' });
  });

  it('answers 415 for a body that is not JSON', async () => {
    const { app } = await redisApp();

    const response = await app.inject({
      method: 'POST',
      url: '/events',
      headers: { ...JSON_HEADERS, 'content-type': 'text/plain' },
      payload: 'hello',
    });

    expect(response.statusCode).toBe(415);
    expect(response.json()).toEqual({
      error: 'unsupported_media_type',
      message: "content type 'text/plain' is not JSON: send application/json",
    });
  });

  it('answers 500 when the sink fails and releases the claim, so the retry processes the event', async () => {
    const { app, sink } = await redisApp({ sink: new RecordingSink({ failFirst: 1 }) });
    const event = uniqueEvent();

    const failed = await app.inject(post(event));
    const retry = await app.inject(post(event));

    expect(failed.statusCode).toBe(500);
    expect(failed.json()).toEqual({ error: 'processing_failed' });
    expect(retry.statusCode).toBe(200);
    expect(retry.json().status).toBe('processed');
    expect(sink.handled).toHaveLength(1);
  });

  it('answers 503 with Retry-After when the store cannot be reached, and nothing is processed', async () => {
    const own = await RedisServer.start();
    const sink = new RecordingSink();
    const { app } = await testApp({ store: redisStore(own.url), sink });
    await own.close();

    const response = await app.inject(post(uniqueEvent()));

    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ error: 'store_unavailable' });
    expect(response.headers['retry-after']).toBe('2');
    expect(sink.calls).toBe(0);
  });

  it('processes without dedup under STORE_FAILURE=fail-open', async () => {
    const own = await RedisServer.start();
    const sink = new RecordingSink();
    const { app } = await testApp({ store: redisStore(own.url), sink, env: { STORE_FAILURE: 'fail-open' } });
    await own.close();

    const response = await app.inject(post(uniqueEvent()));

    expect(response.statusCode).toBe(200);
    expect(response.json().status).toBe('processed');
    expect(sink.handled).toHaveLength(1);
  });

  it('answers 504 past SINK_TIMEOUT_MS, 409 while the sink runs on, then the final answer', async () => {
    const { app, sink } = await redisApp({
      sink: new RecordingSink({ delayMs: 600 }),
      env: { SINK_TIMEOUT_MS: '200', DEDUP_LEASE_SECONDS: '5' },
    });
    const event = uniqueEvent();

    const timedOut = await app.inject(post(event));
    const during = await app.inject(post(event));
    await sleep(600);
    const after = await app.inject(post(event));

    expect(timedOut.statusCode).toBe(504);
    expect(timedOut.json()).toEqual({ error: 'processing_timeout' });
    expect(during.statusCode).toBe(409);
    expect(after.json().status).toBe('duplicate');
    expect(sink.handled).toHaveLength(1);
    expect(sink.handled[0]?.context.signal.aborted).toBe(true);
  });

  it('aborts the signal of a sink still running at SINK_TIMEOUT_MS, and a sink that gives up leaves the event retryable', async () => {
    const abortReasons: unknown[] = [];
    let calls = 0;
    const sink = {
      name: 'abortable',
      // The first call waits for its abort signal and then fails, as a well-behaved slow sink does.
      handle: (_event: Record<string, unknown>, context: SinkContext): Promise<void> => {
        calls += 1;
        if (calls > 1) return Promise.resolve();
        return new Promise((_resolve, reject) => {
          context.signal.addEventListener('abort', () => {
            abortReasons.push(context.signal.reason);
            reject(context.signal.reason);
          });
        });
      },
      close: async () => {},
    };
    const { app } = await testApp({
      store: redisStore(redis.url),
      sink,
      env: { SINK_TIMEOUT_MS: '100', DEDUP_LEASE_SECONDS: '5' },
    });
    const event = uniqueEvent();

    const timedOut = await app.inject(post(event));
    await sleep(50);
    const retried = await app.inject(post(event));

    expect(timedOut.statusCode).toBe(504);
    expect(abortReasons).toHaveLength(1);
    expect(String(abortReasons[0])).toContain('SINK_TIMEOUT_MS (100 ms) passed');
    expect(retried.statusCode).toBe(200);
    expect(retried.json().status).toBe('processed');
    expect(calls).toBe(2);
  });

  it('answers 404 as JSON for an unknown route', async () => {
    const { app } = await redisApp();

    const response = await app.inject({ method: 'GET', url: '/nope' });

    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: 'not_found' });
  });

  it('serves EVENTS_PATH where configured', async () => {
    const { app } = await redisApp({ env: { EVENTS_PATH: '/genesys/events' } });

    const moved = await app.inject({ ...post(uniqueEvent()), url: '/genesys/events' });
    const old = await app.inject(post(uniqueEvent()));

    expect(moved.statusCode).toBe(200);
    expect(old.statusCode).toBe(404);
  });

  it('sends the JSON API security headers on every answer: 200, 400, 401, 404 and 500', async () => {
    // Arrange
    const { app } = await redisApp({ sink: new RecordingSink({ failFirst: 1 }) });
    const expected = {
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    };

    // Act
    const failed = await app.inject(post(uniqueEvent()));
    const responses = [
      failed,
      await app.inject(post(uniqueEvent())),
      await app.inject(post({ ...uniqueEvent(), id: '' })),
      await app.inject(post(uniqueEvent(), { ...JSON_HEADERS, 'x-api-key': 'wrong-key-0123456789' })),
      await app.inject({ method: 'GET', url: '/nope' }),
      await app.inject({ method: 'GET', url: '/healthz' }),
    ];

    // Assert
    expect(responses.map((response) => response.statusCode)).toEqual([500, 200, 400, 401, 404, 200]);
    for (const response of responses) expect(response.headers).toMatchObject(expected);
  });
});

describe('concurrency', () => {
  it('gives exactly one processed among 50 simultaneous deliveries of one new event', async () => {
    const { app, sink } = await redisApp({ sink: new RecordingSink({ delayMs: 20 }) });
    const event = uniqueEvent();

    const responses = await Promise.all(Array.from({ length: 50 }, () => app.inject(post(event))));
    const statuses = responses.map((response) => response.json().status ?? response.json().error);

    expect(statuses.filter((status) => status === 'processed')).toHaveLength(1);
    expect(statuses.every((status) => ['processed', 'duplicate', 'in_progress'].includes(status))).toBe(true);
    expect(sink.handled).toHaveLength(1);
  });

  it('gives exactly one processed when two receivers share one Redis', async () => {
    const sink = new RecordingSink({ delayMs: 10 });
    const { app: one } = await testApp({ store: redisStore(redis.url), sink });
    const { app: two } = await testApp({ store: redisStore(redis.url), sink });
    const event = uniqueEvent();

    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, index) => (index % 2 ? one : two).inject(post(event))),
    );

    expect(responses.filter((response) => response.json().status === 'processed')).toHaveLength(1);
    expect(sink.handled).toHaveLength(1);
  });
});

describe('health', () => {
  it('answers /healthz and /readyz while the store answers', async () => {
    const { app } = await redisApp();

    const health = await app.inject({ method: 'GET', url: '/healthz' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });

    expect(health.statusCode).toBe(200);
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', store: 'redis' });
  });
});

describe('store faults', () => {
  it('answers 503 within 1 s and /readyz 503 while Redis is stopped, and 200 again once it is back', async () => {
    // Arrange
    const own = await RedisServer.start({ appendOnly: true });
    const { app } = await testApp({ store: redisStore(own.url) });
    const before = await app.inject(post(uniqueEvent()));

    // Act
    await own.stop();
    const started = Date.now();
    const down = await app.inject(post(uniqueEvent()));
    const downMs = Date.now() - started;
    const notReady = await app.inject({ method: 'GET', url: '/readyz' });
    await own.restart();
    let recovered = await app.inject(post(uniqueEvent()));
    for (let attempt = 0; attempt < 40 && recovered.statusCode !== 200; attempt += 1) {
      await sleep(100);
      recovered = await app.inject(post(uniqueEvent()));
    }
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    await own.close();

    // Assert
    expect(before.statusCode).toBe(200);
    expect(down.statusCode).toBe(503);
    expect(downMs).toBeLessThan(1000);
    expect(notReady.statusCode).toBe(503);
    expect(recovered.statusCode).toBe(200);
    expect(ready.statusCode).toBe(200);
  });

  it('answers 503 within 1 s while Redis is frozen', async () => {
    const own = await RedisServer.start();
    const { app } = await testApp({ store: redisStore(own.url) });

    own.freeze();
    const started = Date.now();
    const frozen = await app.inject(post(uniqueEvent()));
    const elapsed = Date.now() - started;
    own.thaw();
    await own.close();

    expect(frozen.statusCode).toBe(503);
    expect(elapsed).toBeLessThan(1000);
  });

  it('keeps a processed key across a Redis restart with append-only persistence', async () => {
    const own = await RedisServer.start({ appendOnly: true });
    const { app } = await testApp({ store: redisStore(own.url) });
    const event = uniqueEvent();
    await app.inject(post(event));

    await own.restart();
    let again = await app.inject(post(event));
    for (let attempt = 0; attempt < 40 && again.statusCode !== 200; attempt += 1) {
      await sleep(100);
      again = await app.inject(post(event));
    }
    await own.close();

    expect(again.json().status).toBe('duplicate');
  });
});

describe('the audit sample', () => {
  it('is processed once whatever the number of deliveries', async () => {
    const { app, sink } = await redisApp();
    const event = loadSample(AUDIT);
    await redis.client().flushall();

    for (let delivery = 0; delivery < 3; delivery += 1) await app.inject(post(republished(event)));

    expect(sink.handled).toHaveLength(1);
  });
});
