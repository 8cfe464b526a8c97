import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runRedrive } from '../../src/cli/redrive.js';
import { captureContext } from './helpers/context.js';
import { TEST_KEYS, TEST_REGION } from './helpers/fake-eventbridge.js';
import {
  dedupFunction,
  type FakeLambda,
  functionArn,
  functionDlqAttributes,
  lambdaTestEnv,
  onFailureRecord,
  sendLambdaError,
  startFakeLambda,
  thrown,
} from './helpers/fake-lambda.js';
import { dlqAttributes, type FakeSqs, startFakeSqs } from './helpers/fake-sqs.js';

const FAST = ['--retry-base-ms', '1', '--wait-seconds', '0'];

/** A Genesys-like event as the DLQ holds it: odd spacing and key order, which must reach the function as is. */
function dlqBody(n: number): string {
  return `{"version":"0", "id":"evt-${n}","detail-type":"v2.users.{id}.presence","source":"aws.partner/genesys.com/o/1","account":"123456789012","time":"2026-12-01T00:00:0${n % 10}Z","region":"eu-west-1","resources":[],"detail":{"topicName":"v2.users.u${n}.presence","eventBody":{"n":${n}}}}`;
}

describe('ebdedup redrive --to-function', () => {
  let sqs: FakeSqs | undefined;
  let lambda: FakeLambda | undefined;
  let dir = '';

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ebdedup-redrive-fn-'));
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
  });

  afterEach(async () => {
    const servers = [sqs, lambda];
    [sqs, lambda] = [undefined, undefined];
    await Promise.all(servers.map((server) => server?.close()));
    await rm(dir, { recursive: true, force: true });
  });

  async function startLambda(options: Omit<Parameters<typeof startFakeLambda>[0], 'region' | 'secrets'>) {
    lambda = await startFakeLambda({ region: TEST_REGION, secrets: TEST_KEYS, ...options });
    return lambda;
  }

  function redrive(args: string[], env: Record<string, string> = {}) {
    if (sqs === undefined || lambda === undefined) throw new Error('start the fakes first');
    return captureContext(['--queue-url', sqs.queueUrl, '--endpoint-url', sqs.origin, ...FAST, ...args], {
      env: { ...lambdaTestEnv(lambda), ...env },
      cwd: dir,
    });
  }

  it('invokes the function by ARN with each event byte for byte, and deletes what it answers processed or duplicate', async () => {
    // Arrange: event 1 reached the function before the outage; its DLQ copy must come back as a duplicate.
    const processed = new Map<string, number>();
    const code = dedupFunction(processed);
    await startLambda({ functions: { ebdedup: code } });
    await code(JSON.parse(dlqBody(1)), { awsRequestId: 'before', functionName: 'ebdedup' });
    const bodies = [1, 2, 3].map(dlqBody);
    for (const body of bodies) sqs?.send(body, dlqAttributes('SDK_CLIENT_ERROR'));
    const arn = functionArn(TEST_REGION, 'ebdedup');
    const run = redrive(['--to-function', arn, '--json']);

    // Act
    const exit = await runRedrive(run.ctx);

    // Assert
    expect(lambda?.problems).toEqual([]);
    expect(sqs?.problems).toEqual([]);
    expect(exit).toBe(0);
    expect(lambda?.invocations.map((i) => i.payload).sort()).toEqual([...bodies].sort());
    expect(new Set(lambda?.invocations.map((i) => i.rawName))).toEqual(new Set([encodeURIComponent(arn)]));
    expect([...processed.values()]).toEqual([2, 1, 1]);
    expect(sqs?.remaining()).toBe(0);
    expect(JSON.parse(run.stdout())).toMatchObject({
      to: `function ${arn}`,
      received: 3,
      processed: 2,
      duplicate: 1,
      deleted: 3,
      left: 0,
      exitCode: 0,
    });
    expect(run.stderr()).toMatch(
      /^processed 200 sqs:msg-\d \(event evt-[23] v2\.users\.\{id\}\.presence\) key=[0-9a-f]{64} \d+ms attempts=1 dlq=SDK_CLIENT_ERROR deleted$/m,
    );
    expect(run.stderr()).toMatch(
      /^duplicate 200 sqs:msg-1 \(event evt-1 .*\) key=\S+ firstSeenAt=2026-12-01T00:00:00\.000Z .* deleted$/m,
    );
  });

  it("calls and signs for the region a full ARN names, whatever the queue's", async () => {
    lambda = await startFakeLambda({
      region: 'us-east-1',
      secrets: TEST_KEYS,
      functions: { ebdedup: dedupFunction(new Map()) },
    });
    sqs?.send(dlqBody(1), dlqAttributes('SDK_CLIENT_ERROR'));
    const run = redrive(['--to-function', functionArn('us-east-1', 'ebdedup')]);

    const exit = await runRedrive(run.ctx);

    expect(lambda.problems).toEqual([]);
    expect(sqs?.problems).toEqual([]);
    expect(exit).toBe(0);
    expect(lambda.invocations).toHaveLength(1);
  });

  it('leaves an event the function answers invalid in the queue and exits 1 (endpoint from AWS_ENDPOINT_URL)', async () => {
    await startLambda({ functions: { ebdedup: dedupFunction(new Map()) } });
    const { source: _gone, ...withoutSource } = JSON.parse(dlqBody(2));
    sqs?.send(dlqBody(1), dlqAttributes('SDK_CLIENT_ERROR'));
    const poison = sqs?.send(JSON.stringify(withoutSource), dlqAttributes('SDK_CLIENT_ERROR'));
    const origin = lambda?.origin ?? '';
    const run = redrive(['--to-function', 'ebdedup', '--json'], {
      AWS_ENDPOINT_URL_LAMBDA: '',
      AWS_ENDPOINT_URL: origin,
    });

    const exit = await runRedrive(run.ctx);

    expect(lambda?.problems).toEqual([]);
    expect(exit).toBe(1);
    expect([...(sqs?.messages.keys() ?? [])]).toEqual([poison]);
    expect(JSON.parse(run.stdout())).toMatchObject({ processed: 1, rejected: 1, deleted: 1, left: 1 });
    expect(run.stderr()).toContain(
      'invalid 200 sqs:msg-2 (event evt-2 v2.users.{id}.presence) error=invalid_event (source: is required)',
    );
    expect(run.stderr()).toMatch(/attempts=1 dlq=SDK_CLIENT_ERROR left$/m);
  });

  it('with --delete-rejected writes an event the function answers invalid to --rejected-file, then deletes it', async () => {
    await startLambda({ functions: { ebdedup: dedupFunction(new Map()) } });
    const { source: _gone, ...withoutSource } = JSON.parse(dlqBody(7));
    const body = JSON.stringify(withoutSource);
    const id = sqs?.send(body, dlqAttributes('SDK_CLIENT_ERROR'));
    const run = redrive([
      '--to-function',
      'ebdedup',
      '--delete-rejected',
      '--rejected-file',
      'rejected.jsonl',
    ]);

    const exit = await runRedrive(run.ctx);

    expect(exit).toBe(0);
    expect(sqs?.deleted).toEqual([id]);
    const kept = (await readFile(path.join(dir, 'rejected.jsonl'), 'utf8')).trim().split('\n');
    expect(kept.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ messageId: id, status: 200, error: 'invalid_event', body }),
    ]);
  });

  it('retries a function error with the retry policy, then leaves the message', async () => {
    await startLambda({
      functions: {
        ebdedup: dedupFunction(new Map(), (event) => {
          if (event.id === 'evt-1') throw thrown('StoreUnavailableError', 'the store is unavailable');
          return undefined;
        }),
      },
    });
    const stuck = sqs?.send(dlqBody(1), dlqAttributes('SDK_CLIENT_ERROR'));
    sqs?.send(dlqBody(2), dlqAttributes('SDK_CLIENT_ERROR'));
    const run = redrive(['--to-function', 'ebdedup', '--max-attempts', '3', '--json']);

    const exit = await runRedrive(run.ctx);

    expect(exit).toBe(1);
    expect(lambda?.invocations.filter((i) => i.payload === dlqBody(1))).toHaveLength(3);
    expect([...(sqs?.messages.keys() ?? [])]).toEqual([stuck]);
    expect(JSON.parse(run.stdout())).toMatchObject({ processed: 1, failed: 1, deleted: 1, left: 1 });
    expect(run.stderr()).toMatch(
      /^failed 200 sqs:msg-1 \(event evt-1 .*\) error=StoreUnavailableError \(Unhandled: the store is unavailable\) \d+ms attempts=3 dlq=SDK_CLIENT_ERROR left$/m,
    );
  });

  it("retries Invoke's 429 and 5xx answers, honouring Retry-After, and deletes the event once the function takes it", async () => {
    await startLambda({
      functions: { ebdedup: dedupFunction(new Map()) },
      fault: (_name, index, response) => {
        if (index === 0) {
          response.setHeader('retry-after', '0');
          sendLambdaError(response, 429, 'TooManyRequestsException', 'Rate Exceeded.');
          return true;
        }
        if (index === 1) {
          sendLambdaError(response, 502, 'EC2ThrottledException', 'throttled while setting up the VPC');
          return true;
        }
        return false;
      },
    });
    sqs?.send(dlqBody(1), dlqAttributes('THROTTLING'));
    const run = redrive(['--to-function', 'ebdedup']);

    const exit = await runRedrive(run.ctx);

    expect(exit).toBe(0);
    expect(lambda?.invocations).toHaveLength(3);
    expect(sqs?.remaining()).toBe(0);
    expect(run.stdoutLines()[0]).toMatch(/^processed 200 sqs:msg-1 .* attempts=3 dlq=THROTTLING deleted$/);
  });

  it('counts a failure the handler throws for good (PoisonEventError) as rejected, without retrying it', async () => {
    await startLambda({
      functions: {
        ebdedup: () => {
          throw thrown('PoisonEventError', 'processing key k failed 3 times (MAX_ATTEMPTS)');
        },
      },
    });
    sqs?.send(dlqBody(1), dlqAttributes('SDK_CLIENT_ERROR'));
    const run = redrive(['--to-function', 'ebdedup', '--json']);

    const exit = await runRedrive(run.ctx);

    expect(exit).toBe(1);
    expect(lambda?.invocations).toHaveLength(1);
    expect(sqs?.remaining()).toBe(1);
    expect(JSON.parse(run.stdout())).toMatchObject({ rejected: 1, failed: 0, left: 1 });
  });

  it('stops the run when the function cannot be invoked (404), naming it, and deletes nothing', async () => {
    await startLambda({ functions: { ebdedup: dedupFunction(new Map()) } });
    for (let n = 1; n <= 12; n++) sqs?.send(dlqBody(n), dlqAttributes('SDK_CLIENT_ERROR'));
    const run = redrive(['--to-function', 'ebdedupp', '--concurrency', '2', '--json']);

    const exit = await runRedrive(run.ctx);

    expect(lambda?.problems).toEqual([]);
    expect(exit).toBe(1);
    expect(sqs?.deleted).toEqual([]);
    expect(sqs?.remaining()).toBe(12);
    // The two in flight when the first 404 came; nothing started after it, and no second round was received.
    expect(lambda?.requests).toHaveLength(2);
    expect(sqs?.calls.ReceiveMessage).toBe(1);
    const message = `the function "ebdedupp" cannot be invoked: ${lambda?.origin}/ answered 404 ResourceNotFoundException: Function not found: ${functionArn(TEST_REGION, 'ebdedupp')}`;
    expect(run.stderr()).toContain(`ebdedup redrive: ${message}\n`);
    expect(run.stderr()).toContain('(not sent: the run stopped)');
    expect(JSON.parse(run.stdout())).toMatchObject({ received: 10, failed: 10, deleted: 0, error: message });
  });

  it('stops the run on a refusal such as 403 AccessDeniedException', async () => {
    await startLambda({
      functions: { ebdedup: dedupFunction(new Map()) },
      fault: (_name, _index, response) => {
        sendLambdaError(
          response,
          403,
          'AccessDeniedException',
          'not authorized to perform: lambda:InvokeFunction',
        );
        return true;
      },
    });
    sqs?.send(dlqBody(1), dlqAttributes('NO_PERMISSIONS'));
    const run = redrive(['--to-function', 'ebdedup']);

    const exit = await runRedrive(run.ctx);

    expect(exit).toBe(1);
    expect(lambda?.invocations).toHaveLength(1);
    expect(sqs?.remaining()).toBe(1);
    expect(run.stderr()).toMatch(
      /^ebdedup redrive: the function "ebdedup" cannot be invoked: .* answered 403 AccessDeniedException: not authorized/m,
    );
  });

  it('has up to --concurrency invocations in flight at once', async () => {
    const slow = dedupFunction(new Map());
    await startLambda({
      functions: {
        ebdedup: async (event, context) => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          return slow(event, context);
        },
      },
    });
    for (let n = 1; n <= 8; n++) sqs?.send(dlqBody(n), dlqAttributes('TIMEOUT'));
    const run = redrive(['--to-function', 'ebdedup', '--concurrency', '4', '--quiet']);

    const exit = await runRedrive(run.ctx);

    expect(exit).toBe(0);
    expect(lambda?.maxInFlight()).toBe(4);
    expect(sqs?.remaining()).toBe(0);
  });

  it("lists the RequestID, ErrorCode and ErrorMessage of a function's own DLQ message in a dry run", async () => {
    await startLambda({ functions: { ebdedup: dedupFunction(new Map()) } });
    sqs?.send(
      dlqBody(1),
      functionDlqAttributes('c6af9ac6-7b61-11e6-9a41-93e812345678', 'the store is unavailable'),
    );
    const run = redrive(['--to-function', 'ebdedup', '--dry-run']);

    const exit = await runRedrive(run.ctx);

    expect(exit).toBe(0);
    expect(lambda?.requests).toHaveLength(0);
    const lines = run.stdoutLines();
    expect(lines[0]).toBe(
      'listed sqs:msg-1 (event evt-1 v2.users.{id}.presence) dlq=200 request=c6af9ac6-7b61-11e6-9a41-93e812345678 (the store is unavailable)',
    );
    expect(lines.at(-1)).toBe('by error code: 200 1');
  });

  it("redrives an on-failure destination's record by invoking with its requestPayload, then answers duplicate when it comes again", async () => {
    // Arrange: Lambda's on-failure destination writes the failed invocation's record, the event inside it.
    const processed = new Map<string, number>();
    await startLambda({ functions: { ebdedup: dedupFunction(processed) } });
    const event = JSON.parse(dlqBody(4));
    const record = onFailureRecord(event, {
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
      error: { errorType: 'StoreUnavailableError', errorMessage: 'the store is unavailable' },
    });
    sqs?.send(record);
    const first = redrive(['--to-function', 'ebdedup', '--json']);
    const again = redrive(['--to-function', 'ebdedup', '--json']);

    // Act: a first run; then the same record once more (an invocation that failed twice), and a second run.
    const firstCode = await runRedrive(first.ctx);
    sqs?.send(record);
    const againCode = await runRedrive(again.ctx);

    // Assert
    expect(lambda?.problems).toEqual([]);
    expect(sqs?.problems).toEqual([]);
    expect([firstCode, againCode]).toEqual([0, 0]);
    expect(lambda?.invocations.map((i) => i.payload)).toEqual([JSON.stringify(event), JSON.stringify(event)]);
    expect([...processed.values()]).toEqual([2]);
    expect(sqs?.remaining()).toBe(0);
    expect(JSON.parse(first.stdout())).toMatchObject({
      processed: 1,
      deleted: 1,
      byErrorCode: { StoreUnavailableError: { messages: 1, deleted: 1, left: 0 } },
    });
    expect(JSON.parse(again.stdout())).toMatchObject({ duplicate: 1, deleted: 1, left: 0 });
    expect(first.stderr()).toMatch(
      /^processed 200 sqs:msg-1 \(on-failure record, event evt-4 v2\.users\.\{id\}\.presence\) key=\S+ .* dlq=StoreUnavailableError deleted$/m,
    );
    expect(again.stderr()).toMatch(/^duplicate 200 sqs:msg-2 \(on-failure record, event evt-4 .* deleted$/m);
  });

  it('lists an on-failure record as such in a dry run, and leaves one whose requestPayload is not an object', async () => {
    await startLambda({ functions: { ebdedup: dedupFunction(new Map()) } });
    sqs?.send(
      onFailureRecord(JSON.parse(dlqBody(1)), {
        requestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
        error: { errorType: 'StoreUnavailableError', errorMessage: 'the store is unavailable' },
      }),
    );
    sqs?.send(onFailureRecord('not an event', { condition: 'EventAgeExceeded', invocations: 1 }));
    const listed = redrive(['--to-function', 'ebdedup', '--dry-run', '--visibility-timeout', '0']);
    const real = redrive(['--to-function', 'ebdedup', '--json']);

    const listedCode = await runRedrive(listed.ctx);
    const realCode = await runRedrive(real.ctx);

    expect([listedCode, realCode]).toEqual([0, 1]);
    expect(listed.stdoutLines().slice(0, 2)).toEqual([
      `listed sqs:msg-1 (on-failure record, event evt-1 v2.users.{id}.presence) dlq=StoreUnavailableError retries=2 exhausted=RetriesExhausted from=${functionArn(TEST_REGION, 'ebdedup')}:$LATEST request=c6af9ac6-7b61-11e6-9a41-93e812345678 (the store is unavailable)`,
      `listed sqs:msg-2 (on-failure record, requestPayload is a string) dlq=EventAgeExceeded retries=0 exhausted=EventAgeExceeded from=${functionArn(TEST_REGION, 'ebdedup')}:$LATEST request=e4b46cbf-b738-4a1c-8880-a18cdf61200e`,
    ]);
    expect(lambda?.invocations).toHaveLength(1);
    expect(JSON.parse(real.stdout())).toMatchObject({ processed: 1, notRedrivable: 1, deleted: 1, left: 1 });
    expect(JSON.parse(real.stdout()).messages[1]).toMatchObject({
      outcome: 'not-redrivable',
      errorCode: 'EventAgeExceeded',
      error: 'on-failure record whose requestPayload is a string, not an event',
      deleted: false,
    });
    expect(real.stderr()).toContain(
      'not-redrivable - sqs:msg-2 (on-failure record, requestPayload is a string) (its requestPayload is not a JSON object: no event to send)',
    );
    expect([...(sqs?.messages.values() ?? [])].map((m) => m.messageId)).toEqual(['msg-2']);
  });

  it('refuses bad arguments with one line and exit code 2, before any call', async () => {
    await startLambda({ functions: {} });
    const runs = [
      redrive(['--to-function', 'f', '--url', 'http://127.0.0.1:1/events']),
      redrive(['--to-function', 'f', '--to-bus', 'b']),
      redrive(['--to-function', ' ']),
      redrive(['--to-function', 'f', '--api-key', 'k']),
      redrive(['--to-function', 'f', '--visibility-timeout', '30']),
      redrive(['--to-function', 'f', '--delete-rejected']),
    ];

    const codes = [];
    for (const run of runs) codes.push(await runRedrive(run.ctx));

    expect(codes).toEqual([2, 2, 2, 2, 2, 2]);
    const oneOf =
      'ebdedup redrive: give one of --url (the receiver), --to-bus (an event bus) or --to-function (a Lambda function)';
    expect(runs.map((run) => run.stderr().trim())).toEqual([
      oneOf,
      oneOf,
      'ebdedup redrive: --to-function is empty',
      'ebdedup redrive: --api-key applies to --url, not --to-function (which signs with AWS credentials)',
      'ebdedup redrive: --visibility-timeout 30 must exceed --timeout-ms 30000 (an invoke waits for the function)',
      'ebdedup redrive: --delete-rejected needs --rejected-file, where the rejected events are kept',
    ]);
    expect(sqs?.calls.ReceiveMessage).toBe(0);
    expect(lambda?.requests).toHaveLength(0);
  });
});
