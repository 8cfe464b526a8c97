import { PassThrough } from 'node:stream';
import { onTestFinished } from 'vitest';
import { type Config, parseConfig, secretValues } from '../../src/config/index.js';
import { createLogger } from '../../src/core/logger.js';
import { type App, buildApp } from '../../src/http/app.js';
import type { Sink } from '../../src/sinks/types.js';
import { MemoryStore } from '../../src/store/memory.js';
import { createRedisClient, RedisStore } from '../../src/store/redis/index.js';
import type { IdempotencyStore } from '../../src/store/types.js';
import { RecordingSink } from './sinks.js';

export const API_KEY = 'test-key-0123456789';

/** A configuration as the process would parse it, with test defaults under the given variables. */
export function testConfig(env: Record<string, string> = {}): Config {
  return parseConfig({ API_KEYS: API_KEY, LOG_LEVEL: 'silent', STORE: 'memory', ...env });
}

/** A Redis store on the given server, failing fast as in production. */
export function redisStore(url: string, config: Config = testConfig()): RedisStore {
  return new RedisStore({
    client: createRedisClient({ url, commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS }),
    prefix: config.DEDUP_PREFIX,
  });
}

/** Collects log lines so tests can read what was logged. */
export class LogCapture {
  readonly stream = new PassThrough();
  private text = '';
  constructor() {
    this.stream.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
    });
  }
  get raw(): string {
    return this.text;
  }
  lines(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

export interface TestAppOptions {
  env?: Record<string, string>;
  store?: IdempotencyStore;
  sink?: Sink;
  logs?: LogCapture;
  pressureSampleIntervalMs?: number;
}

/** A real app on its own store and sink, closed when the test ends. */
export async function testApp(
  options: TestAppOptions = {},
): Promise<{ app: App; config: Config; store: IdempotencyStore; sink: Sink }> {
  const config = testConfig({ ...(options.logs ? { LOG_LEVEL: 'debug' } : {}), ...options.env });
  const store = options.store ?? new MemoryStore();
  if (store instanceof RedisStore) await store.connect();
  const sink = options.sink ?? new RecordingSink();
  const logger = createLogger({
    level: config.LOG_LEVEL,
    secrets: secretValues(config),
    secretHeaders: [config.API_KEY_HEADER],
    ...(options.logs ? { destination: options.logs.stream } : {}),
  });
  const app = await buildApp({
    config,
    store,
    sink,
    logger,
    ...(options.pressureSampleIntervalMs
      ? { pressureSampleIntervalMs: options.pressureSampleIntervalMs }
      : {}),
  });
  onTestFinished(() => app.close());
  return { app, config, store, sink };
}

export const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'user-agent': 'Amazon/EventBridge/ApiDestinations',
  'x-api-key': API_KEY,
};
