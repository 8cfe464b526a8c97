import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReplay } from '../../src/cli/replay.js';
import { captureContext } from './helpers/context.js';
import { hasBuiltServer, type ReceiverProcess, startReceiverProcess } from './helpers/receiver-process.js';

const REPO = path.resolve(import.meta.dirname, '../..');

// `npm test` builds first; run alone (`npx vitest run test/cli`) this needs `npm run build` to have been run.
describe.skipIf(!hasBuiltServer)('ebdedup replay against the built receiver (dist/main.js)', () => {
  let server: ReceiverProcess | undefined;
  let origin = '';

  beforeAll(async () => {
    server = await startReceiverProcess('test-key');
    origin = server.origin;
  });

  afterAll(async () => {
    await server?.stop();
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
