import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { sleep } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import { AUDIT, SAMPLES_DIR } from '../helpers/samples.js';
import { ServerProcess } from '../helpers/server-process.js';
import { slowSinkModule } from '../helpers/sinks.js';

const API_KEY = 'e2e-key-7f3a9c';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

/** A POST as an API destination sends it. */
function deliver(url: string, body: string, apiKey = API_KEY) {
  return fetch(`${url}/events`, {
    method: 'POST',
    headers: {
      'User-Agent': 'Amazon/EventBridge/ApiDestinations',
      'Content-Type': 'application/json; charset=utf-8',
      'x-api-key': apiKey,
    },
    body,
  });
}

describe('the built server as a process', () => {
  it('runs with npm start, processes a sample once, keeps its key in Redis, and shuts down on SIGTERM', async () => {
    // Arrange
    await redis.client().flushall();
    const server = await ServerProcess.start(
      { REDIS_URL: redis.url, API_KEYS: API_KEY, NODE_ENV: 'production' },
      { command: ['npm', 'start', '--silent'] },
    );
    onTestFinished(() => void server.stop('SIGKILL'));
    const body = readFileSync(`${SAMPLES_DIR}${AUDIT}`, 'utf8');

    // Act
    const first = await deliver(server.url, body);
    const second = await deliver(server.url, body);
    const keys = await redis.client().keys('ebdedup:*');
    await server.stop('SIGTERM');
    await sleep(300);

    // Assert
    expect(first.status).toBe(200);
    expect(((await first.json()) as { status: string }).status).toBe('processed');
    expect(((await second.json()) as { status: string }).status).toBe('duplicate');
    // One processed mark: a field of its bucket hash, beside the TTL index of its hash tag; no claim left.
    expect(keys).toHaveLength(2);
    expect(keys.sort()).toEqual([
      expect.stringMatching(/^ebdedup:\{[\w-]{2}\}:86400:\d+$/),
      expect.stringMatching(/^ebdedup:\{[\w-]{2}\}:ttls$/),
    ]);
    // npm itself dies of the signal; the receiver under it logs a clean shutdown (its exit code is checked
    // without npm in the next test).
    expect(server.stdout).toContain('shutdown complete');
    expect(server.stdout).toContain('event processed');
    expect(server.stdout).not.toContain(API_KEY);
  });

  it('finishes an in-flight request, then exits 0 on SIGTERM', async () => {
    const module = slowSinkModule(700);
    const server = await ServerProcess.start({
      REDIS_URL: redis.url,
      API_KEYS: API_KEY,
      SINK: 'module',
      SINK_MODULE: module,
    });
    onTestFinished(() => void server.stop('SIGKILL'));
    const body = JSON.stringify({
      ...JSON.parse(readFileSync(`${SAMPLES_DIR}${AUDIT}`, 'utf8')),
      detail: { n: Date.now() },
      source: 'custom.app',
    });

    const inFlight = deliver(server.url, body);
    await sleep(200);
    server.child.kill('SIGTERM');
    const response = await inFlight;
    const exit = await server.exited;

    expect(response.status).toBe(200);
    expect(((await response.json()) as { status: string }).status).toBe('processed');
    expect(exit.code).toBe(0);
  });

  it('stops with one line naming a bad variable', async () => {
    const server = await ServerProcess.start(
      { PORT: '3000', DEDUP_TTL_SECONDS: '3600' },
      { waitReady: false },
    );

    const exit = await server.exited;

    expect(exit.code).toBe(1);
    expect(server.stderr.trim().split('\n')).toEqual([
      "Invalid configuration: DEDUP_TTL_SECONDS='3600' must be at least 86400",
    ]);
  });

  it('runs on the memory store with a generated key when nothing is configured', async () => {
    const server = await ServerProcess.start({});
    onTestFinished(() => void server.stop('SIGKILL'));
    const generated = server.stderr.split('\n')[1]?.trim() ?? '';
    const body = readFileSync(`${SAMPLES_DIR}${AUDIT}`, 'utf8');

    const accepted = await deliver(server.url, body, generated);
    const refused = await deliver(server.url, body, 'not-the-key');

    expect(generated).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(server.stdout).toContain('in-process memory store');
    expect(accepted.status).toBe(200);
    expect(refused.status).toBe(401);
  });
});
