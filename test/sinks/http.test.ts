import { describe, expect, it, onTestFinished } from 'vitest';
import { createHttpSink } from '../../src/sinks/http.js';
import { API_KEY, JSON_HEADERS, LogCapture, testApp } from '../helpers/app.js';
import { Downstream } from '../helpers/downstream.js';
import { sleep } from '../helpers/ports.js';
import { type Json, uniqueEvent } from '../helpers/samples.js';

const post = (event: Json) => ({
  method: 'POST' as const,
  url: '/events',
  headers: JSON_HEADERS,
  payload: JSON.stringify(event),
});

async function forwarding(env: Record<string, string> = {}, logs?: LogCapture) {
  const downstream = await Downstream.start();
  onTestFinished(() => downstream.close());
  const headers = { authorization: 'Bearer downstream-secret-token' };
  const sink = createHttpSink({ url: downstream.url, headers });
  const { app } = await testApp({
    sink,
    env: { SINK: 'http', SINK_HTTP_URL: downstream.url, SINK_HTTP_HEADERS: JSON.stringify(headers), ...env },
    ...(logs ? { logs } : {}),
  });
  return { app, downstream };
}

describe('http sink', () => {
  it('forwards the body byte for byte with Idempotency-Key, content type and static headers', async () => {
    // Arrange: text that a parse and JSON.stringify would change (big integer, 1.0, escapes, layout).
    const { app, downstream } = await forwarding();
    const event: Json = { ...uniqueEvent(), 'x-unknown': [1, { a: null }] };
    const text = JSON.stringify(event, null, 1).replace(
      '"x-unknown": [',
      '"seq": 9007199254740993, "ratio": 1.0, "s": "caf\\u00e9 ✓",\n"x-unknown": [',
    );

    // Act
    const response = await app.inject({ ...post(event), payload: text });

    // Assert
    expect(response.json()).toMatchObject({ status: 'processed' });
    expect(downstream.received).toHaveLength(1);
    const [request] = downstream.received;
    expect(request?.body).toBe(text);
    expect(request?.headers['idempotency-key']).toBe(response.json().key);
    expect(request?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(request?.headers.authorization).toBe('Bearer downstream-secret-token');
    expect(request?.headers['x-api-key']).toBeUndefined();
  });

  it.each([408, 409, 425, 429, 500, 502, 503])(
    'answers a retryable status for downstream %i, releases the claim, and the retry forwards again with the same key',
    async (status) => {
      const { app, downstream } = await forwarding();
      downstream.answer({ status });
      const event = uniqueEvent();

      const failed = await app.inject(post(event));
      const retry = await app.inject(post(event));

      expect(failed.statusCode).toBe(500);
      expect(failed.json()).toEqual({ error: 'processing_failed' });
      expect(retry.json()).toMatchObject({ status: 'processed' });
      expect(downstream.received.map((request) => request.headers['idempotency-key'])).toEqual([
        retry.json().key,
        retry.json().key,
      ]);
    },
  );

  it.each([400, 403, 404, 422])(
    'answers 422 rejected_downstream for a final downstream %i, so EventBridge dead-letters it',
    async (status) => {
      const { app, downstream } = await forwarding();
      downstream.answer({ status });
      const event = uniqueEvent();

      const rejected = await app.inject(post(event));
      const redelivered = await app.inject(post(event));

      expect(rejected.statusCode).toBe(422);
      expect(rejected.json()).toEqual({ error: 'rejected_downstream', downstreamStatus: status });
      // Released, not marked processed: a deliberate re-send after fixing the downstream goes through.
      expect(redelivered.json()).toMatchObject({ status: 'processed' });
      expect(downstream.received).toHaveLength(2);
    },
  );

  it('answers 500 when the downstream drops the connection, and the retry goes through', async () => {
    const { app, downstream } = await forwarding();
    downstream.answer({ drop: true });
    const event = uniqueEvent();

    const dropped = await app.inject(post(event));
    const retry = await app.inject(post(event));

    expect(dropped.statusCode).toBe(500);
    expect(retry.json()).toMatchObject({ status: 'processed' });
  });

  it('answers 504 at the deadline, aborts the downstream call, and the retry processes the event', async () => {
    const { app, downstream } = await forwarding({ SINK_TIMEOUT_MS: '300', DEDUP_LEASE_SECONDS: '5' });
    downstream.answer({ hang: true });
    const event = uniqueEvent();

    const timedOut = await app.inject(post(event));
    await sleep(100);
    const retry = await app.inject(post(event));

    expect(timedOut.statusCode).toBe(504);
    expect(timedOut.json()).toEqual({ error: 'processing_timeout' });
    expect(downstream.aborted).toBe(1);
    expect(retry.json()).toMatchObject({ status: 'processed' });
    expect(downstream.received).toHaveLength(2);
  });

  it('never logs SINK_HTTP_HEADERS values', async () => {
    const logs = new LogCapture();
    const { app, downstream } = await forwarding({}, logs);
    downstream.answer({ status: 500 });

    await app.inject(post(uniqueEvent()));
    app.log.info('quoting Bearer downstream-secret-token');

    expect(logs.raw).toContain('request failed');
    expect(logs.raw).not.toContain('downstream-secret-token');
    expect(logs.raw).not.toContain(API_KEY);
  });
});
