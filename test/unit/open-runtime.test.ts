import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { closeInReverse, openDependencies, openRuntime } from '../../src/core/create-pipeline.js';
import { createLogger } from '../../src/core/logger.js';
import { RulesFileError } from '../../src/events/rules.js';
import { SinkModuleError } from '../../src/sinks/module.js';
import { testConfig } from '../helpers/app.js';
import { RedisServer } from '../helpers/redis-server.js';
import { loadSample, SAMPLE_FILES } from '../helpers/samples.js';

/** Something to close that writes its name to `closed` when closed, and fails if asked to. */
function part(name: string, closed: string[], failure?: Error) {
  return {
    async close(): Promise<void> {
      closed.push(name);
      if (failure) throw failure;
    },
  };
}

describe('closeInReverse', () => {
  it('closes the last opened first: the pipeline, then the sink, then the store', async () => {
    // Arrange
    const closed: string[] = [];
    const opened = [part('store', closed), part('sink', closed), part('pipeline', closed)];

    // Act
    await closeInReverse(opened);

    // Assert
    expect(closed).toEqual(['pipeline', 'sink', 'store']);
  });

  it('still closes the store when the sink fails to close, then rethrows the sink failure', async () => {
    const closed: string[] = [];
    const failure = new Error('sink close failed');

    const closing = closeInReverse([part('store', closed), part('sink', closed, failure)]);

    await expect(closing).rejects.toBe(failure);
    expect(closed).toEqual(['sink', 'store']);
  });

  it('rethrows every failure when several closes fail', async () => {
    const closed: string[] = [];
    const first = new Error('pipeline');
    const second = new Error('store');

    const closing = closeInReverse([part('store', closed, second), part('pipeline', closed, first)]);

    await expect(closing).rejects.toMatchObject({ errors: [first, second] });
    expect(closed).toEqual(['pipeline', 'store']);
  });
});

describe('openRuntime on a real redis-server', () => {
  let redis: RedisServer;
  const logger = createLogger({ level: 'silent' });

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis.close();
  });

  /** Connections Redis has accepted since it started (the test's own inspecting one included). */
  async function connectionsReceived(): Promise<number> {
    const info = (await redis.client().info('stats')) as string;
    return Number(/total_connections_received:(\d+)/.exec(info)?.[1]);
  }

  /** Connections open now, not counting the test's own inspecting one. */
  async function connectionsOpen(): Promise<number> {
    const list = (await redis.client().call('CLIENT', 'LIST')) as string;
    return list.trim().split('\n').length - 1;
  }

  /** A sink module that appends a line to a file of its own each time it is closed. */
  function recordingSinkModule(): { module: string; closes: () => string[] } {
    const dir = mkdtempSync(join(tmpdir(), 'ebdedup-sink-'));
    const log = join(dir, 'closes.txt');
    writeFileSync(log, '');
    const module = join(dir, 'sink.mjs');
    writeFileSync(
      module,
      `import { appendFileSync } from 'node:fs';
export function handle() {}
export function close() { appendFileSync(${JSON.stringify(log)}, 'closed\\n'); }
`,
    );
    return { module, closes: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  }

  it('fails on a wrong rules file before connecting to Redis', async () => {
    // Arrange
    const rules = join(mkdtempSync(join(tmpdir(), 'ebdedup-rules-')), 'rules.json');
    writeFileSync(rules, '{"rules": [{"name": "no-key"}]}');
    const config = testConfig({
      STORE: 'redis',
      REDIS_URL: redis.url,
      DEDUP_STRATEGY: 'rules',
      DEDUP_RULES_FILE: rules,
    });
    const before = await connectionsReceived();

    // Act
    const opening = openRuntime(config, logger);

    // Assert
    await expect(opening).rejects.toBeInstanceOf(RulesFileError);
    expect(await connectionsReceived()).toBe(before);
  });

  it('closes the store it opened when the sink cannot be opened', async () => {
    const noHandle = join(mkdtempSync(join(tmpdir(), 'ebdedup-sink-')), 'sink.mjs');
    writeFileSync(noHandle, 'export const nothing = 1;\n');
    const config = testConfig({
      STORE: 'redis',
      REDIS_URL: redis.url,
      SINK: 'module',
      SINK_MODULE: noHandle,
    });
    const before = await connectionsReceived();

    const opening = openDependencies(config, logger);

    await expect(opening).rejects.toBeInstanceOf(SinkModuleError);
    expect(await connectionsReceived()).toBe(before + 1);
    await expect.poll(connectionsOpen, { timeout: 2000 }).toBe(0);
  });

  it('runs events, then close() closes the sink once and the Redis connection, however often it is called', async () => {
    const sink = recordingSinkModule();
    const config = testConfig({
      STORE: 'redis',
      REDIS_URL: redis.url,
      SINK: 'module',
      SINK_MODULE: sink.module,
    });
    const runtime = await openRuntime(config, logger);
    onTestFinished(() => runtime.close());

    const event = loadSample(SAMPLE_FILES[0] as string);
    const outcome = await runtime.pipeline.handle({ body: event, rawBody: JSON.stringify(event) }, {});
    const whileOpen = await connectionsOpen();
    await Promise.all([runtime.close(), runtime.close()]);
    await runtime.close();

    expect(outcome.status).toBe('processed');
    expect(whileOpen).toBe(1);
    expect(sink.closes()).toEqual(['closed']);
    await expect.poll(connectionsOpen, { timeout: 2000 }).toBe(0);
  });
});
