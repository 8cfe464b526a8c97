import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CliContext } from '../../src/cli/io.js';
import { runPutEvents } from '../../src/cli/put-events.js';
import { captureContext } from './helpers/context.js';
import { type FakeEventBridge, startEventBridge, TEST_KEYS } from './helpers/fake-eventbridge.js';
import { closedPort, sendJson } from './helpers/http-server.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const REGION = 'eu-west-1';
const ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDTEST',
  AWS_SECRET_ACCESS_KEY: 'test/secret+key',
  AWS_SESSION_TOKEN: 'session-tok',
};
const FAST = ['--retry-base-ms', '1'];

describe('ebdedup put-events', () => {
  let server: FakeEventBridge | undefined;
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ebdedup-put-'));
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** `put-events FILE --bus b --region eu-west-1 --endpoint ENDPOINT …options`, run in the test's folder. */
  function putEvents(
    file: string,
    endpoint: string,
    options: readonly string[] = [],
    env: CliContext['env'] = ENV,
  ) {
    return captureContext([file, '--bus', 'b', '--region', REGION, '--endpoint', endpoint, ...options], {
      cwd: dir,
      env,
    });
  }

  async function writeEvents(name: string, count: number, detailBytes = 10): Promise<void> {
    const lines = Array.from({ length: count }, (_, i) =>
      JSON.stringify({
        id: `id-${i}`,
        source: 'my.app',
        'detail-type': 'test.event',
        time: '2024-01-01T00:00:00Z',
        resources: [],
        detail: { n: i, pad: 'x'.repeat(detailBytes) },
      }),
    );
    await writeFile(path.join(dir, name), `${lines.join('\n')}\n`);
  }

  it('sends the samples in one signed PutEvents request and prints each EventId', async () => {
    // Arrange
    server = await startEventBridge();
    const run = captureContext(
      ['samples', '--bus', 'genesys-bus', '--region', REGION, '--endpoint', server.origin],
      {
        cwd: REPO,
        env: ENV,
      },
    );

    // Act
    const code = await runPutEvents(run.ctx);

    // Assert
    expect(server.problems).toEqual([]);
    expect(code).toBe(0);
    expect(server.batches).toHaveLength(1);
    const [batch = []] = server.batches;
    expect(batch).toHaveLength(5);
    for (const entry of batch) {
      expect(entry.EventBusName).toBe('genesys-bus');
      expect(entry.Source).toBe('ebdedup.replay');
      expect(entry.DetailType).toMatch(/^v2\./);
      expect(JSON.parse(entry.Detail)).toHaveProperty('topicName');
      expect(typeof entry.Time).toBe('number');
    }
    const lines = run.stdoutLines();
    expect(lines.slice(0, 5)).toEqual([
      'accepted samples/genesys-audit-oauthclient-delete.json EventId=evt-1 attempts=1',
      'accepted samples/genesys-audit-userpresence-update.json EventId=evt-2 attempts=1',
      'accepted samples/genesys-detail-conversation-customer-end-no-external-contact.json EventId=evt-3 attempts=1',
      'accepted samples/genesys-detail-conversation-customer-end.json EventId=evt-4 attempts=1',
      'accepted samples/genesys-detail-conversation-customer-start.json EventId=evt-5 attempts=1',
    ]);
    expect(lines[5]).toBe(
      `5 entries in 1 batch(es), 1 PutEvents attempt(s), to ${server.origin}/ (bus genesys-bus): 5 accepted, 0 failed`,
    );
    // The aws.partner/… sources are replaced, and that is said once.
    expect(run.stderr().trim().split('\n')).toHaveLength(1);
    expect(run.stderr()).toMatch(
      /5 event\(s\) have a source starting with "aws\." .* sent with Source "ebdedup\.replay"/,
    );
  });

  it('re-sends only the entries that failed with ThrottlingException', async () => {
    server = await startEventBridge((entry, seen) => {
      const n = (JSON.parse(entry.Detail) as { n: number }).n;
      return (n === 1 || n === 3) && seen === 1
        ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }
        : undefined;
    });
    await writeEvents('events.jsonl', 4);
    const run = captureContext(['events.jsonl', '--bus', 'b', '--endpoint', server.origin, ...FAST], {
      cwd: dir,
      env: { ...ENV, AWS_REGION: REGION },
    });

    const code = await runPutEvents(run.ctx);

    expect(server.problems).toEqual([]);
    expect(code).toBe(0);
    expect(server.batches.map((b) => b.map((e) => (JSON.parse(e.Detail) as { n: number }).n))).toEqual([
      [0, 1, 2, 3],
      [1, 3],
    ]);
    expect(run.stdoutLines().slice(0, 4)).toEqual([
      'accepted events.jsonl:1 EventId=evt-1 attempts=1',
      'accepted events.jsonl:2 EventId=evt-3 attempts=2',
      'accepted events.jsonl:3 EventId=evt-2 attempts=1',
      'accepted events.jsonl:4 EventId=evt-4 attempts=2',
    ]);
  });

  it('reports an entry that stays failed and exits 1, without retrying final errors', async () => {
    server = await startEventBridge((entry) => {
      const n = (JSON.parse(entry.Detail) as { n: number }).n;
      if (n === 0) return { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' };
      if (n === 1) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      return undefined;
    });
    await writeEvents('events.jsonl', 3);
    const run = putEvents('events.jsonl', server.origin, ['--max-attempts', '3', '--json', ...FAST]);

    const code = await runPutEvents(run.ctx);

    expect(code).toBe(1);
    expect(server.batches.map((b) => b.length)).toEqual([3, 1, 1]);
    const summary = JSON.parse(run.stdout());
    expect(summary).toMatchObject({ batches: 1, attempts: 3, accepted: 1, failed: 2, exitCode: 1 });
    expect(summary.entries).toEqual([
      {
        label: 'events.jsonl:1',
        errorCode: 'ThrottlingException',
        errorMessage: 'Rate exceeded',
        attempts: 3,
      },
      {
        label: 'events.jsonl:2',
        errorCode: 'MalformedDetail',
        errorMessage: 'Detail is malformed.',
        attempts: 1,
      },
      { label: 'events.jsonl:3', eventId: 'evt-1', attempts: 1 },
    ]);
    expect(run.stderr()).toContain('failed events.jsonl:1 ThrottlingException (Rate exceeded) attempts=3');
  });

  it('splits 23 events into requests of 10, 10 and 3 entries', async () => {
    server = await startEventBridge();
    await writeEvents('events.jsonl', 23);
    const run = putEvents('events.jsonl', server.origin, ['--quiet']);

    const code = await runPutEvents(run.ctx);

    expect(server.problems).toEqual([]);
    expect(code).toBe(0);
    expect(server.batches.map((b) => b.length)).toEqual([10, 10, 3]);
    expect(run.stdout()).toContain('23 entries in 3 batch(es), 3 PutEvents attempt(s),');
  });

  it('keeps each request within 256 KiB of entry size', async () => {
    server = await startEventBridge();
    await writeEvents('big.jsonl', 5, 100_000);
    const run = putEvents('big.jsonl', server.origin, ['--quiet']);

    const code = await runPutEvents(run.ctx);

    expect(server.problems).toEqual([]);
    expect(code).toBe(0);
    expect(server.batches.map((b) => b.length)).toEqual([2, 2, 1]);
  });

  it('signs with the AWS_PROFILE profile of the shared credentials file', async () => {
    server = await startEventBridge();
    const credentials = path.join(dir, 'credentials');
    await writeFile(
      credentials,
      '[default]\naws_access_key_id=AKIDNOPE\naws_secret_access_key=nope\n[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n',
    );
    await writeEvents('events.jsonl', 1);
    const run = captureContext(['events.jsonl', '--bus', 'b', '--endpoint', server.origin], {
      cwd: dir,
      env: { AWS_PROFILE: 'ops', AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_DEFAULT_REGION: REGION },
    });

    const code = await runPutEvents(run.ctx);

    expect(server.problems).toEqual([]);
    expect(code).toBe(0);
    expect(server.requests[0]?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDPROFILE\//);
    expect(server.requests[0]?.headers['x-amz-security-token']).toBeUndefined();
  });

  it('retries a whole request answered 500 or 400 ThrottlingException', async () => {
    server = await startEventBridge(undefined, (index, response) => {
      if (index === 0) sendJson(response, 500, { __type: 'InternalException', message: 'oops' });
      else if (index === 1) {
        sendJson(
          response,
          400,
          { __type: 'ThrottlingException', message: 'Rate exceeded' },
          { 'retry-after': '0' },
        );
      } else return false;
      return true;
    });
    await writeEvents('events.jsonl', 2);
    const run = putEvents('events.jsonl', server.origin, FAST);

    const code = await runPutEvents(run.ctx);

    expect(server.problems).toEqual([]);
    expect(code).toBe(0);
    expect(server.requests).toHaveLength(3);
    expect(server.batches).toHaveLength(1);
    expect(run.stdoutLines()[0]).toBe('accepted events.jsonl:1 EventId=evt-1 attempts=3');
    // One request of two entries, sent three times: attempts, not requests.
    expect(run.stdoutLines().at(-1)).toMatch(/^2 entries in 1 batch\(es\), 3 PutEvents attempt\(s\), to /);
    expect(run.stderr()).toBe('');
  });

  it('says in one line that the endpoint refused the signature, and exits 1', async () => {
    server = await startEventBridge();
    await writeEvents('events.jsonl', 12);
    const run = putEvents('events.jsonl', server.origin, FAST, {
      ...ENV,
      AWS_SECRET_ACCESS_KEY: 'wrong-secret',
    });

    const code = await runPutEvents(run.ctx);

    expect(code).toBe(1);
    // A rejected signature is final: no retry, and the second batch is not sent.
    expect(server.requests).toHaveLength(1);
    expect(run.stderr()).toBe(
      `ebdedup put-events: ${server.origin}/ answered 403 InvalidSignatureException: The request signature we calculated does not match the signature you provided.\n`,
    );
    expect(run.stdout()).toContain('12 entries in 1 batch(es), 1 PutEvents attempt(s),');
    expect(run.stdoutLines()[11]).toBe(
      'failed events.jsonl:12 NotSent (an earlier request failed) attempts=0',
    );
    expect(run.stdout()).toContain('0 accepted, 12 failed');
  });

  it('names the endpoint in one line when nothing listens there', async () => {
    const port = await closedPort();
    await writeEvents('events.jsonl', 1);
    const run = putEvents('events.jsonl', `http://127.0.0.1:${port}`, ['--max-attempts', '2', ...FAST]);

    const code = await runPutEvents(run.ctx);

    expect(code).toBe(1);
    expect(run.stderr()).toMatch(
      new RegExp(
        `^ebdedup put-events: cannot reach http://127\\.0\\.0\\.1:${port}/: .*ECONNREFUSED.* \\(after 2 attempts\\)\\n$`,
      ),
    );
  });

  it('stops with one line naming the missing region or credentials (exit 2)', async () => {
    await writeEvents('events.jsonl', 1);
    const noRegion = captureContext(['events.jsonl', '--bus', 'b'], { cwd: dir, env: ENV, homedir: dir });
    const noCredentials = captureContext(['events.jsonl', '--bus', 'b', '--region', REGION], {
      cwd: dir,
      env: {},
      homedir: dir,
    });
    const noBus = captureContext(['events.jsonl'], { cwd: dir, env: ENV });

    const codes = [
      await runPutEvents(noRegion.ctx),
      await runPutEvents(noCredentials.ctx),
      await runPutEvents(noBus.ctx),
    ];

    expect(codes).toEqual([2, 2, 2]);
    expect(noRegion.stderr()).toBe(
      `ebdedup put-events: no AWS region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or set region in profile [default] of ${path.join(dir, '.aws', 'config')}\n`,
    );
    expect(noCredentials.stderr()).toMatch(
      /^ebdedup put-events: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile \[default\] \(AWS_PROFILE\) keys, SSO, a role or credential_process in .+\n$/,
    );
    expect(noBus.stderr()).toContain('--bus is required');
  });

  it('signs with the temporary keys of a credential_process profile, in the region of its config', async () => {
    // Arrange: AWS_PROFILE names a profile of AWS_CONFIG_FILE whose credential_process prints temporary keys
    // (https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html) and whose region is the
    // fake's; no key and no region in the environment.
    server = await startEventBridge();
    await writeEvents('events.jsonl', 1);
    const script = path.join(dir, 'print-credentials.mjs');
    await writeFile(
      script,
      `console.log(JSON.stringify({ Version: 1, AccessKeyId: 'AKIDPROCESS', SecretAccessKey: ${JSON.stringify(TEST_KEYS.AKIDPROCESS)}, SessionToken: 'process-token' }));\n`,
    );
    const config = path.join(dir, 'config');
    await writeFile(
      config,
      `[profile ops]\nregion = ${REGION}\ncredential_process = "${process.execPath}" "${script}"\n`,
    );
    const run = captureContext(['events.jsonl', '--bus', 'b', '--endpoint', server.origin, '--json'], {
      cwd: dir,
      env: { AWS_PROFILE: 'ops', AWS_CONFIG_FILE: config },
      homedir: dir,
    });

    // Act
    const code = await runPutEvents(run.ctx);

    // Assert: the fake recomputed the signature with the process's secret, for its region.
    expect(server.problems).toEqual([]);
    expect(code).toBe(0);
    expect(server.requests[0]?.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDPROCESS/\\d{8}/${REGION}/events/aws4_request`),
    );
    expect(server.requests[0]?.headers['x-amz-security-token']).toBe('process-token');
    expect(JSON.parse(run.stdout())).toMatchObject({ region: REGION, accepted: 1 });
    expect(run.stdout() + run.stderr()).not.toContain(TEST_KEYS.AKIDPROCESS);
    expect(run.stdout() + run.stderr()).not.toContain('process-token');
  });

  it('takes the endpoint from AWS_ENDPOINT_URL_EVENTBRIDGE when --endpoint is not given', async () => {
    server = await startEventBridge();
    await writeEvents('events.jsonl', 1);
    const run = captureContext(['events.jsonl', '--bus', 'b', '--region', REGION], {
      cwd: dir,
      env: { ...ENV, AWS_ENDPOINT_URL_EVENTBRIDGE: server.origin, AWS_ENDPOINT_URL: 'http://127.0.0.1:1' },
    });

    const code = await runPutEvents(run.ctx);

    expect(server.problems).toEqual([]);
    expect(code).toBe(0);
    expect(server.requests).toHaveLength(1);
  });

  it('uses a source given with --source for aws. sources, and keeps other sources', async () => {
    server = await startEventBridge();
    await writeFile(
      path.join(dir, 'mixed.json'),
      JSON.stringify([
        { source: 'aws.partner/genesys.com/x', 'detail-type': 't', detail: {} },
        { source: 'my.app', 'detail-type': 't', detail: {} },
      ]),
    );
    const run = putEvents('mixed.json', server.origin, ['--source', 'acme.genesys']);

    const code = await runPutEvents(run.ctx);

    expect(code).toBe(0);
    expect(server.batches[0]?.map((e) => e.Source)).toEqual(['acme.genesys', 'my.app']);
    expect(server.batches[0]?.[0]?.Time).toBeUndefined();
  });
});
