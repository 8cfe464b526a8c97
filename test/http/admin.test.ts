import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_HEADERS, LogCapture, redisStore, testApp } from '../helpers/app.js';
import { findMark, via } from '../helpers/marks.js';
import { freePort, sleep } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import { uniqueEvent } from '../helpers/samples.js';
import { RecordingSink, streamSink } from '../helpers/sinks.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

async function adminApp(
  options: { sink?: RecordingSink; logs?: LogCapture; env?: Record<string, string> } = {},
) {
  const store = redisStore(redis.url);
  const { app } = await testApp({
    store,
    env: { ADMIN_TOKEN, ...options.env },
    ...(options.sink ? { sink: options.sink } : {}),
    ...(options.logs ? { logs: options.logs } : {}),
  });
  return { app, store };
}

function deliver(payload: unknown) {
  return { method: 'POST' as const, url: '/events', headers: JSON_HEADERS, payload: JSON.stringify(payload) };
}

describe('admin routes', () => {
  it('do not exist without ADMIN_TOKEN', async () => {
    const { app } = await testApp({ store: redisStore(redis.url) });

    const get = await app.inject({ method: 'GET', url: `/admin/keys/${'a'.repeat(43)}`, headers: ADMIN });
    const del = await app.inject({ method: 'DELETE', url: `/admin/keys/${'a'.repeat(43)}`, headers: ADMIN });

    expect([get.statusCode, del.statusCode]).toEqual([404, 404]);
    expect(get.json()).toEqual({ error: 'not_found' });
  });

  it('need the admin token as a bearer token: the API key is not enough', async () => {
    const { app } = await adminApp();
    const url = `/admin/keys/${'a'.repeat(43)}`;

    const none = await app.inject({ method: 'GET', url });
    const apiKey = await app.inject({
      method: 'GET',
      url,
      headers: { 'x-api-key': JSON_HEADERS['x-api-key'] },
    });
    const wrong = await app.inject({
      method: 'GET',
      url,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}x` },
    });

    expect([none.statusCode, apiKey.statusCode, wrong.statusCode]).toEqual([401, 401, 401]);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="ebdedup-admin"');
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="ebdedup-admin", error="invalid_token"');
  });

  it('shows a processed key with its first-seen time and TTL left, and an absent one', async () => {
    // Arrange
    const { app } = await adminApp();
    const { key } = (await app.inject(deliver(uniqueEvent()))).json() as { key: string };

    // Act
    const processed = await app.inject({ method: 'GET', url: `/admin/keys/${key}`, headers: ADMIN });
    const absent = await app.inject({ method: 'GET', url: `/admin/keys/${'A'.repeat(43)}`, headers: ADMIN });

    // Assert
    expect(processed.statusCode).toBe(200);
    const view = processed.json();
    expect(view).toEqual({
      key,
      state: 'processed',
      firstSeenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      ttlRemainingMs: expect.any(Number),
    });
    expect(Math.abs(Date.parse(view.firstSeenAt) - Date.now())).toBeLessThan(5000);
    expect(view.ttlRemainingMs).toBeGreaterThan(86_400_000 - 10_000);
    // The TTL left is the mark's bucket's: at least DEDUP_TTL_SECONDS, at most 1/24 more (src/store/redis/layout.ts).
    expect(view.ttlRemainingMs).toBeLessThanOrEqual(86_400_000 + 3_600_000);
    expect(absent.json()).toEqual({ key: 'A'.repeat(43), state: 'absent' });
  });

  it('shows a claim in progress with its lease left, and force-releases it', async () => {
    // Arrange: a delivery whose sink is still running holds the claim
    const sink = new RecordingSink({ delayMs: 400 });
    const { app } = await adminApp({ sink, env: { SINK_TIMEOUT_MS: '100' } });
    const event = uniqueEvent();
    const stuck = await app.inject(deliver(event)); // 504: the claim stays while the sink runs on
    const { key } = stuck.json() as { key?: string };
    const conflict = await app.inject(deliver(event));
    const held = conflict.json() as { key: string };

    // Act
    const view = await app.inject({ method: 'GET', url: `/admin/keys/${held.key}`, headers: ADMIN });
    const release = await app.inject({
      method: 'DELETE',
      url: `/admin/keys/${held.key}`,
      headers: { ...ADMIN, 'x-reason': 'INC-42: holder pod was killed' },
    });
    const after = await app.inject({ method: 'GET', url: `/admin/keys/${held.key}`, headers: ADMIN });

    // Assert
    expect(stuck.statusCode).toBe(504);
    expect(key).toBeUndefined();
    expect(conflict.statusCode).toBe(409);
    expect(view.json()).toEqual({
      key: held.key,
      state: 'in_progress',
      leaseRemainingMs: expect.any(Number),
    });
    expect(view.json().leaseRemainingMs).toBeGreaterThan(25_000);
    expect(release.statusCode).toBe(200);
    expect(release.json()).toEqual({
      key: held.key,
      deleted: true,
      previous: { state: 'in_progress', leaseRemainingMs: expect.any(Number) },
    });
    expect(after.json().state).toBe('absent');
    await sleep(450); // let the first sink settle before the app closes
  });

  it('deletes a processed key for a deliberate reprocess, logging who and why but never the token', async () => {
    // Arrange
    const logs = new LogCapture();
    const sink = new RecordingSink();
    const { app } = await adminApp({ sink, logs });
    const event = uniqueEvent();
    const { key } = (await app.inject(deliver(event))).json() as { key: string };

    // Act
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/admin/keys/${key}`,
      headers: { ...ADMIN, 'x-reason': 'reprocess after downstream fix\nwith a second line' },
      remoteAddress: '10.1.2.3',
    });
    const again = await app.inject(deliver(event));
    const deletedTwice = await app.inject({
      method: 'DELETE',
      url: `/admin/keys/${'B'.repeat(43)}`,
      headers: { ...ADMIN, 'x-reason': 'cleanup' },
    });

    // Assert
    expect(deleted.json()).toMatchObject({ key, deleted: true, previous: { state: 'processed' } });
    expect(again.json()).toMatchObject({ status: 'processed', key });
    expect(sink.handled).toHaveLength(2);
    expect(deletedTwice.json()).toEqual({
      key: 'B'.repeat(43),
      deleted: false,
      previous: { state: 'absent' },
    });
    const line = logs.lines().find((entry) => entry.msg === 'admin: key deleted');
    expect(line?.admin).toEqual({
      action: 'delete',
      key,
      previous: 'processed',
      reason: 'reprocess after downstream fix with a second line',
      client: '10.1.2.3',
      token: expect.stringMatching(/^sha256:[0-9a-f]{12}$/),
    });
    expect(logs.raw).not.toContain(ADMIN_TOKEN);
  });

  it('refuses a DELETE without X-Reason, and a key that is not a dedup key, with 400 naming the problem', async () => {
    const { app } = await adminApp();
    const { key } = (await app.inject(deliver(uniqueEvent()))).json() as { key: string };

    const noReason = await app.inject({ method: 'DELETE', url: `/admin/keys/${key}`, headers: ADMIN });
    const blankReason = await app.inject({
      method: 'DELETE',
      url: `/admin/keys/${key}`,
      headers: { ...ADMIN, 'x-reason': '   ' },
    });
    const badKey = await app.inject({ method: 'GET', url: '/admin/keys/ebdedup:*', headers: ADMIN });
    const still = await app.inject({ method: 'GET', url: `/admin/keys/${key}`, headers: ADMIN });

    expect([noReason.statusCode, blankReason.statusCode]).toEqual([400, 400]);
    expect(noReason.json()).toEqual({
      error: 'reason_required',
      message: expect.stringContaining('X-Reason'),
    });
    expect(badKey.statusCode).toBe(400);
    expect(badKey.json()).toMatchObject({ error: 'invalid_key' });
    expect(still.json().state).toBe('processed');
  });

  it('answers 503 store_unavailable when Redis cannot be reached', async () => {
    const store = redisStore(`redis://127.0.0.1:${await freePort()}`);
    store.client.on('error', () => {}); // refused connections are the point here
    const { app } = await testApp({ store, env: { ADMIN_TOKEN } });

    const response = await app.inject({
      method: 'GET',
      url: `/admin/keys/${'a'.repeat(43)}`,
      headers: ADMIN,
    });

    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ error: 'store_unavailable' });
  });

  it('finds the keys of SINK=redis-stream in their stream partition', async () => {
    // Arrange
    const store = redisStore(redis.url);
    const sink = streamSink(store, 'it:admin-stream', 4);
    const { app } = await testApp({ store, sink, env: { ADMIN_TOKEN } });
    const event = uniqueEvent();
    const { key } = (await app.inject(deliver(event))).json() as { key: string };

    // Act
    const view = await app.inject({ method: 'GET', url: `/admin/keys/${key}`, headers: ADMIN });
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/admin/keys/${key}`,
      headers: { ...ADMIN, 'x-reason': 'replay to the stream' },
    });
    const again = await app.inject(deliver(event));

    // Assert
    expect(view.json().state).toBe('processed');
    expect(deleted.json().deleted).toBe(true);
    expect(again.json().status).toBe('processed');
    expect(await findMark(via(redis.client()), sink.locate(key).location)).toMatchObject({
      hash: expect.stringMatching(/^ebdedup:\{p\d\}:86400:\d+/),
    });
  });
});
