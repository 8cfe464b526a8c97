import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis-server.js';
import { ServerProcess } from '../helpers/server-process.js';
import { chaosEvents } from './events.js';
import { API_KEY, RECEIVER_SETTINGS } from './harness.js';

/**
 * The minimal repro of what the slow-network and all-together scenarios found: the sink succeeds, the write
 * that records completion fails (Redis is gone for a moment), and the receiver answers 200 "processed" all the
 * same while the key stays a claim. When the claim's lease lapses, the next delivery of the event (a late
 * duplicate, a re-publication) is processed again, by a receiver that never crashed.
 *
 * Deterministic: the sink itself SIGKILLs Redis (append-only, so the claim survives the restart) before it
 * records the processing and returns, so the completion write cannot reach Redis.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function post(url: string, body: string) {
  const response = await fetch(`${url}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-api-key': API_KEY },
    body,
  });
  return { status: response.status, body: (await response.json()) as { status?: string; error?: string } };
}

describe('a completion write that fails after the sink succeeded', () => {
  it('does not let a later delivery process the event again', async () => {
    const redis = await RedisServer.start({ appendOnly: true });
    cleanups.push(() => redis.close());
    const dir = mkdtempSync(join(tmpdir(), 'ebdedup-complete-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const ledger = join(dir, 'ledger.jsonl');
    writeFileSync(ledger, '');
    const sink = join(dir, 'kill-redis-sink.mjs');
    writeFileSync(
      sink,
      `import { appendFileSync } from 'node:fs';
let first = true;
export async function handle(event, context) {
  if (first) {
    first = false;
    process.kill(Number(process.env.REPRO_REDIS_PID), 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  appendFileSync(process.env.REPRO_LEDGER, context.key + '\\n');
}
`,
    );
    const receiver = await ServerProcess.start({
      ...RECEIVER_SETTINGS,
      REDIS_URL: redis.url,
      SINK: 'module',
      SINK_MODULE: sink,
      REPRO_REDIS_PID: String(redis.pid),
      REPRO_LEDGER: ledger,
    });
    cleanups.push(async () => {
      await receiver.stop('SIGKILL');
    });
    const body = JSON.stringify(chaosEvents(1)[0]);

    // The first delivery: processed, but its completion write finds Redis gone.
    const first = await post(receiver.url, body);
    await redis.restart();
    // Past the lease (DEDUP_LEASE_SECONDS=3): EventBridge's retry, a late duplicate or a re-publication.
    await sleep(3500);
    let again = await post(receiver.url, body);
    for (let attempt = 0; attempt < 20 && again.status !== 200; attempt += 1) {
      await sleep(250);
      again = await post(receiver.url, body);
    }
    const processings = readFileSync(ledger, 'utf8').trim().split('\n').filter(Boolean);

    // A 503 for the first delivery would be honest too (EventBridge retries and finds the duplicate); a 200 is
    // fine only if the key does end up recorded.
    expect([200, 503]).toContain(first.status);
    expect(again).toEqual({ status: 200, body: expect.objectContaining({ status: 'duplicate' }) });
    expect(processings).toHaveLength(1);
  }, 30_000);
});
