import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createLambdaHandler } from '../../src/adapters/lambda.js';
import { createPipeline } from '../../src/core/create-pipeline.js';
import { ProcessingFailedError, StoreUnavailableError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import { LogCapture, redisStore, testConfig } from '../helpers/app.js';
import { RedisServer } from '../helpers/redis-server.js';
import { AUDIT, loadSample, republished, SAMPLE_FILES, SAMPLES_DIR } from '../helpers/samples.js';
import { REPO_ROOT } from '../helpers/server-process.js';
import { RecordingSink } from '../helpers/sinks.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

async function lambda(url = redis.url, { env = {}, sink = new RecordingSink() } = {}) {
  const config = testConfig(env);
  const store = redisStore(url);
  await store.connect();
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

  it('throws a retryable failure so Lambda retries, named for its errorType', async () => {
    const own = await RedisServer.start();
    const { handler } = await lambda(own.url);
    await own.close();

    const failure = handler(loadSample(SAMPLE_FILES[0] as string));

    await expect(failure).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(failure).rejects.toHaveProperty('name', 'StoreUnavailableError');
  });
});

/** The context the Node.js runtime passes (the fields this adapter reads, and the rest for realism). */
function lambdaContext(awsRequestId = 'c6af9ac6-7b61-11e6-9a41-93e812345678') {
  const deadline = Date.now() + 15_000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'ebdedup',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ebdedup',
    memoryLimitInMB: '256',
    awsRequestId,
    logGroupName: '/aws/lambda/ebdedup',
    logStreamName: '2025/01/01/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

describe('Lambda handler past SINK_TIMEOUT_MS', () => {
  // Lambda freezes the environment once the handler settles: a sink left running there, with its lease no longer
  // renewed, would finish later besides the retry that claimed the lapsed key (both processing the event).
  it('waits for a sink slower than SINK_TIMEOUT_MS and resolves processed, so its retry is a duplicate', async () => {
    // Arrange
    await redis.client().flushall();
    const sink = new RecordingSink({ delayMs: 300 });
    const { handler } = await lambda(redis.url, { env: { SINK_TIMEOUT_MS: '50' }, sink });
    const event = loadSample(SAMPLE_FILES[0] as string);

    // Act
    const first = await handler(event, lambdaContext());
    const retry = await handler(event, lambdaContext());

    // Assert
    expect(first).toEqual({ status: 'processed', key: expect.any(String) });
    expect(retry).toMatchObject({ status: 'duplicate', key: first.status === 'processed' ? first.key : '' });
    expect(sink.calls).toBe(1);
  });

  it('throws the failure of a sink slower than SINK_TIMEOUT_MS once it fails, and its retry processes the event', async () => {
    // Arrange
    await redis.client().flushall();
    const sink = new RecordingSink({ delayMs: 300, failFirst: 1 });
    const { handler } = await lambda(redis.url, { env: { SINK_TIMEOUT_MS: '50' }, sink });
    const event = loadSample(SAMPLE_FILES[0] as string);

    // Act
    const first = handler(event, lambdaContext());
    await expect(first).rejects.toBeInstanceOf(ProcessingFailedError);
    const retry = await handler(event, lambdaContext());

    // Assert
    expect(retry.status).toBe('processed');
    expect(sink.calls).toBe(2);
  });
});

describe('Lambda handler log lines', () => {
  it("carry the invocation's awsRequestId, and an invalid event's line names its id", async () => {
    // Arrange
    await redis.client().flushall();
    const { handler, logs } = await lambda();
    const valid = loadSample(SAMPLE_FILES[0] as string);
    const { source: _gone, ...invalid } = loadSample(SAMPLE_FILES[1] as string);

    // Act
    await handler(valid, lambdaContext('request-processed'));
    await handler(invalid, lambdaContext('request-invalid'));

    // Assert
    const lines = logs.lines();
    expect(lines.find((line) => line.outcome === 'processed')).toMatchObject({
      requestId: 'request-processed',
    });
    expect(lines.find((line) => line.outcome === 'invalid')).toMatchObject({
      requestId: 'request-invalid',
      eventId: invalid.id,
    });
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

/**
 * A script of a project that installed the package: it imports the package export, as the docs show, and runs
 * in its own process (built dist/). Resolves its exit code and output, or 'still running' after `waitMs`.
 */
async function runScript(
  source: string,
  env: Record<string, string>,
  waitMs = 8000,
): Promise<{ code: number | null | 'still running'; stdout: string; stderr: string }> {
  const project = mkdtempSync(join(tmpdir(), 'ebdedup-lambda-'));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(REPO_ROOT, join(project, 'node_modules/genesys-eventbridge-dedup'));
  writeFileSync(join(project, 'script.mjs'), source);
  const child = spawn('node', ['script.mjs'], {
    cwd: project,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTestFinished(() => void child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const code = await Promise.race([
    new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode))),
    new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), waitMs)),
  ]);
  return { code, stdout, stderr };
}

const INVOKE_ONCE = `import { readFileSync } from 'node:fs';
import { handler, close } from 'genesys-eventbridge-dedup/lambda';
const event = JSON.parse(readFileSync(${JSON.stringify(`${SAMPLES_DIR}${AUDIT}`)}, 'utf8'));
try {
  console.log(\`result \${JSON.stringify(await handler(event))}\`);
} finally {
  await close();
}
`;

/** The handler's answer the script printed (its log lines share stdout). */
function printedAnswer(stdout: string): unknown {
  const line = stdout.split('\n').find((text) => text.startsWith('result '));
  return line === undefined ? undefined : JSON.parse(line.slice('result '.length));
}

describe('Lambda handler as a package export, in a process', () => {
  it('lets a local script exit once it calls close()', async () => {
    await redis.client().flushall();

    const run = await runScript(INVOKE_ONCE, { REDIS_URL: redis.url });

    expect(run.code).toBe(0);
    expect(printedAnswer(run.stdout)).toMatchObject({ status: 'processed' });
  });

  it('refuses the memory store inside AWS Lambda, naming REDIS_URL', async () => {
    const run = await runScript(INVOKE_ONCE, { AWS_LAMBDA_FUNCTION_NAME: 'ebdedup' });

    expect(run.code).toBe(1);
    expect(printedAnswer(run.stdout)).toBeUndefined();
    expect(run.stderr).toMatch(/Invalid configuration: REDIS_URL is required in AWS Lambda/);
  });

  it('accepts the memory store in AWS Lambda when STORE=memory says so (a local invoke)', async () => {
    const run = await runScript(INVOKE_ONCE, { AWS_LAMBDA_FUNCTION_NAME: 'ebdedup', STORE: 'memory' });

    expect(run.code).toBe(0);
    expect(printedAnswer(run.stdout)).toMatchObject({ status: 'processed' });
  });
});
