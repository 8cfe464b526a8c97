import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { close, handler } from '../../src/adapters/lambda.js';
import { RulesFileError } from '../../src/events/rules.js';
import { SinkModuleError } from '../../src/sinks/module.js';
import { RedisServer } from '../helpers/redis-server.js';
import { loadSample, SAMPLE_FILES } from '../helpers/samples.js';

/**
 * The package's `handler` when its start fails after Redis could be reached. The handler tries to start again on
 * the next invocation, so whatever a failed attempt left open would pile up: one Redis connection per
 * invocation, counted here on each test's own redis-server.
 */

/**
 * A redis-server of this test's own and the handler's variables pointing at it, as Lambda would set them, for
 * this test only. `connections()` counts the clients the server holds, not the test's own inspecting one.
 */
async function lambdaOnOwnRedis(variables: Record<string, string>) {
  const redis = await RedisServer.start();
  for (const [name, value] of Object.entries({ REDIS_URL: redis.url, LOG_LEVEL: 'silent', ...variables })) {
    vi.stubEnv(name, value);
  }
  onTestFinished(async () => {
    await close();
    vi.unstubAllEnvs();
    await redis.close();
  });
  const connections = async (): Promise<number> => {
    const list = (await redis.client().call('CLIENT', 'LIST')) as string;
    return list.trim().split('\n').length - 1;
  };
  return { connections };
}

async function invokeThreeTimes(): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (let attempt = 0; attempt < 3; attempt += 1) {
    await handler(loadSample(SAMPLE_FILES[0] as string)).catch((error: unknown) => failures.push(error));
  }
  return failures;
}

describe('Lambda handler whose start fails', () => {
  it('fails every invocation with the rules error and leaves no Redis connection open', async () => {
    // Arrange
    const rules = join(mkdtempSync(join(tmpdir(), 'ebdedup-rules-')), 'rules.json');
    writeFileSync(rules, JSON.stringify({ rules: [{ name: 'no-key', 'detail-type': 'v2.*' }] }));
    const { connections } = await lambdaOnOwnRedis({ DEDUP_STRATEGY: 'rules', DEDUP_RULES_FILE: rules });
    expect(await connections()).toBe(0);

    // Act
    const failures = await invokeThreeTimes();

    // Assert
    expect(failures).toHaveLength(3);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(RulesFileError);
      expect((failure as Error).message).toContain('no-key');
    }
    await expect.poll(connections, { timeout: 2000 }).toBe(0);
  });

  it('closes the store when the sink cannot be opened, on every invocation', async () => {
    // Arrange
    const { connections } = await lambdaOnOwnRedis({
      SINK: 'module',
      SINK_MODULE: '/nonexistent/ebdedup-sink.mjs',
    });
    expect(await connections()).toBe(0);

    // Act
    const failures = await invokeThreeTimes();

    // Assert
    expect(failures).toHaveLength(3);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(SinkModuleError);
      expect((failure as Error).message).toContain('/nonexistent/ebdedup-sink.mjs');
    }
    await expect.poll(connections, { timeout: 2000 }).toBe(0);
  });

  it('opens one connection once the configuration is right, and close() lets it go', async () => {
    // Arrange
    const { connections } = await lambdaOnOwnRedis({});

    // Act
    const results = [await handler(loadSample(SAMPLE_FILES[0] as string)), await handler({})];
    const whileOpen = await connections();
    await close();

    // Assert
    expect(results.map((result) => result.status)).toEqual(['processed', 'invalid']);
    expect(whileOpen).toBe(1);
    await expect.poll(connections, { timeout: 2000 }).toBe(0);
  });
});
