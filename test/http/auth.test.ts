import { describe, expect, it } from 'vitest';
import { API_KEY, JSON_HEADERS, LogCapture, testApp } from '../helpers/app.js';
import { uniqueEvent } from '../helpers/samples.js';

const { 'x-api-key': _key, ...NO_AUTH } = JSON_HEADERS;

function post(headers: Record<string, string>) {
  return {
    method: 'POST' as const,
    url: '/events',
    headers: { ...NO_AUTH, ...headers },
    payload: JSON.stringify(uniqueEvent()),
  };
}

describe('api-key auth', () => {
  it('accepts every key of API_KEYS, for rotation, in the configured header', async () => {
    const { app } = await testApp({ env: { API_KEYS: 'old-key,new-key', API_KEY_HEADER: 'X-Genesys-Key' } });

    const old = await app.inject(post({ 'x-genesys-key': 'old-key' }));
    const fresh = await app.inject(post({ 'x-genesys-key': 'new-key' }));
    const retired = await app.inject(post({ 'x-genesys-key': 'older-key' }));
    const wrongHeader = await app.inject(post({ 'x-api-key': 'new-key' }));

    expect([old.statusCode, fresh.statusCode, retired.statusCode, wrongHeader.statusCode]).toEqual([
      200, 200, 401, 401,
    ]);
    expect(retired.headers['www-authenticate']).toBeUndefined();
  });

  it('rejects a key that is a prefix of an accepted one', async () => {
    const { app } = await testApp();

    const response = await app.inject(post({ 'x-api-key': API_KEY.slice(0, -1) }));

    expect(response.statusCode).toBe(401);
  });
});

describe('basic auth', () => {
  const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

  it('accepts a configured user and password, and challenges otherwise', async () => {
    const { app } = await testApp({
      env: { AUTH_MODE: 'basic', BASIC_AUTH_USERS: 'eventbridge:s3cret:with-colon,ops:pw' },
    });

    const good = await app.inject(post({ authorization: basic('eventbridge:s3cret:with-colon') }));
    const second = await app.inject(post({ authorization: basic('ops:pw') }));
    const bad = await app.inject(post({ authorization: basic('eventbridge:wrong') }));
    const none = await app.inject(post({}));

    expect([good.statusCode, second.statusCode, bad.statusCode, none.statusCode]).toEqual([
      200, 200, 401, 401,
    ]);
    expect(none.headers['www-authenticate']).toBe('Basic realm="ebdedup", charset="UTF-8"');
  });
});

describe('bearer auth', () => {
  it('accepts a static token, the scheme in any case, and challenges as RFC 6750 says', async () => {
    const { app } = await testApp({ env: { AUTH_MODE: 'bearer', BEARER_TOKENS: 'tok-a,tok-b' } });

    const good = await app.inject(post({ authorization: 'Bearer tok-b' }));
    const lower = await app.inject(post({ authorization: 'bearer tok-a' }));
    const wrong = await app.inject(post({ authorization: 'Bearer tok-c' }));
    const none = await app.inject(post({}));

    expect([good.statusCode, lower.statusCode, wrong.statusCode, none.statusCode]).toEqual([
      200, 200, 401, 401,
    ]);
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="ebdedup", error="invalid_token"');
    expect(none.headers['www-authenticate']).toBe('Bearer realm="ebdedup"');
  });
});

describe('no auth', () => {
  it('accepts any caller with AUTH_MODE=none outside production', async () => {
    const { app } = await testApp({ env: { AUTH_MODE: 'none' } });

    expect((await app.inject(post({}))).statusCode).toBe(200);
  });
});

describe('logging', () => {
  it('writes one line per request with outcome, key, id and latency, and never a credential', async () => {
    // Arrange
    const logs = new LogCapture();
    const { app } = await testApp({ logs, env: { API_KEYS: `${API_KEY},second-secret-key` } });
    const event = uniqueEvent();

    // Act
    const processed = await app.inject(post({ 'x-api-key': API_KEY }));
    await app.inject({ ...post({ 'x-api-key': 'second-secret-key' }), payload: JSON.stringify(event) });
    await app.inject(post({ 'x-api-key': 'attacker-guess' }));
    app.log.info({ headers: { 'x-api-key': API_KEY } }, `a message quoting ${API_KEY}`);

    // Assert
    const lines = logs.lines().filter((line) => line.msg === 'request');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      outcome: 'processed',
      statusCode: 200,
      key: processed.json().key,
      url: '/events',
    });
    expect(lines[1]).toMatchObject({
      outcome: 'processed',
      eventId: event.id,
      detailType: event['detail-type'],
    });
    expect(typeof lines[0]?.ms).toBe('number');
    expect(lines[2]).toMatchObject({ outcome: 'unauthorized', statusCode: 401 });
    expect(logs.raw).not.toContain(API_KEY);
    expect(logs.raw).not.toContain('second-secret-key');
    expect(logs.raw).toContain('[redacted]');
  });

  it('logs a 5xx with its cause while the body says nothing internal', async () => {
    const logs = new LogCapture();
    const { app } = await testApp({
      logs,
      sink: {
        name: 'broken',
        handle: () => {
          throw new Error('database password rejected at 10.0.0.7');
        },
        close: async () => {},
      },
    });

    const response = await app.inject(post({ 'x-api-key': API_KEY }));

    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('10.0.0.7');
    // pino's err serializer folds the cause chain into the message.
    const line = logs.lines().find((entry) => entry.msg === 'request failed') as {
      err?: { message?: string; type?: string };
    };
    expect(line?.err?.type).toBe('ProcessingFailedError');
    expect(line?.err?.message).toContain('database password rejected at 10.0.0.7');
  });
});
