import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createLambdaHandler } from '../../src/adapters/lambda.js';
import { createPipeline } from '../../src/core/create-pipeline.js';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import { LogCapture, redisStore, testConfig } from '../helpers/app.js';
import { RedisServer } from '../helpers/redis-server.js';
import { loadSample, republished, SAMPLE_FILES } from '../helpers/samples.js';
import { RecordingSink } from '../helpers/sinks.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

async function lambda(url = redis.url) {
  const config = testConfig();
  const store = redisStore(url);
  await store.connect();
  const sink = new RecordingSink();
  const logs = new LogCapture();
  const logger = createLogger({ level: 'info', destination: logs.stream });
  const pipeline = createPipeline({ config, store, sink, logger });
  onTestFinished(async () => {
    await pipeline.close();
    await store.close();
  });
  return { handler: createLambdaHandler({ pipeline, logger }), sink, logs };
}

describe('Lambda handler', () => {
  it('processes each sample once and returns duplicates without processing', async () => {
    // Arrange
    await redis.client().flushall();
    const { handler, sink } = await lambda();

    // Act
    const first = await Promise.all(SAMPLE_FILES.map((file) => handler(loadSample(file))));
    const again = await Promise.all(SAMPLE_FILES.map((file) => handler(republished(loadSample(file)))));

    // Assert
    expect(first.map((result) => result.status)).toEqual(SAMPLE_FILES.map(() => 'processed'));
    expect(again.map((result) => result.status)).toEqual(SAMPLE_FILES.map(() => 'duplicate'));
    expect(sink.handled).toHaveLength(SAMPLE_FILES.length);
  });

  it('resolves an invalid event with its issues and logs them, so Lambda does not retry', async () => {
    const { handler, sink, logs } = await lambda();
    const { source: _gone, ...event } = loadSample(SAMPLE_FILES[0] as string);

    const result = await handler(event);

    expect(result).toEqual({ status: 'invalid', issues: [{ path: 'source', message: 'is required' }] });
    expect(sink.calls).toBe(0);
    expect(logs.lines().some((line) => line.outcome === 'invalid')).toBe(true);
  });

  it('resolves a number beyond double range as invalid, naming its path, instead of failing for ever', async () => {
    const { handler, sink } = await lambda();
    // What the Lambda runtime's JSON.parse makes of `1e400`.
    const event = JSON.parse(
      JSON.stringify(loadSample(SAMPLE_FILES[0] as string)).replace('"detail":{', '"detail":{"x":1e400,'),
    );

    const result = await handler(event);

    expect(result).toEqual({
      status: 'invalid',
      issues: [{ path: 'detail.x', message: 'is a number beyond the range of a double (IEEE-754)' }],
    });
    expect(sink.handled).toHaveLength(0);
  });

  it('resolves a lone surrogate as invalid, naming its path, as the HTTP route does', async () => {
    const { handler, sink } = await lambda();
    // What the Lambda runtime's JSON.parse makes of `"\ud800"`.
    const event = JSON.parse(
      JSON.stringify(loadSample(SAMPLE_FILES[0] as string)).replace(
        '"detail":{',
        '"detail":{"x":["\\ud800"],',
      ),
    );

    const result = await handler(event);

    expect(result).toMatchObject({ status: 'invalid', issues: [{ path: 'detail.x.0' }] });
    expect(sink.handled).toHaveLength(0);
  });

  it('gives the sink the event as text, since the runtime has parsed its bytes already', async () => {
    await redis.client().flushall();
    const { handler, sink } = await lambda();
    const event = loadSample(SAMPLE_FILES[0] as string);

    await handler(event);

    expect(sink.handled[0]?.context.rawBody).toBe(JSON.stringify(event));
  });

  it('throws a retryable failure so Lambda retries', async () => {
    const own = await RedisServer.start();
    const { handler } = await lambda(own.url);
    await own.close();

    await expect(handler(loadSample(SAMPLE_FILES[0] as string))).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
  });
});

describe('Lambda handler on hostile input', () => {
  it('resolves an event nested thousands of levels deep as invalid instead of overflowing the stack', async () => {
    const { handler, sink } = await lambda();
    let detail: Record<string, unknown> = {};
    for (let level = 0; level < 5000; level += 1) detail = { a: detail };
    const event = { ...loadSample(SAMPLE_FILES[0] as string), source: 'custom.app', detail };

    const result = await handler(event);

    expect(result).toMatchObject({
      status: 'invalid',
      issues: [{ path: '', message: expect.stringMatching(/deeper than 128/) }],
    });
    expect(sink.calls).toBe(0);
  });
});
