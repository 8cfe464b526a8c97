import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runReplay } from '../../src/cli/replay.js';
import { captureContext } from './helpers/context.js';

const EVENTS = 1000;
const TIMES = 200;
const DELIVERIES = EVENTS * TIMES;
/** The request the receiver holds back, so the run has one known slow delivery. */
const SLOW_REQUEST = 100_000;
const SLOW_MS = 400;

/**
 * A bare receiver in a process of its own (the second core answers while this one replays), as small as a
 * server gets: `processed` the first time it sees an id, `duplicate` after; request SLOW_REQUEST waits SLOW_MS;
 * `GET /count` tells how many events it was sent. It records nothing: 200,000 requests would fill memory.
 */
const RECEIVER = `
const { createServer } = require('node:http');
const seen = new Set();
let requests = 0;
const server = createServer((request, response) => {
  if (request.method === 'GET') {
    response.end(String(requests));
    return;
  }
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk) => { body += chunk; });
  request.on('end', () => {
    requests++;
    const id = JSON.parse(body).id;
    const status = seen.has(id) ? 'duplicate' : 'processed';
    seen.add(id);
    const answer = () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"status":"' + status + '","key":"' + id + '"}');
    };
    if (requests === ${SLOW_REQUEST}) setTimeout(answer, ${SLOW_MS});
    else answer();
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.stdin.on('end', () => process.exit(0)).resume();
`;

async function startReceiverProcess(): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, ['-e', RECEIVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
    child.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
  });
  return { child, origin: `http://127.0.0.1:${port}` };
}

describe('ebdedup replay of a large archive', () => {
  let dir = '';
  let receiver: ChildProcess | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ebdedup-replay-large-'));
  });

  afterEach(async () => {
    // Closing its stdin ends it; a kill in case it hangs.
    receiver?.stdin?.end();
    const exited = receiver && receiver.exitCode === null ? once(receiver, 'exit') : undefined;
    const timer = setTimeout(() => receiver?.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    receiver = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers 200,000 events and prints a right summary instead of dying in it', async () => {
    // Arrange: 1000 events, each sent 200 times. The summary used to spread every latency into Math.max, which
    // threw "Maximum call stack size exceeded" from about 130,000 deliveries.
    const started = await startReceiverProcess();
    receiver = started.child;
    const lines = Array.from({ length: EVENTS }, (_, n) =>
      JSON.stringify({
        version: '0',
        id: `evt-${n}`,
        'detail-type': 'test.event',
        source: 'test.source',
        account: '123456789012',
        time: '2026-12-01T00:00:00Z',
        region: 'eu-west-1',
        resources: [],
        detail: { n },
      }),
    );
    await writeFile(path.join(dir, 'archive.jsonl'), `${lines.join('\n')}\n`);
    const run = captureContext(
      [
        'archive.jsonl',
        '--url',
        `${started.origin}/events`,
        '--times',
        String(TIMES),
        '--concurrency',
        '16',
        '--quiet',
        '--json',
      ],
      { cwd: dir },
    );
    const began = Date.now();

    // Act
    const code = await runReplay(run.ctx);

    // Assert
    const elapsed = Date.now() - began;
    expect(run.stderr()).toBe('');
    expect(code).toBe(0);
    expect(await (await fetch(`${started.origin}/count`)).text()).toBe(String(DELIVERIES));
    const summary = JSON.parse(run.stdout());
    expect(summary).toMatchObject({
      events: EVENTS,
      deliveries: DELIVERIES,
      processed: EVENTS,
      duplicate: DELIVERIES - EVENTS,
      delivered: 0,
      invalid: 0,
      failed: 0,
      retries: 0,
      statuses: { '200': DELIVERIES },
      exitCode: 0,
    });
    // The held-back request is the slowest delivery; no delivery took longer than the whole run.
    expect(summary.latencyMs.max).toBeGreaterThanOrEqual(SLOW_MS - 5);
    expect(summary.latencyMs.max).toBeLessThan(elapsed);
    expect(summary.latencyMs.p50).toBeLessThanOrEqual(summary.latencyMs.p90);
    expect(summary.latencyMs.p90).toBeLessThanOrEqual(summary.latencyMs.p99);
    expect(summary.latencyMs.p99).toBeLessThan(SLOW_MS);
  }, 120_000);
});
