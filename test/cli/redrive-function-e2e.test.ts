import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runRedrive } from '../../src/cli/redrive.js';
import { RedisServer } from '../helpers/redis-server.js';
import { captureContext } from './helpers/context.js';
import { TEST_KEYS, TEST_REGION } from './helpers/fake-eventbridge.js';
import {
  type FakeLambda,
  type FunctionCode,
  functionDlqAttributes,
  lambdaTestEnv,
  onFailureRecord,
  startFakeLambda,
} from './helpers/fake-lambda.js';
import { type FakeSqs, startFakeSqs } from './helpers/fake-sqs.js';

const FAST = ['--retry-base-ms', '1', '--wait-seconds', '0'];
const DIST = path.resolve(import.meta.dirname, '../../dist');

/** A module of the build, typed as its source (dist is compiled from it). */
async function built<T>(file: string): Promise<T> {
  return (await import(pathToFileURL(path.join(DIST, file)).href)) as T;
}

// `npm test` builds first; run alone (`npx vitest run test/cli`) this needs `npm run build` to have been run, and
// fails without it rather than skip: a test that runs only sometimes proves nothing.
describe('ebdedup redrive --to-function running the built handler (dist/)', () => {
  let redis: RedisServer;
  let closeRuntime: () => Promise<void> = async () => undefined;
  let handler: FunctionCode;

  beforeAll(async () => {
    redis = await RedisServer.start();
    // What the handler export builds on its first invocation (src/adapters/lambda.ts initialise()), from these
    // variables instead of the process's.
    const { parseConfig } = await built<typeof import('../../src/config/index.js')>('config/index.js');
    const { createLogger } = await built<typeof import('../../src/core/logger.js')>('core/logger.js');
    const { openRuntime } =
      await built<typeof import('../../src/core/create-pipeline.js')>('core/create-pipeline.js');
    const { createLambdaHandler } =
      await built<typeof import('../../src/adapters/lambda.js')>('adapters/lambda.js');
    const config = parseConfig({ REDIS_URL: redis.url, SINK: 'redis-stream', LOG_LEVEL: 'silent' });
    const logger = createLogger({ level: 'silent' });
    const runtime = await openRuntime(config, logger);
    closeRuntime = () => runtime.close();
    const handle = createLambdaHandler({ pipeline: runtime.pipeline, logger });
    handler = (event, context) => handle(event, context);
  });

  afterAll(async () => {
    await closeRuntime();
    await redis?.close();
  });

  let sqs: FakeSqs | undefined;
  let lambda: FakeLambda | undefined;

  afterEach(async () => {
    await Promise.all([sqs?.close(), lambda?.close()]);
  });

  /** The fake SQS and the fake Lambda running the built handler as `ebdedup` (closed after the test); the samples' texts. */
  async function startFakesAndReadSamples(): Promise<{ sqs: FakeSqs; lambda: FakeLambda; bodies: string[] }> {
    const queue = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    sqs = queue;
    const fn = await startFakeLambda({
      region: TEST_REGION,
      secrets: TEST_KEYS,
      functions: { ebdedup: handler },
    });
    lambda = fn;
    const samples = path.resolve(import.meta.dirname, '../../samples');
    const names = (await readdir(samples)).filter((name) => name.endsWith('.json')).sort();
    const bodies = await Promise.all(names.map((name) => readFile(path.join(samples, name), 'utf8')));
    return { sqs: queue, lambda: fn, bodies };
  }

  it('processes each redriven sample once, answers duplicate when the same events are redriven again, and leaves an invalid one', async () => {
    // Arrange
    const { sqs, lambda, bodies } = await startFakesAndReadSamples();
    const dlq = functionDlqAttributes('3f1e0c2a-0000-4000-8000-000000000001', 'the store is unavailable');
    for (const body of bodies) sqs.send(body, dlq);
    const invalid = sqs.send('{"version":"0","id":"x"}', dlq);
    const args = ['--queue-url', sqs.queueUrl, '--endpoint-url', sqs.origin, ...FAST, '--to-function'];
    const redriveOnce = () => captureContext([...args, 'ebdedup', '--json'], { env: lambdaTestEnv(lambda) });
    const first = redriveOnce();
    const again = redriveOnce();

    // Act: the first run; then the same events dead-lettered a second time, and a second run.
    const firstCode = await runRedrive(first.ctx);
    for (const body of bodies) sqs.send(body, dlq);
    const againCode = await runRedrive(again.ctx);

    // Assert
    expect(lambda.problems).toEqual([]);
    expect(sqs.problems).toEqual([]);
    expect([firstCode, againCode]).toEqual([1, 0]);
    expect(JSON.parse(first.stdout())).toMatchObject({
      received: bodies.length + 1,
      processed: bodies.length,
      duplicate: 0,
      rejected: 1,
      deleted: bodies.length,
      left: 1,
      byErrorCode: { 200: { messages: bodies.length + 1, deleted: bodies.length, left: 1 } },
    });
    expect(first.stderr()).toMatch(
      /^invalid 200 sqs:msg-\d+ \(event x\) error=invalid_event \(.*\) .* left$/m,
    );
    // The invalid one is hidden for the visibility timeout: the second run gets only the new copies.
    expect(JSON.parse(again.stdout())).toMatchObject({
      received: bodies.length,
      processed: 0,
      duplicate: bodies.length,
      deleted: bodies.length,
      left: 0,
    });
    expect(await redis.client().xlen('ebdedup:events')).toBe(bodies.length);
    expect([...sqs.messages.keys()]).toEqual([invalid]);
  });

  it("keys an on-failure destination's requestPayload as the handler keyed the event: what got through is a duplicate", async () => {
    // Arrange: a store without the first test's keys; the first sample got through in another invocation (the
    // runtime hands the handler the parsed payload), then every sample's invocation failed into on-failure records.
    await redis.client().flushall();
    const { sqs, lambda, bodies } = await startFakesAndReadSamples();
    await handler(JSON.parse(bodies[0] as string), { awsRequestId: 'before', functionName: 'ebdedup' });
    const failed = { errorType: 'StoreUnavailableError', errorMessage: 'the store is unavailable' };
    const records = bodies.map((body) => onFailureRecord(JSON.parse(body), { error: failed }));
    for (const record of records) sqs.send(record);
    const args = ['--queue-url', sqs.queueUrl, '--endpoint-url', sqs.origin, ...FAST, '--to-function'];
    const redriveOnce = () => captureContext([...args, 'ebdedup', '--json'], { env: lambdaTestEnv(lambda) });
    const first = redriveOnce();
    const again = redriveOnce();

    // Act: the first run; then the same records once more, and a second run.
    const firstCode = await runRedrive(first.ctx);
    for (const record of records) sqs.send(record);
    const againCode = await runRedrive(again.ctx);

    // Assert
    expect(lambda.problems).toEqual([]);
    expect([firstCode, againCode]).toEqual([0, 0]);
    expect(JSON.parse(first.stdout())).toMatchObject({
      processed: bodies.length - 1,
      duplicate: 1,
      deleted: bodies.length,
      byErrorCode: { StoreUnavailableError: { messages: bodies.length, deleted: bodies.length } },
    });
    expect(JSON.parse(again.stdout())).toMatchObject({ duplicate: bodies.length, deleted: bodies.length });
    expect(await redis.client().xlen('ebdedup:events')).toBe(bodies.length);
    expect(sqs.remaining()).toBe(0);
  });
});
