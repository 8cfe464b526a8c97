import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runReplay } from '../../src/cli/replay.js';
import { captureContext } from './helpers/context.js';
import {
  apiDestinationHeadersOf,
  closedPort,
  type Handler,
  type StandIn,
  sendJson,
  startStandIn,
} from './helpers/http-server.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const FAST = ['--retry-base-ms', '1'];

/** Content key like the receiver's `content` strategy: source, detail-type and detail without metadata/timestamp. */
function contentKey(body: string): string {
  const event = JSON.parse(body) as {
    source: string;
    'detail-type': string;
    detail: Record<string, unknown>;
  };
  const { metadata: _metadata, timestamp: _timestamp, ...detail } = event.detail;
  return createHash('sha256')
    .update(JSON.stringify([event.source, event['detail-type'], detail]))
    .digest('hex');
}

/** A receiver stand-in that dedups on content: processed the first time, duplicate afterwards. */
function dedupReceiver(): Handler {
  const seen = new Map<string, string>();
  return (request, response) => {
    const key = contentKey(request.body);
    const firstSeenAt = seen.get(key);
    if (firstSeenAt === undefined) {
      seen.set(key, new Date().toISOString());
      sendJson(response, 200, { status: 'processed', key });
    } else {
      sendJson(response, 200, { status: 'duplicate', key, firstSeenAt });
    }
  };
}

describe('ebdedup replay', () => {
  let server: StandIn | undefined;
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ebdedup-replay-'));
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function writeEvent(name: string, id: string): Promise<void> {
    const event = {
      version: '0',
      id,
      'detail-type': 'test.event',
      source: 'test.source',
      account: '123456789012',
      time: '2024-01-01T00:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail: { topicName: 't', eventBody: { id } },
    };
    await writeFile(path.join(dir, name), JSON.stringify(event));
  }

  it('posts like an API destination (method, User-Agent, Content-Type, API key) and classifies answers', async () => {
    // Arrange
    server = await startStandIn(dedupReceiver());
    const run = captureContext(
      [
        'samples',
        '--url',
        `${server.origin}/events`,
        '--times',
        '2',
        '--api-key',
        'k-123',
        '--json',
        '--quiet',
      ],
      { cwd: REPO },
    );

    // Act
    const code = await runReplay(run.ctx);

    // Assert
    expect(code).toBe(0);
    expect(server.requests).toHaveLength(10);
    for (const request of server.requests) {
      expect(apiDestinationHeadersOf(request)).toEqual({
        method: 'POST',
        url: '/events',
        'user-agent': 'Amazon/EventBridge/ApiDestinations',
        'content-type': 'application/json; charset=utf-8',
        'x-api-key': 'k-123',
      });
      expect(() => JSON.parse(request.body)).not.toThrow();
    }
    const summary = JSON.parse(run.stdout());
    expect(summary).toMatchObject({
      events: 5,
      deliveries: 10,
      processed: 5,
      duplicate: 5,
      invalid: 0,
      failed: 0,
      unreadable: 0,
      retries: 0,
      statuses: { '200': 10 },
      exitCode: 0,
    });
    expect(Object.keys(summary.latencyMs)).toEqual(['p50', 'p90', 'p99', 'max']);
    expect(run.stderr()).toBe('');
  });

  it('prints one line per delivery with outcome, status, file, key, latency and attempts', async () => {
    server = await startStandIn(dedupReceiver());
    await writeEvent('a.json', 'id-a');
    const run = captureContext(['a.json', '--url', `${server.origin}/events`, '--times', '2'], { cwd: dir });

    const code = await runReplay(run.ctx);

    expect(code).toBe(0);
    const lines = run.stdoutLines();
    expect(lines[0]).toMatch(/^processed 200 a\.json key=[0-9a-f]{64} \d+ms attempts=1$/);
    expect(lines[1]).toMatch(/^duplicate 200 a\.json key=[0-9a-f]{64} firstSeenAt=\S+ \d+ms attempts=1$/);
    expect(lines[2]).toMatch(
      /^2 deliveries of 1 events in \d+ms: 1 processed, 1 duplicate, 0 invalid, 0 failed \(0 retries\)$/,
    );
    expect(lines[3]).toMatch(/^latency p50 \d+ms, p90 \d+ms, p99 \d+ms, max \d+ms$/);
  });

  it('retries 409 in_progress until the final answer', async () => {
    server = await startStandIn((_request, response, index) => {
      if (index === 0) sendJson(response, 409, { error: 'in_progress', key: 'k' }, { 'retry-after': '0' });
      else sendJson(response, 200, { status: 'duplicate', key: 'k', firstSeenAt: '2024-01-01T00:00:00Z' });
    });
    await writeEvent('a.json', 'id-a');
    const run = captureContext(['a.json', '--url', `${server.origin}/events`, '--json', ...FAST], {
      cwd: dir,
    });

    const code = await runReplay(run.ctx);

    expect(code).toBe(0);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]?.body).toBe(server.requests[0]?.body);
    expect(JSON.parse(run.stdout())).toMatchObject({ duplicate: 1, retries: 1, statuses: { '200': 1 } });
    expect(run.stderr()).toMatch(/^duplicate 200 a\.json key=k .* attempts=2$/m);
  });

  it("waits for a 503's Retry-After before the next attempt", async () => {
    server = await startStandIn((_request, response, index) => {
      if (index === 0) sendJson(response, 503, { error: 'store_unavailable' }, { 'retry-after': '1' });
      else sendJson(response, 200, { status: 'processed', key: 'k' });
    });
    await writeEvent('a.json', 'id-a');
    // Backoff alone would wait 0 ms: only Retry-After explains a one-second gap.
    const run = captureContext(['a.json', '--url', `${server.origin}/events`, '--retry-base-ms', '0'], {
      cwd: dir,
    });

    const code = await runReplay(run.ctx);

    expect(code).toBe(0);
    expect(server.requests).toHaveLength(2);
    const gap = (server.requests[1]?.at ?? 0) - (server.requests[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(run.stdoutLines()[0]).toMatch(/^processed 200 a\.json key=k \d+ms attempts=2$/);
  });

  it('treats 400 as final: one request, counted invalid, exit code 1', async () => {
    server = await startStandIn((_request, response) => {
      sendJson(response, 400, {
        error: 'invalid_event',
        issues: [{ path: 'detail-type', message: 'Required' }],
      });
    });
    await writeEvent('a.json', 'id-a');
    const run = captureContext(['a.json', '--url', `${server.origin}/events`, ...FAST], { cwd: dir });

    const code = await runReplay(run.ctx);

    expect(code).toBe(1);
    expect(server.requests).toHaveLength(1);
    expect(run.stdoutLines()[0]).toMatch(
      /^invalid 400 a\.json error=invalid_event \(detail-type: Required\) \d+ms attempts=1$/,
    );
    expect(run.stdout()).toContain('0 processed, 0 duplicate, 1 invalid, 0 failed');
  });

  it.each([413, 415, 422])('does not retry %i', async (status) => {
    server = await startStandIn((_request, response) => sendJson(response, status, { error: 'nope' }));
    await writeEvent('a.json', 'id-a');
    const run = captureContext(['a.json', '--url', `${server.origin}/events`, '--json', ...FAST], {
      cwd: dir,
    });

    const code = await runReplay(run.ctx);

    expect(code).toBe(1);
    expect(server.requests).toHaveLength(1);
    expect(JSON.parse(run.stdout())).toMatchObject({ invalid: 1, failed: 0 });
  });

  it('gives up after --max-attempts on 500/401 and counts the delivery failed', async () => {
    server = await startStandIn((_request, response, index) => {
      if (index % 2 === 0) sendJson(response, 500, { error: 'processing_failed' });
      else sendJson(response, 401, { error: 'unauthorized' });
    });
    await writeEvent('a.json', 'id-a');
    const run = captureContext(
      // With a key: a 401 is retried only when credentials were sent (they may be rotating).
      [
        'a.json',
        '--url',
        `${server.origin}/events`,
        '--api-key',
        'k',
        '--max-attempts',
        '3',
        '--json',
        ...FAST,
      ],
      { cwd: dir },
    );

    const code = await runReplay(run.ctx);

    expect(code).toBe(1);
    expect(server.requests).toHaveLength(3);
    expect(JSON.parse(run.stdout())).toMatchObject({
      failed: 1,
      invalid: 0,
      retries: 2,
      statuses: { '500': 1 },
    });
  });

  it('retries an attempt that passes the client timeout', async () => {
    server = await startStandIn((_request, response, index) => {
      if (index === 0) setTimeout(() => sendJson(response, 200, { status: 'processed', key: 'late' }), 400);
      else sendJson(response, 200, { status: 'duplicate', key: 'k', firstSeenAt: 'x' });
    });
    await writeEvent('a.json', 'id-a');
    const run = captureContext(
      ['a.json', '--url', `${server.origin}/events`, '--timeout-ms', '100', ...FAST],
      { cwd: dir },
    );

    const code = await runReplay(run.ctx);

    expect(code).toBe(0);
    expect(server.requests).toHaveLength(2);
    expect(run.stdoutLines()[0]).toMatch(/^duplicate 200 a\.json key=k .* attempts=2$/);
  });

  it('names the URL in one line when nothing listens there', async () => {
    const port = await closedPort();
    await writeEvent('a.json', 'id-a');
    const run = captureContext(
      ['a.json', '--url', `http://127.0.0.1:${port}/events`, '--max-attempts', '2', ...FAST],
      { cwd: dir },
    );

    const code = await runReplay(run.ctx);

    expect(code).toBe(1);
    expect(run.stderr()).toContain(`ebdedup replay: cannot reach http://127.0.0.1:${port}/events: `);
    expect(run.stderr()).not.toMatch(/\n\s+at /);
    expect(run.stdoutLines()[0]).toMatch(/^failed - a\.json error=connection_error .* attempts=2$/);
  });

  it('--republish sends a copy with a fresh id and time and the same content', async () => {
    server = await startStandIn(dedupReceiver());
    await writeEvent('a.json', 'id-a');
    const run = captureContext(['a.json', '--url', `${server.origin}/events`, '--republish', '--json'], {
      cwd: dir,
      clock: () => new Date('2030-02-03T04:05:06.789Z'),
      randomUUID: () => '11111111-2222-4333-8444-555555555555',
    });

    const code = await runReplay(run.ctx);

    expect(code).toBe(0);
    const [original, copy] = server.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(original?.id).toBe('id-a');
    expect(copy?.id).toBe('11111111-2222-4333-8444-555555555555');
    expect(copy?.time).toBe('2030-02-03T04:05:06Z');
    expect(copy?.detail).toEqual(original?.detail);
    expect(JSON.parse(run.stdout())).toMatchObject({ deliveries: 2, processed: 1, duplicate: 1 });
    expect(run.stderr()).toMatch(/^duplicate 200 a\.json \(republished\) /m);
  });

  it('--shuffle changes the order but not what is sent', async () => {
    server = await startStandIn(dedupReceiver());
    const run = captureContext(
      ['samples', '--url', `${server.origin}/e`, '--shuffle', '--quiet', '--concurrency', '1'],
      {
        cwd: REPO,
        random: () => 0,
      },
    );

    const code = await runReplay(run.ctx);

    expect(code).toBe(0);
    const ids = server.requests.map(
      (r) => (JSON.parse(r.body) as { detail: { topicName: string } }).detail.topicName,
    );
    expect(ids).toHaveLength(5);
    const unshuffled = captureContext(
      ['samples', '--url', `${server.origin}/e`, '--quiet', '--concurrency', '1'],
      {
        cwd: REPO,
      },
    );
    await runReplay(unshuffled.ctx);
    const plain = server.requests
      .slice(5)
      .map((r) => (JSON.parse(r.body) as { detail: { topicName: string } }).detail.topicName);
    expect(ids).not.toEqual(plain);
    expect([...ids].sort()).toEqual([...plain].sort());
  });

  it('takes a bearer token or basic credentials from the environment and never prints them', async () => {
    server = await startStandIn((_request, response) =>
      sendJson(response, 200, { status: 'processed', key: 'k' }),
    );
    await writeEvent('a.json', 'id-a');
    const bearer = captureContext(['a.json', '--url', `${server.origin}/events`], {
      cwd: dir,
      env: { EBDEDUP_BEARER: 'tok-secret-1' },
    });
    const basic = captureContext(['a.json', '--url', `${server.origin}/events`], {
      cwd: dir,
      env: { EBDEDUP_BASIC: 'ops:pw-secret-2' },
    });
    const headerKey = captureContext(['a.json', '--url', `${server.origin}/events`], {
      cwd: dir,
      env: { EBDEDUP_API_KEY: 'key-secret-3', EBDEDUP_API_KEY_HEADER: 'X-Custom-Key' },
    });

    const codes = [await runReplay(bearer.ctx), await runReplay(basic.ctx), await runReplay(headerKey.ctx)];

    expect(codes).toEqual([0, 0, 0]);
    expect(server.requests[0]?.headers.authorization).toBe('Bearer tok-secret-1');
    expect(server.requests[1]?.headers.authorization).toBe(
      `Basic ${Buffer.from('ops:pw-secret-2').toString('base64')}`,
    );
    expect(server.requests[2]?.headers['x-custom-key']).toBe('key-secret-3');
    const printed = [bearer, basic, headerKey].map((r) => r.stdout() + r.stderr()).join('');
    expect(printed).not.toMatch(/secret/);
  });

  it('names an unreadable file on stderr, still sends the rest, and exits 1', async () => {
    server = await startStandIn(dedupReceiver());
    await writeEvent('good.json', 'id-good');
    await writeFile(path.join(dir, 'bad.json'), '{ not json');
    const run = captureContext(['.', '--url', `${server.origin}/events`, '--json'], { cwd: dir });

    const code = await runReplay(run.ctx);

    expect(code).toBe(1);
    expect(server.requests).toHaveLength(1);
    expect(run.stderr()).toMatch(/^ebdedup replay: bad\.json: not JSON \(.+\)$/m);
    expect(JSON.parse(run.stdout())).toMatchObject({ processed: 1, unreadable: 1, exitCode: 1 });
  });

  it('refuses conflicting or missing options with exit code 2', async () => {
    const both = captureContext([
      'x.json',
      '--url',
      'http://127.0.0.1:1/',
      '--api-key',
      'a',
      '--bearer',
      'b',
    ]);
    const noUrl = captureContext(['x.json']);
    const badTimes = captureContext(['x.json', '--url', 'http://127.0.0.1:1/', '--times', '0']);
    const unknown = captureContext(['x.json', '--url', 'http://127.0.0.1:1/', '--frobnicate']);

    const codes = await Promise.all([both, noUrl, badTimes, unknown].map((r) => runReplay(r.ctx)));

    expect(codes).toEqual([2, 2, 2, 2]);
    expect(both.stderr()).toBe('ebdedup replay: give only one of --api-key, --basic and --bearer\n');
    expect(noUrl.stderr()).toContain('--url is required');
    expect(badTimes.stderr()).toContain('--times must be an integer from 1 to 1000000, got "0"');
    expect(unknown.stderr()).toBe(
      'ebdedup replay: unknown option --frobnicate (see ebdedup replay --help)\n',
    );
  });

  it('prints a --url without a scheme as given, and suggests http://', async () => {
    const bare = captureContext(['x.json', '--url', '127.0.0.1:3000/events']);
    const named = captureContext(['x.json', '--url', 'localhost:3000/events']);
    const withPassword = captureContext(['x.json', '--url', 'ops:pw-secret@127.0.0.1:3000/events']);

    const codes = await Promise.all([bare, named, withPassword].map((r) => runReplay(r.ctx)));

    expect(codes).toEqual([2, 2, 2]);
    expect(bare.stderr()).toBe(
      'ebdedup replay: --url "127.0.0.1:3000/events" is not a URL (did you mean http://127.0.0.1:3000/events?)\n',
    );
    expect(named.stderr()).toBe(
      'ebdedup replay: --url must be http:// or https://, got localhost: (did you mean http://localhost:3000/events?)\n',
    );
    expect(withPassword.stderr()).toContain('did you mean http://***@127.0.0.1:3000/events?');
    expect(withPassword.stderr()).not.toContain('secret');
  });

  it('hides a password holding / ? or # in a --url that is not a URL', async () => {
    // Arrange: the password ends at the last @, not at the first / ? or #
    const withScheme = captureContext(['x.json', '--url', 'https://ops:pw/secret@127.0.0.1/events']);
    const hinted = captureContext(['x.json', '--url', 'ops:pw/secret@127.0.0.1:3000/events']);
    const query = captureContext(['x.json', '--url', 'https://ops:pw?secret@127.0.0.1/events']);
    const fragment = captureContext(['x.json', '--url', 'https://ops:pw#secret@127.0.0.1/events']);
    const runs = [withScheme, hinted, query, fragment];

    // Act
    const codes = await Promise.all(runs.map((r) => runReplay(r.ctx)));

    // Assert
    expect(codes).toEqual([2, 2, 2, 2]);
    expect(withScheme.stderr()).toBe('ebdedup replay: --url "https://***@127.0.0.1/events" is not a URL\n');
    expect(hinted.stderr()).toContain('did you mean http://***@127.0.0.1:3000/events?');
    for (const run of runs) {
      expect(run.stdout() + run.stderr()).not.toContain('secret');
    }
  });

  it('does not retry a 401 when no credentials were given, and says so', async () => {
    server = await startStandIn((_request, response) => {
      sendJson(response, 401, { error: 'unauthorized' });
    });
    await writeEvent('a.json', 'id-a');
    const anonymous = captureContext(['a.json', '--url', `${server.origin}/events`, ...FAST], { cwd: dir });
    const withKey = captureContext(
      ['a.json', '--url', `${server.origin}/events`, '--api-key', 'k', ...FAST],
      {
        cwd: dir,
      },
    );

    const anonymousCode = await runReplay(anonymous.ctx);
    const anonymousRequests = server.requests.length;
    const withKeyCode = await runReplay(withKey.ctx);

    expect([anonymousCode, withKeyCode]).toEqual([1, 1]);
    expect(anonymousRequests).toBe(1);
    expect(anonymous.stderr()).toContain(
      'ebdedup replay: the receiver answered 401 and no credentials were given: pass --api-key KEY (or set EBDEDUP_API_KEY), --basic USER:PASSWORD or --bearer TOKEN',
    );
    // With a key, a 401 is retried as EventBridge does (its connection's credentials may be changing).
    expect(server.requests.length - anonymousRequests).toBe(5);
    expect(withKey.stderr()).not.toContain('no credentials');
  });
});
