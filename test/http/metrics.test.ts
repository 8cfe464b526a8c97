import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReceiverMetrics } from '../../src/http/metrics.js';
import { MemoryStore } from '../../src/store/memory.js';
import { JSON_HEADERS, LogCapture, redisStore, testApp } from '../helpers/app.js';
import { sampleValue } from '../helpers/metrics.js';
import { freePort, sleep } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import { AUDIT, CONVERSATION_END, loadSample, uniqueEvent } from '../helpers/samples.js';
import { RecordingSink, streamSink } from '../helpers/sinks.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

function post(payload: unknown, headers: Record<string, string> = JSON_HEADERS) {
  return { method: 'POST' as const, url: '/events', headers, payload: JSON.stringify(payload) };
}

async function scrape(app: Awaited<ReturnType<typeof testApp>>['app'], headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url: '/metrics', headers });
}

describe('GET /metrics', () => {
  it('counts deliveries by outcome and status, and times them', async () => {
    // Arrange
    const { app } = await testApp({
      store: redisStore(redis.url),
      sink: new RecordingSink({ failFirst: 1 }),
    });
    const failing = uniqueEvent();
    const event = uniqueEvent();

    // Act
    await app.inject(post(failing)); // 500: the sink's first call fails
    await app.inject(post(event)); // 200 processed
    await app.inject(post(event)); // 200 duplicate
    await app.inject(post({ not: 'an event' })); // 400
    await app.inject(post(event, { ...JSON_HEADERS, 'x-api-key': 'wrong' })); // 401
    await app.inject(post(event, { ...JSON_HEADERS, 'content-type': 'text/plain' })); // 415
    await app.inject({ method: 'GET', url: '/healthz' }); // not a delivery
    const response = await scrape(app);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = response.body;
    const requests = (outcome: string, status: string) =>
      sampleValue(text, 'ebdedup_requests_total', { outcome, status_code: status });
    expect(requests('processing_failed', '500')).toBe(1);
    expect(requests('processed', '200')).toBe(1);
    expect(requests('duplicate', '200')).toBe(1);
    expect(requests('invalid', '400')).toBe(1);
    expect(requests('unauthorized', '401')).toBe(1);
    expect(requests('unsupported_media_type', '415')).toBe(1);
    expect(sampleValue(text, 'ebdedup_requests_total')).toBe(6);
    expect(sampleValue(text, 'ebdedup_request_duration_seconds_count')).toBe(6);
    expect(sampleValue(text, 'ebdedup_store_operation_duration_seconds_count', { operation: 'claim' })).toBe(
      3,
    );
    expect(
      sampleValue(text, 'ebdedup_store_operation_duration_seconds_count', { operation: 'release' }),
    ).toBe(1);
    expect(sampleValue(text, 'ebdedup_sink_duration_seconds_count', { result: 'error' })).toBe(1);
    expect(sampleValue(text, 'ebdedup_sink_duration_seconds_count', { result: 'ok' })).toBe(1);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds /m);
  });

  it('counts duplicates by strategy and detail-type, and 409 and 504 by their own outcomes', async () => {
    // Arrange
    const { app } = await testApp({
      store: redisStore(redis.url),
      sink: new RecordingSink({ delayMs: 300 }),
      env: { SINK_TIMEOUT_MS: '150' },
    });
    const audit = uniqueEvent(loadSample(AUDIT));
    const end = uniqueEvent(loadSample(CONVERSATION_END));

    // Act
    const [slow, concurrent] = await Promise.all([
      app.inject(post(audit)),
      sleep(30).then(() => app.inject(post(audit))),
    ]);
    await sleep(350); // the late sink settles and records the key
    await app.inject(post(audit));
    await app.inject(post(audit));
    const first = app.inject(post(end));
    await first;
    await sleep(350);
    await app.inject(post(end));
    const text = (await scrape(app)).body;

    // Assert
    expect([slow.statusCode, concurrent.statusCode]).toEqual([504, 409]);
    expect(sampleValue(text, 'ebdedup_requests_total', { outcome: 'timeout', status_code: '504' })).toBe(2);
    expect(sampleValue(text, 'ebdedup_requests_total', { outcome: 'in_progress', status_code: '409' })).toBe(
      1,
    );
    expect(
      sampleValue(text, 'ebdedup_duplicates_total', {
        strategy: 'content',
        detail_type: 'v2.audits.entitytype.{id}.entityid.{id}',
      }),
    ).toBe(2);
    expect(
      sampleValue(text, 'ebdedup_duplicates_total', {
        strategy: 'content',
        detail_type: 'v2.detail.events.conversation.{id}.customer.end',
      }),
    ).toBe(1);
  });

  it('caps the detail_type label: past the limit every new value is "other"', () => {
    const metrics = new ReceiverMetrics({ maxDetailTypes: 2 });

    const labels = ['a', 'b', 'c', 'a', undefined, 'x'.repeat(500)].map((value) =>
      metrics.detailTypeLabel(value),
    );

    expect(labels).toEqual(['a', 'b', 'other', 'a', 'none', 'other']);
  });

  it('counts store failures by operation while the store cannot be reached', async () => {
    const store = redisStore(`redis://127.0.0.1:${await freePort()}`);
    store.client.on('error', () => {}); // refused connections are the point here
    const { app } = await testApp({ store });

    const response = await app.inject(post(uniqueEvent()));
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    const text = (await scrape(app)).body;

    expect([response.statusCode, ready.statusCode]).toEqual([503, 503]);
    expect(sampleValue(text, 'ebdedup_store_errors_total', { operation: 'claim' })).toBe(1);
    expect(sampleValue(text, 'ebdedup_store_errors_total', { operation: 'health' })).toBe(1);
    expect(sampleValue(text, 'ebdedup_requests_total', { outcome: 'store_unavailable' })).toBe(1);
  });

  it('counts a claim lost when its lease was taken over before the holder completed', async () => {
    // Arrange: a slow first delivery whose claim disappears (as when its lease runs out) and is taken over
    const store = new MemoryStore();
    const { app } = await testApp({ store, sink: new RecordingSink({ delayMs: 200 }) });
    const event = uniqueEvent();
    const first = app.inject(post(event));
    await sleep(30);
    const { key } = (await app.inject(post(event))).json() as { key: string };
    await store.deleteKey(key);

    // Act
    const takeover = app.inject(post(event));
    const answers = await Promise.all([first, takeover]);
    const text = (await scrape(app)).body;

    // Assert
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
    expect(sampleValue(text, 'ebdedup_claims_lost_total', { operation: 'complete' })).toBe(1);
  });

  it('times a sink that processes atomically, and keeps it atomic', async () => {
    // Arrange
    await redis.client().del('it:metrics-stream');
    const store = redisStore(redis.url);
    const sink = streamSink(store, 'it:metrics-stream');
    const { app } = await testApp({ store, sink });
    const event = uniqueEvent();

    // Act
    const answers = [await app.inject(post(event)), await app.inject(post(event))];
    const text = (await scrape(app)).body;

    // Assert
    expect(answers.map((answer) => answer.json().status)).toEqual(['processed', 'duplicate']);
    expect(await redis.client().xlen('it:metrics-stream')).toBe(1);
    expect(sampleValue(text, 'ebdedup_sink_duration_seconds_count', { sink: 'redis-stream' })).toBe(2);
    expect(sampleValue(text, 'ebdedup_sink_duration_seconds_count', { result: 'processed' })).toBe(1);
    expect(sampleValue(text, 'ebdedup_sink_duration_seconds_count', { result: 'duplicate' })).toBe(1);
    expect(sampleValue(text, 'ebdedup_store_operation_duration_seconds_count', { operation: 'claim' })).toBe(
      0,
    );
  });

  it('keeps each app its own registry', async () => {
    const one = await testApp();
    const two = await testApp();

    await one.app.inject(post(uniqueEvent()));
    const [first, second] = await Promise.all([scrape(one.app), scrape(two.app)]);

    expect(sampleValue(first.body, 'ebdedup_requests_total')).toBe(1);
    expect(sampleValue(second.body, 'ebdedup_requests_total')).toBe(0);
  });

  it('asks for METRICS_TOKEN as a bearer token when it is set, and never logs it', async () => {
    const logs = new LogCapture();
    const token = 'metrics-scrape-token-1234';
    const { app } = await testApp({ env: { METRICS_TOKEN: token }, logs });

    const none = await scrape(app);
    const wrong = await scrape(app, { authorization: 'Bearer guess' });
    const right = await scrape(app, { authorization: `Bearer ${token}` });

    expect([none.statusCode, wrong.statusCode, right.statusCode]).toEqual([401, 401, 200]);
    expect(none.json()).toEqual({ error: 'unauthorized' });
    expect(none.headers['www-authenticate']).toBe('Bearer realm="ebdedup-metrics"');
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="ebdedup-metrics", error="invalid_token"');
    expect(logs.raw).not.toContain(token);
  });
});
