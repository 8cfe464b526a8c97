import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig, secretValues } from '../../src/config/index.js';

function errorOf(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('applies the contract defaults', () => {
    const config = parseConfig({ API_KEYS: 'k' });

    expect(config).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      EVENTS_PATH: '/events',
      STORE: 'memory',
      DEDUP_PREFIX: 'ebdedup:',
      DEDUP_STRATEGY: 'content',
      DEDUP_HEADER: 'idempotency-key',
      EVENT_SCHEMA: 'envelope',
      REPLAY_POLICY: 'dedup',
      DEDUP_TTL_SECONDS: 86_400,
      DEDUP_LEASE_SECONDS: 30,
      STORE_FAILURE: 'fail-closed',
      AUTH_MODE: 'api-key',
      API_KEY_HEADER: 'x-api-key',
      SINK: 'log',
      SINK_STREAM: 'ebdedup:events',
      SINK_STREAM_MAXLEN: 1_000_000,
      SINK_TIMEOUT_MS: 4000,
      BODY_LIMIT_BYTES: 2_097_152,
      LOG_LEVEL: 'info',
      REDIS_WAIT_REPLICAS: 0,
      REDIS_WAIT_TIMEOUT_MS: 100,
    });
  });

  it('chooses the redis store when REDIS_URL is set', () => {
    expect(parseConfig({ API_KEYS: 'k', REDIS_URL: 'redis://127.0.0.1:6379' }).STORE).toBe('redis');
  });

  it('names the variable and the problem in one line', () => {
    const message = errorOf({ PORT: 'eighty' });

    expect(message).toBe("Invalid configuration: PORT='eighty' expected a whole number");
    expect(message).not.toContain('\n');
  });

  it('lists the allowed values of an enumeration', () => {
    expect(errorOf({ DEDUP_STRATEGY: 'type+conversationId' })).toMatch(
      /DEDUP_STRATEGY='type\+conversationId' must be one of content, event-id, header, rules/,
    );
  });

  it('refuses a dedup window shorter than EventBridge retries', () => {
    expect(errorOf({ DEDUP_TTL_SECONDS: '3600' })).toMatch(/DEDUP_TTL_SECONDS='3600' must be at least 86400/);
  });

  it('refuses a lease no longer than the sink deadline', () => {
    expect(errorOf({ DEDUP_LEASE_SECONDS: '4', SINK_TIMEOUT_MS: '4000' })).toMatch(/DEDUP_LEASE_SECONDS/);
  });

  it.each([
    [
      { AUTH_MODE: 'none', REDIS_URL: 'redis://r:6379' },
      /AUTH_MODE='none' is refused when NODE_ENV=production/,
    ],
    [{ REDIS_URL: 'redis://r:6379' }, /API_KEYS is required when NODE_ENV=production/],
    [{ API_KEYS: 'k' }, /REDIS_URL is required when NODE_ENV=production/],
  ])('refuses unsafe production settings (%o)', (env, expected) => {
    expect(errorOf({ NODE_ENV: 'production', ...env })).toMatch(expected);
  });

  it('refuses a REDIS_URL that is no URL, naming the variable and not its password', () => {
    const message = errorOf({ REDIS_URL: 'redis://ebdedup:Sup3rSecretPw@redis.internal:notaport' });

    expect(message).toMatch(/REDIS_URL/);
    expect(message).not.toContain('Sup3rSecretPw');
  });

  it('refuses the memory store in AWS Lambda unless STORE=memory is explicit', () => {
    const lambda = { AWS_LAMBDA_FUNCTION_NAME: 'ebdedup', AUTH_MODE: 'none' };

    expect(errorOf(lambda)).toMatch(/^Invalid configuration: REDIS_URL is required in AWS Lambda/);
    expect(parseConfig({ ...lambda, REDIS_URL: 'redis://r:6379' }).STORE).toBe('redis');
    expect(parseConfig({ ...lambda, STORE: 'memory' }).STORE).toBe('memory');
    expect(parseConfig({ AUTH_MODE: 'none' }).STORE).toBe('memory');
  });

  it('accepts the memory store in production when chosen explicitly', () => {
    expect(parseConfig({ NODE_ENV: 'production', API_KEYS: 'k', STORE: 'memory' }).STORE).toBe('memory');
  });

  it('generates one API key outside production when API_KEYS is unset', () => {
    const config = parseConfig({});

    expect(config.apiKeyGenerated).toBe(true);
    expect(config.API_KEYS).toHaveLength(1);
    expect(config.API_KEYS[0]?.length).toBeGreaterThanOrEqual(32);
  });

  it('requires the settings each mode needs', () => {
    expect(errorOf({ AUTH_MODE: 'basic' })).toMatch(/BASIC_AUTH_USERS is required/);
    expect(errorOf({ AUTH_MODE: 'bearer' })).toMatch(/BEARER_TOKENS is required/);
    expect(errorOf({ SINK: 'http' })).toMatch(/SINK_HTTP_URL is required/);
    expect(errorOf({ DEDUP_STRATEGY: 'rules' })).toMatch(/DEDUP_RULES_FILE is required/);
    expect(errorOf({ STORE: 'redis' })).toMatch(
      /STORE='redis' needs REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS/,
    );
    expect(errorOf({ REDIS_SENTINELS: '127.0.0.1:26379' })).toMatch(/REDIS_SENTINEL_NAME is required/);
  });

  it('never repeats a secret value in its message', () => {
    const message = errorOf({ BASIC_AUTH_USERS: 'no-colon-secret' });

    expect(message).toMatch(/BASIC_AUTH_USERS expected comma-separated user:password pairs/);
    expect(message).not.toContain('no-colon-secret');
  });

  it('splits comma lists and lower-cases header names', () => {
    const config = parseConfig({ API_KEYS: ' old , new ,', API_KEY_HEADER: 'X-EB-Key' });

    expect(config.API_KEYS).toEqual(['old', 'new']);
    expect(config.API_KEY_HEADER).toBe('x-eb-key');
  });

  it('reads .env from the working folder, the environment winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebdedup-env-'));
    writeFileSync(join(dir, '.env'), 'PORT=4100\nEVENTS_PATH=/from-file\nAPI_KEYS=file-key\n');

    const config = loadConfig({ EVENTS_PATH: '/from-env' }, dir);

    expect(config.PORT).toBe(4100);
    expect(config.EVENTS_PATH).toBe('/from-env');
    expect(config.API_KEYS).toEqual(['file-key']);
  });

  it('treats an empty value as unset', () => {
    expect(parseConfig({ API_KEYS: 'k', PORT: '' }).PORT).toBe(3000);
  });

  it('collects every credential for redaction', () => {
    const config = parseConfig({
      API_KEYS: 'key-one,key-two',
      BEARER_TOKENS: 'tok-one',
      BASIC_AUTH_USERS: 'eb:pass-one',
      REDIS_URL: 'redis://user:redis%21pw@127.0.0.1:6379',
    });

    expect(secretValues(config).sort()).toEqual(['key-one', 'key-two', 'pass-one', 'redis!pw', 'tok-one']);
  });
});
