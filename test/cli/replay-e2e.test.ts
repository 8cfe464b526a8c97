import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReplay } from '../../src/cli/replay.js';
import { captureContext } from './helpers/context.js';
import { closedPort } from './helpers/http-server.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const SERVER = path.join(REPO, 'dist', 'main.js');

async function waitForHealthy(origin: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${output()}`);
    try {
      const response = await fetch(`${origin}/healthz`);
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server not healthy within 15 s: ${output()}`);
}

// `npm test` builds first; run alone (`npx vitest run test/cli`) this needs `npm run build` to have been run.
describe.skipIf(!existsSync(SERVER))('ebdedup replay against the built receiver (dist/main.js)', () => {
  let child: ChildProcess | undefined;
  let origin = '';
  let serverOutput = '';

  beforeAll(async () => {
    const port = await closedPort();
    origin = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [SERVER], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        STORE: 'memory',
        API_KEYS: 'test-key',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      serverOutput += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      serverOutput += chunk.toString();
    });
    await waitForHealthy(origin, child, () => serverOutput);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  });

  it('processes each distinct sample once and answers every other delivery duplicate', async () => {
    // Arrange: 5 samples (two share an EventBridge id but differ in content), each sent 3 times as-is and
    // 3 times re-published under a fresh id and time.
    const run = captureContext(
      [
        'samples',
        '--url',
        `${origin}/events`,
        '--times',
        '3',
        '--republish',
        '--api-key',
        'test-key',
        '--json',
      ],
      { cwd: REPO },
    );

    // Act
    const code = await runReplay(run.ctx);

    // Assert
    const summary = JSON.parse(run.stdout());
    expect(summary).toMatchObject({
      events: 5,
      deliveries: 30,
      processed: 5,
      duplicate: 25,
      delivered: 0,
      invalid: 0,
      failed: 0,
      exitCode: 0,
    });
    expect(code).toBe(0);
    const lines = run.stderr().trim().split('\n');
    const processed = lines.filter((line) => line.startsWith('processed 200 '));
    expect(processed.map((line) => line.split(' ')[2]).sort()).toEqual([
      'samples/genesys-audit-oauthclient-delete.json',
      'samples/genesys-audit-userpresence-update.json',
      'samples/genesys-detail-conversation-customer-end-no-external-contact.json',
      'samples/genesys-detail-conversation-customer-end.json',
      'samples/genesys-detail-conversation-customer-start.json',
    ]);
    const keys = new Set(processed.map((line) => /key=(\S+)/.exec(line)?.[1]));
    expect(keys.size).toBe(5);
  });

  it('is refused (401, retried, then failed) with a wrong API key', async () => {
    const run = captureContext(
      [
        'samples/genesys-audit-oauthclient-delete.json',
        '--url',
        `${origin}/events`,
        '--json',
        '--max-attempts',
        '2',
      ],
      { cwd: REPO, env: { EBDEDUP_API_KEY: 'wrong-key' }, sleep: async () => undefined },
    );

    const code = await runReplay(run.ctx);

    expect(code).toBe(1);
    expect(JSON.parse(run.stdout())).toMatchObject({ failed: 1, retries: 1, statuses: { '401': 1 } });
    expect(run.stdout() + run.stderr()).not.toContain('wrong-key');
  });
});
