import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, secretValues } from '../../src/config/index.js';

function errorOf(env: Record<string, string>): string {
  try {
    parseConfig({ API_KEYS: 'k', ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return 'no error';
}

describe('configuration of the operational variables', () => {
  it('applies their defaults', () => {
    const config = parseConfig({ API_KEYS: 'k' });

    expect([config.METRICS_TOKEN, config.TLS_CERT_FILE, config.TLS_KEY_FILE]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(config).toMatchObject({
      TRUST_PROXY: false,
      REQUEST_TIMEOUT_MS: 10_000,
      CONNECTION_TIMEOUT_MS: 65_000,
      MAX_CONNECTIONS: 10_000,
      ADMIN_TOKEN: [],
    });
  });

  it('wants CONNECTION_TIMEOUT_MS longer than SINK_TIMEOUT_MS: a request waiting for its sink is idle', () => {
    expect(errorOf({ SINK_TIMEOUT_MS: '4000', CONNECTION_TIMEOUT_MS: '3000' })).toBe(
      "Invalid configuration: CONNECTION_TIMEOUT_MS='3000' must be longer than SINK_TIMEOUT_MS (4000 ms)",
    );
  });

  it('keeps EVENTS_PATH off the routes the receiver serves itself', () => {
    for (const path of ['/metrics', '/healthz', '/readyz', '/admin/keys']) {
      expect(errorOf({ EVENTS_PATH: path })).toContain(`EVENTS_PATH='${path}' cannot be`);
    }
    expect(errorOf({ EVENTS_PATH: '/metrics-ingest' })).toBe('no error');
  });

  it('wants admin tokens of 16 characters or more, and never prints them', () => {
    const message = errorOf({ ADMIN_TOKEN: 'long-enough-token-1,short' });

    expect(message).toBe(
      'Invalid configuration: ADMIN_TOKEN expected tokens of at least 16 characters, comma-separated',
    );
    expect(
      parseConfig({ API_KEYS: 'k', ADMIN_TOKEN: 'token-one-0123456, token-two-0123456' }).ADMIN_TOKEN,
    ).toEqual(['token-one-0123456', 'token-two-0123456']);
  });

  it('counts METRICS_TOKEN and ADMIN_TOKEN among the secrets masked in logs', () => {
    const config = parseConfig({
      API_KEYS: 'k',
      METRICS_TOKEN: 'metrics-secret',
      ADMIN_TOKEN: 'admin-secret-0123456789',
    });

    expect(secretValues(config)).toEqual(
      expect.arrayContaining(['metrics-secret', 'admin-secret-0123456789']),
    );
  });
});
