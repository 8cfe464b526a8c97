import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runRedrive } from '../../src/cli/redrive.js';
import { captureContext } from './helpers/context.js';
import {
  type FakeEventBridge,
  startEventBridge,
  TEST_KEYS,
  TEST_REGION,
} from './helpers/fake-eventbridge.js';
import { onFailureRecord } from './helpers/fake-lambda.js';
import { dlqAttributes, type FakeSqs, startFakeSqs } from './helpers/fake-sqs.js';
import {
  apiDestinationHeadersOf,
  type Handler,
  type StandIn,
  sendJson,
  startStandIn,
} from './helpers/http-server.js';

const ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDTEST',
  AWS_SECRET_ACCESS_KEY: TEST_KEYS.AKIDTEST,
  AWS_SESSION_TOKEN: 'session-tok',
  AWS_REGION: TEST_REGION,
};
const FAST = ['--retry-base-ms', '1', '--wait-seconds', '0'];

/** A Genesys-like event as the DLQ holds it: odd spacing and key order, which must reach the receiver as is. */
function dlqBody(n: number): string {
  return `{"version":"0", "id":"evt-${n}","detail-type":"v2.users.{id}.presence","source":"aws.partner/genesys.com/o/1","account":"123456789012","time":"2026-12-01T00:00:0${n % 10}Z","region":"eu-west-1","resources":[],"detail":{"topicName":"v2.users.u${n}.presence","eventBody":{"n":${n},"text":"caf\\u00e9"},"metadata":{"CorrelationId":"c-${n}"}}}`;
}

/**
 * A receiver stand-in that dedups on the body's content (without detail.metadata) and counts how often each
 * event was processed; `answer` may answer a request itself first (a 4xx, a 5xx).
 */
function dedupReceiver(
  processed: Map<string, number>,
  answer: (body: string) => { status: number; body: unknown } | undefined = () => undefined,
): Handler {
  return (request, response) => {
    const own = answer(request.body);
    if (own !== undefined) {
      sendJson(response, own.status, own.body);
      return;
    }
    const event = JSON.parse(request.body) as { detail: { eventBody: unknown; topicName: string } };
    const key = createHash('sha256')
      .update(JSON.stringify([event.detail.topicName, event.detail.eventBody]))
      .digest('hex');
    const count = processed.get(key) ?? 0;
    if (count === 0) {
      processed.set(key, 1);
      sendJson(response, 200, { status: 'processed', key });
    } else {
      sendJson(response, 200, { status: 'duplicate', key, firstSeenAt: '2026-12-01T00:00:00.000Z' });
    }
  };
}

describe('ebdedup redrive', () => {
  let sqs: FakeSqs | undefined;
  let receiver: StandIn | undefined;
  let bus: FakeEventBridge | undefined;
  let dir = '';

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ebdedup-redrive-'));
  });

  afterEach(async () => {
    const servers = [sqs, receiver, bus];
    [sqs, receiver, bus] = [undefined, undefined, undefined];
    await Promise.all(servers.map((server) => server?.close()));
    await rm(dir, { recursive: true, force: true });
  });

  /** `--url` of the receiver stand-in. */
  function toReceiver(): string[] {
    if (receiver === undefined) throw new Error('start the receiver first');
    return ['--url', `${receiver.origin}/events`];
  }

  function redrive(args: string[], overrides: Parameters<typeof captureContext>[1] = {}) {
    if (sqs === undefined) throw new Error('start the fake SQS first');
    return captureContext(['--queue-url', sqs.queueUrl, '--endpoint-url', sqs.origin, ...FAST, ...args], {
      env: ENV,
      cwd: dir,
      ...overrides,
    });
  }

  it('posts each dead-lettered event byte for byte as an API destination does, then deletes it', async () => {
    // Arrange
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    const processed = new Map<string, number>();
    receiver = await startStandIn(dedupReceiver(processed));
    const bodies = [1, 2, 3].map(dlqBody);
    for (const body of bodies) sqs.send(body, dlqAttributes('SDK_CLIENT_ERROR'));
    const run = redrive([...toReceiver(), '--api-key', 'k-1', '--json']);

    // Act
    const code = await runRedrive(run.ctx);

    // Assert
    expect(sqs.problems).toEqual([]);
    expect(code).toBe(0);
    expect(receiver.requests.map((r) => r.body).sort()).toEqual([...bodies].sort());
    expect(new Set(receiver.requests.map((r) => JSON.stringify(apiDestinationHeadersOf(r))))).toEqual(
      new Set([
        JSON.stringify({
          method: 'POST',
          url: '/events',
          'user-agent': 'Amazon/EventBridge/ApiDestinations',
          'content-type': 'application/json; charset=utf-8',
          'x-api-key': 'k-1',
        }),
      ]),
    );
    expect(sqs.remaining()).toBe(0);
    const summary = JSON.parse(run.stdout());
    expect(summary).toMatchObject({
      received: 3,
      processed: 3,
      duplicate: 0,
      deleted: 3,
      left: 0,
      byErrorCode: { SDK_CLIENT_ERROR: { messages: 3, deleted: 3, left: 0 } },
      exitCode: 0,
    });
    expect(run.stderr()).toMatch(
      /^processed 200 sqs:msg-\d \(event evt-\d v2\.users\.\{id\}\.presence\) key=.* dlq=SDK_CLIENT_ERROR deleted$/m,
    );
  });

  it('answers duplicate for what did get through, processes the rest once, and groups the summary by error code', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    const processed = new Map<string, number>();
    receiver = await startStandIn(dedupReceiver(processed));
    // Events 1 and 2 reached the receiver before the outage; their DLQ copies must come back as duplicates.
    await fetch(`${receiver.origin}/events`, { method: 'POST', body: dlqBody(1) });
    await fetch(`${receiver.origin}/events`, { method: 'POST', body: dlqBody(2) });
    sqs.send(dlqBody(1), dlqAttributes('TIMEOUT'));
    sqs.send(dlqBody(2), dlqAttributes('TIMEOUT'));
    sqs.send(dlqBody(3), dlqAttributes('CONNECTION_FAILURE'));
    const run = redrive(toReceiver());

    const code = await runRedrive(run.ctx);

    expect(code).toBe(0);
    expect([...processed.values()]).toEqual([1, 1, 1]);
    const lines = run.stdoutLines();
    expect(lines.at(-3)).toMatch(
      /^3 messages from .* to http:\/\/127\.0\.0\.1:\d+\/events in .*: 1 processed, 2 duplicate, 0 rejected, 0 failed$/,
    );
    expect(lines.at(-2)).toBe('3 deleted, 0 left in the queue');
    expect(lines.at(-1)).toBe(
      'by error code: CONNECTION_FAILURE 1 (1 deleted, 0 left), TIMEOUT 2 (2 deleted, 0 left)',
    );
  });

  it('leaves a message the receiver answers 4xx in the queue and exits 1', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    receiver = await startStandIn(
      dedupReceiver(new Map(), (body) =>
        body.includes('"evt-2"')
          ? { status: 400, body: { error: 'invalid_event', issues: [{ path: ['detail'], message: 'bad' }] } }
          : undefined,
      ),
    );
    sqs.send(dlqBody(1), dlqAttributes('SDK_CLIENT_ERROR'));
    const poison = sqs.send(dlqBody(2), dlqAttributes('SDK_CLIENT_ERROR'));
    const run = redrive([...toReceiver(), '--json']);

    const code = await runRedrive(run.ctx);

    expect(code).toBe(1);
    expect([...sqs.messages.keys()]).toEqual([poison]);
    expect(receiver.requests.filter((r) => r.body.includes('"evt-2"'))).toHaveLength(1);
    expect(JSON.parse(run.stdout())).toMatchObject({ rejected: 1, deleted: 1, left: 1, exitCode: 1 });
    expect(run.stderr()).toContain(
      'invalid 400 sqs:msg-2 (event evt-2 v2.users.{id}.presence) error=invalid_event (detail: bad)',
    );
  });

  it('with --delete-rejected writes a 4xx message to --rejected-file, then deletes it', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    receiver = await startStandIn(
      dedupReceiver(new Map(), () => ({
        status: 422,
        body: { error: 'poison_event', key: 'k', failures: 3 },
      })),
    );
    const id = sqs.send(dlqBody(7), dlqAttributes('SDK_CLIENT_ERROR'));
    const run = redrive([...toReceiver(), '--delete-rejected', '--rejected-file', 'rejected.jsonl']);

    const code = await runRedrive(run.ctx);

    expect(code).toBe(0);
    expect(sqs.deleted).toEqual([id]);
    const kept = (await readFile(path.join(dir, 'rejected.jsonl'), 'utf8')).trim().split('\n');
    expect(kept).toHaveLength(1);
    expect(JSON.parse(kept[0] ?? '')).toMatchObject({
      messageId: id,
      status: 422,
      error: 'poison_event',
      body: dlqBody(7),
      failure: { errorCode: 'SDK_CLIENT_ERROR', retryAttempts: 185 },
    });
  });

  it('deletes nothing the receiver did not answer 2xx (a 503 until the attempts run out)', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    receiver = await startStandIn(
      dedupReceiver(new Map(), (body) =>
        body.includes('"evt-1"') ? { status: 503, body: { error: 'store_unavailable' } } : undefined,
      ),
    );
    const stuck = sqs.send(dlqBody(1), dlqAttributes('THROTTLING'));
    sqs.send(dlqBody(2), dlqAttributes('THROTTLING'));
    const run = redrive([...toReceiver(), '--max-attempts', '3', '--json']);

    const code = await runRedrive(run.ctx);

    expect(code).toBe(1);
    expect([...sqs.messages.keys()]).toEqual([stuck]);
    expect(receiver.requests.filter((r) => r.body.includes('"evt-1"'))).toHaveLength(3);
    expect(JSON.parse(run.stdout())).toMatchObject({ failed: 1, deleted: 1, left: 1 });
  });

  it('does not retry a 401 when no credentials were given, says so, and leaves the message', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    receiver = await startStandIn((_request, response) => sendJson(response, 401, { error: 'unauthorized' }));
    const message = sqs.send(dlqBody(1), dlqAttributes('SDK_CLIENT_ERROR'));
    // Visible again at once, so that the second run receives the message the first one left.
    const once = ['--max-attempts', '3', '--visibility-timeout', '0'];
    const anonymous = redrive([...toReceiver(), ...once]);
    const withKey = redrive([...toReceiver(), ...once, '--api-key', 'k']);

    const anonymousCode = await runRedrive(anonymous.ctx);
    const anonymousPosts = receiver.requests.length;
    const withKeyCode = await runRedrive(withKey.ctx);

    expect([anonymousCode, withKeyCode]).toEqual([1, 1]);
    expect(anonymousPosts).toBe(1);
    expect(anonymous.stderr()).toContain(
      'ebdedup redrive: the receiver answered 401 and no credentials were given',
    );
    expect([...sqs.messages.keys()]).toEqual([message]);
    // With a key, a 401 is retried as EventBridge does (its connection's credentials may be changing).
    expect(receiver.requests.length - anonymousPosts).toBe(3);
    expect(withKey.stderr()).not.toContain('no credentials');
  });

  it('survives failing SQS calls: nothing deleted before a 2xx, nothing processed twice, the rerun finishes', async () => {
    // Arrange: the first ReceiveMessage answers 500 (retried); every DeleteMessageBatch of the first run fails,
    // as if the run died between the receiver's answer and the delete.
    let failDeletes = true;
    sqs = await startFakeSqs({
      region: TEST_REGION,
      secrets: TEST_KEYS,
      fault: (operation, index, response) => {
        if (operation === 'ReceiveMessage' && index === 0) {
          sendJson(response, 500, { __type: 'com.amazonaws.sqs#InternalError', message: 'oops' });
          return true;
        }
        if (operation === 'DeleteMessageBatch' && failDeletes) {
          sendJson(response, 400, { __type: 'com.amazonaws.sqs#RequestThrottled', message: 'slow down' });
          return true;
        }
        return false;
      },
    });
    const processed = new Map<string, number>();
    receiver = await startStandIn(dedupReceiver(processed));
    for (let n = 1; n <= 4; n++) sqs.send(dlqBody(n), dlqAttributes('CONNECTION_FAILURE'));
    const first = redrive([...toReceiver(), '--visibility-timeout', '1', '--max-attempts', '2', '--json']);

    // Act: the first run cannot delete; the second runs once the messages are visible again.
    const firstCode = await runRedrive(first.ctx);
    failDeletes = false;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = redrive([...toReceiver(), '--json']);
    const secondCode = await runRedrive(second.ctx);

    // Assert
    expect(sqs.problems).toEqual([]);
    expect(firstCode).toBe(1);
    expect(JSON.parse(first.stdout())).toMatchObject({ processed: 4, deleted: 0, left: 4, deleteFailed: 4 });
    expect(secondCode).toBe(0);
    expect(JSON.parse(second.stdout())).toMatchObject({ duplicate: 4, deleted: 4, left: 0 });
    expect([...processed.values()]).toEqual([1, 1, 1, 1]);
    expect(sqs.remaining()).toBe(0);
  });

  it('resumes where an interrupted run stopped, posting nothing twice', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    const processed = new Map<string, number>();
    const stop = new AbortController();
    const dedup = dedupReceiver(processed);
    // SIGINT (the bin aborts ctx.signal) arrives with the first delivery: that round is finished, no other starts.
    receiver = await startStandIn((request, response, index) => {
      if (index === 0) stop.abort();
      return dedup(request, response, index);
    });
    for (let n = 1; n <= 25; n++) sqs.send(dlqBody(n), dlqAttributes('TIMEOUT'));
    const interrupted = redrive([...toReceiver(), '--json'], { signal: stop.signal });
    const limited = redrive([...toReceiver(), '--max', '5', '--json']);
    const rest = redrive([...toReceiver(), '--json']);

    const codes = [
      await runRedrive(interrupted.ctx),
      await runRedrive(limited.ctx),
      await runRedrive(rest.ctx),
    ];

    expect(codes).toEqual([0, 0, 0]);
    expect([interrupted, limited, rest].map((run) => JSON.parse(run.stdout()).received)).toEqual([10, 5, 10]);
    expect(receiver.requests).toHaveLength(25);
    expect(processed.size).toBe(25);
    expect([...processed.values()].every((count) => count === 1)).toBe(true);
    expect(sqs.remaining()).toBe(0);
  });

  it('--dry-run lists the messages by error code and neither posts nor deletes', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    receiver = await startStandIn(dedupReceiver(new Map()));
    sqs.send(dlqBody(1), dlqAttributes('TIMEOUT'));
    sqs.send(
      dlqBody(2),
      dlqAttributes('NO_PERMISSIONS', { EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts' }),
    );
    const run = redrive([...toReceiver(), '--dry-run']);

    const code = await runRedrive(run.ctx);

    expect(code).toBe(0);
    expect(receiver.requests).toHaveLength(0);
    expect(sqs.deleted).toEqual([]);
    expect(sqs.remaining()).toBe(2);
    const lines = run.stdoutLines();
    expect(lines[0]).toBe(
      'listed sqs:msg-1 (event evt-1 v2.users.{id}.presence) dlq=TIMEOUT retries=185 exhausted=MaximumEventAgeInSeconds from=arn:aws:events:eu-west-1:123456789012:rule/genesys-bus/to-receiver (TIMEOUT while invoking the target)',
    );
    expect(lines[1]).toContain('dlq=NO_PERMISSIONS retries=185 exhausted=MaximumRetryAttempts');
    expect(lines.at(-1)).toBe('by error code: NO_PERMISSIONS 1, TIMEOUT 1');
  });

  it("lists a Custom Event Bus subscriber's record (event ids, no events) and leaves it in the queue", async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    receiver = await startStandIn(dedupReceiver(new Map()));
    const record = {
      version: '1.0',
      busArn: 'arn:aws:events:eu-west-1:123456789012:event-busv2/genesys/abc',
      subscriberArn: 'arn:aws:events:eu-west-1:123456789012:subscriber/receiver/def',
      targetArn: 'arn:aws:events:eu-west-1:123456789012:api-destination/receiver/ghi',
      errorCode: 'TARGET_UNAVAILABLE',
      errorMessage: 'The target answered 503.',
      exhaustedRetryCondition: 'MaximumEventAgeInSeconds',
      retryAttempts: 4,
      failedMessages: [{ eventId: 'e-1' }, { eventId: 'e-2' }],
    };
    sqs.send(JSON.stringify(record));
    const run = redrive([...toReceiver(), '--json']);

    const code = await runRedrive(run.ctx);

    expect(code).toBe(1);
    expect(receiver.requests).toHaveLength(0);
    expect(sqs.remaining()).toBe(1);
    expect(JSON.parse(run.stdout())).toMatchObject({
      notRedrivable: 1,
      left: 1,
      byErrorCode: { TARGET_UNAVAILABLE: { messages: 1, left: 1 } },
    });
    expect(run.stderr()).toContain('not-redrivable - sqs:msg-1 (subscriber record, events e-1,e-2)');
  });

  it("posts the requestPayload of a Lambda on-failure destination's record, which the receiver dedups like the event", async () => {
    // Arrange: event 1 reached the receiver before the outage; event 2 only failed in the function.
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    const processed = new Map<string, number>();
    receiver = await startStandIn(dedupReceiver(processed));
    await fetch(`${receiver.origin}/events`, { method: 'POST', body: dlqBody(1) });
    const events = [1, 2].map((n) => JSON.parse(dlqBody(n)));
    const failed = { errorType: 'StoreUnavailableError', errorMessage: 'the store is unavailable' };
    for (const event of events) sqs.send(onFailureRecord(event, { error: failed }));
    const run = redrive([...toReceiver(), '--json']);

    // Act
    const code = await runRedrive(run.ctx);

    // Assert
    expect(code).toBe(0);
    const posted = receiver.requests.slice(1).map((r) => r.body);
    expect(posted.sort()).toEqual(events.map((e) => JSON.stringify(e)).sort());
    expect([...processed.values()]).toEqual([1, 1]);
    expect(sqs.remaining()).toBe(0);
    expect(JSON.parse(run.stdout())).toMatchObject({
      processed: 1,
      duplicate: 1,
      deleted: 2,
      byErrorCode: { StoreUnavailableError: { messages: 2, deleted: 2, left: 0 } },
    });
    expect(run.stderr()).toMatch(
      /^duplicate 200 sqs:msg-1 \(on-failure record, event evt-1 v2\.users\.\{id\}\.presence\) key=.* dlq=StoreUnavailableError deleted$/m,
    );
  });

  it("--to-bus puts the requestPayload of a Lambda on-failure destination's record", async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    bus = await startEventBridge();
    sqs.send(onFailureRecord(JSON.parse(dlqBody(5)), { condition: 'EventAgeExceeded' }));
    const run = redrive(['--to-bus', 'genesys-bus', '--source', 'acme.genesys', '--json'], {
      env: { ...ENV, AWS_ENDPOINT_URL_EVENTBRIDGE: bus.origin },
    });

    const code = await runRedrive(run.ctx);

    expect(bus.problems).toEqual([]);
    expect(code).toBe(0);
    expect(
      bus.batches
        .flat()
        .map((entry) => [entry.Source, entry.DetailType, JSON.parse(entry.Detail).eventBody.n]),
    ).toEqual([['acme.genesys', 'v2.users.{id}.presence', 5]]);
    expect(sqs.remaining()).toBe(0);
    expect(JSON.parse(run.stdout())).toMatchObject({
      put: 1,
      deleted: 1,
      byErrorCode: { EventAgeExceeded: { messages: 1, deleted: 1 } },
    });
  });

  it('--to-bus re-puts the events with PutEvents and deletes the accepted ones', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    bus = await startEventBridge();
    for (let n = 1; n <= 3; n++) sqs.send(dlqBody(n), dlqAttributes('NO_PERMISSIONS'));
    sqs.send('not json', dlqAttributes('INVALID_JSON'));
    const run = redrive(['--to-bus', 'genesys-bus', '--source', 'acme.genesys', '--json'], {
      env: { ...ENV, AWS_ENDPOINT_URL_EVENTBRIDGE: bus.origin },
    });

    const code = await runRedrive(run.ctx);

    expect(bus.problems).toEqual([]);
    expect(sqs.problems).toEqual([]);
    expect(code).toBe(1);
    expect(
      bus.batches
        .flat()
        .map((entry) => [entry.EventBusName, entry.Source, JSON.parse(entry.Detail).eventBody.n]),
    ).toEqual([
      ['genesys-bus', 'acme.genesys', 1],
      ['genesys-bus', 'acme.genesys', 2],
      ['genesys-bus', 'acme.genesys', 3],
    ]);
    expect(sqs.remaining()).toBe(1);
    expect(JSON.parse(run.stdout())).toMatchObject({
      put: 3,
      unusable: 1,
      deleted: 3,
      left: 1,
      to: 'bus genesys-bus',
    });
  });

  it('refuses bad arguments with one line and exit code 2', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    const runs = [
      captureContext(['--url', 'http://127.0.0.1:1/events'], { env: ENV }),
      redrive([]),
      redrive(['--url', 'http://127.0.0.1:1/events', '--to-bus', 'b']),
      redrive(['--url', 'http://127.0.0.1:1/events', '--delete-rejected']),
      redrive(['--url', 'http://127.0.0.1:1/events'], { env: { ...ENV, AWS_REGION: '' }, homedir: dir }),
    ];

    const codes = [];
    for (const run of runs) codes.push(await runRedrive(run.ctx));

    expect(codes).toEqual([2, 2, 2, 2, 2]);
    expect(runs.map((run) => run.stderr().trim())).toEqual([
      'ebdedup redrive: --queue-url is required (see ebdedup redrive --help)',
      'ebdedup redrive: give one of --url (the receiver), --to-bus (an event bus) or --to-function (a Lambda function)',
      'ebdedup redrive: give one of --url (the receiver), --to-bus (an event bus) or --to-function (a Lambda function)',
      'ebdedup redrive: --delete-rejected needs --rejected-file, where the rejected events are kept',
      `ebdedup redrive: no AWS region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or set region in profile [default] of ${path.join(dir, '.aws', 'config')}`,
    ]);
    expect(sqs.calls.ReceiveMessage).toBe(0);
  });

  it("signs its SQS calls with a credential_process profile's keys, in the region of its config", async () => {
    // Arrange: no key and no region in the environment (the fake's queue URL names no region either).
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    receiver = await startStandIn(dedupReceiver(new Map()));
    sqs.send(dlqBody(1), dlqAttributes('TIMEOUT'));
    const script = path.join(dir, 'print-credentials.mjs');
    await writeFile(
      script,
      `console.log(JSON.stringify({ Version: 1, AccessKeyId: 'AKIDPROCESS', SecretAccessKey: ${JSON.stringify(TEST_KEYS.AKIDPROCESS)} }));\n`,
    );
    const config = path.join(dir, 'config');
    await writeFile(
      config,
      `[profile dlq]\nregion = ${TEST_REGION}\ncredential_process = "${process.execPath}" "${script}"\n`,
    );
    const run = redrive(toReceiver(), {
      env: { AWS_PROFILE: 'dlq', AWS_CONFIG_FILE: config },
      homedir: dir,
    });

    // Act
    const code = await runRedrive(run.ctx);

    // Assert: the fake recomputed every signature with the process's secret.
    expect(sqs.problems).toEqual([]);
    expect(code).toBe(0);
    expect(receiver.requests).toHaveLength(1);
    expect(sqs.remaining()).toBe(0);
  });

  it('says in one line that the queue cannot be read, and exits 1', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    const run = captureContext(
      [
        '--queue-url',
        `${sqs.origin}/123456789012/missing`,
        '--endpoint-url',
        sqs.origin,
        '--url',
        'http://127.0.0.1:1/e',
        ...FAST,
      ],
      { env: ENV },
    );

    const code = await runRedrive(run.ctx);

    expect(code).toBe(1);
    expect(run.stderr()).toBe(
      `ebdedup redrive: ReceiveMessage: ${sqs.origin}/ answered 400 QueueDoesNotExist: no such queue\n`,
    );
  });

  it('is refused by SQS when the signature is wrong, and deletes or posts nothing', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    receiver = await startStandIn(dedupReceiver(new Map()));
    sqs.send(dlqBody(1), dlqAttributes('TIMEOUT'));
    const run = redrive(toReceiver(), {
      env: { ...ENV, AWS_SECRET_ACCESS_KEY: 'wrong-secret' },
    });

    const code = await runRedrive(run.ctx);

    expect(code).toBe(1);
    expect(sqs.problems).toEqual(['signature: signature does not match']);
    expect(run.stderr()).toContain('answered 403 SignatureDoesNotMatch');
    expect(receiver.requests).toHaveLength(0);
    expect(sqs.remaining()).toBe(1);
  });

  it('with --json lists each message in the summary, in the order they were handled', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    receiver = await startStandIn(
      dedupReceiver(new Map(), (body) =>
        body.includes('"evt-2"') ? { status: 400, body: { error: 'invalid_event' } } : undefined,
      ),
    );
    const ids = [1, 2, 3].map((n) => sqs?.send(dlqBody(n), dlqAttributes('TIMEOUT')));
    const run = redrive([...toReceiver(), '--json']);

    const code = await runRedrive(run.ctx);

    expect(code).toBe(1);
    const summary = JSON.parse(run.stdout());
    expect(summary).toMatchObject({ received: 3, processed: 2, rejected: 1, deleted: 2, left: 1 });
    expect(summary.messages).toEqual([
      {
        messageId: ids[0],
        errorCode: 'TIMEOUT',
        outcome: 'processed',
        deleted: true,
        status: 200,
        key: expect.any(String),
      },
      {
        messageId: ids[1],
        errorCode: 'TIMEOUT',
        outcome: 'rejected',
        deleted: false,
        status: 400,
        error: 'invalid_event',
      },
      {
        messageId: ids[2],
        errorCode: 'TIMEOUT',
        outcome: 'processed',
        deleted: true,
        status: 200,
        key: expect.any(String),
      },
    ]);
  });

  it('draws a progress bar on a terminal and clears it before each line', async () => {
    sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    receiver = await startStandIn(dedupReceiver(new Map()));
    for (let n = 1; n <= 3; n++) sqs.send(dlqBody(n), dlqAttributes('TIMEOUT'));
    let clock = 0;
    const run = redrive([...toReceiver(), '--max', '3'], {
      stderrIsTTY: true,
      // Each reading of the clock is two seconds later: past the bar's one-second delay.
      now: () => (clock += 2000),
    });

    const code = await runRedrive(run.ctx);

    expect(code).toBe(0);
    expect(run.stderr()).toContain('\r\x1b[2K[########################] 3/3 100% deleted=3');
    expect(run.stderr().endsWith('\r\x1b[2K')).toBe(true);
    expect(run.stdout()).not.toContain('\x1b');
  });
});
