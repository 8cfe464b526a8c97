import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRedrive } from '../../src/cli/redrive.js';
import { captureContext } from './helpers/context.js';
import { TEST_KEYS, TEST_REGION } from './helpers/fake-eventbridge.js';
import { onFailureRecord } from './helpers/fake-lambda.js';
import { dlqAttributes, type FakeSqs, startFakeSqs } from './helpers/fake-sqs.js';
import { hasBuiltServer, type ReceiverProcess, startReceiverProcess } from './helpers/receiver-process.js';

const SAMPLES = path.resolve(import.meta.dirname, '../../samples');
const ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDTEST',
  AWS_SECRET_ACCESS_KEY: TEST_KEYS.AKIDTEST,
  AWS_REGION: TEST_REGION,
};

// `npm test` builds first; run alone (`npx vitest run test/cli`) this needs `npm run build` to have been run.
describe.skipIf(!hasBuiltServer)(
  'ebdedup redrive from a fake SQS to the built receiver (dist/main.js)',
  () => {
    let server: ReceiverProcess | undefined;
    let sqs: FakeSqs | undefined;

    beforeAll(async () => {
      server = await startReceiverProcess('test-key');
      sqs = await startFakeSqs({ region: TEST_REGION, secrets: TEST_KEYS });
    });

    afterAll(async () => {
      await sqs?.close();
      await server?.stop();
    });

    function redrive(...args: string[]) {
      if (sqs === undefined || server === undefined) throw new Error('not started');
      const argv = [
        '--queue-url',
        sqs.queueUrl,
        '--endpoint-url',
        sqs.origin,
        '--url',
        `${server.origin}/events`,
      ];
      return captureContext([...argv, '--api-key', 'test-key', '--wait-seconds', '0', '--json', ...args], {
        env: ENV,
      });
    }

    it('after an outage, processes what never arrived, answers duplicate for what did, and empties the queue', async () => {
      // Arrange: the five samples dead-lettered by an outage; two of them had reached the receiver before it.
      if (sqs === undefined || server === undefined) throw new Error('not started');
      const names = (await readdir(SAMPLES)).filter((name) => name.endsWith('.json')).sort();
      const bodies = await Promise.all(names.map((name) => readFile(path.join(SAMPLES, name), 'utf8')));
      for (const body of bodies.slice(0, 2)) {
        const response = await fetch(`${server.origin}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': 'test-key' },
          body,
        });
        expect(response.status).toBe(200);
      }
      for (const body of bodies) sqs.send(body, dlqAttributes('SDK_CLIENT_ERROR'));
      const first = redrive();
      const again = redrive();

      // Act
      const codes = [await runRedrive(first.ctx), await runRedrive(again.ctx)];

      // Assert
      expect(sqs.problems).toEqual([]);
      expect(codes).toEqual([0, 0]);
      expect(JSON.parse(first.stdout())).toMatchObject({
        received: 5,
        processed: 3,
        duplicate: 2,
        rejected: 0,
        deleted: 5,
        left: 0,
        byErrorCode: { SDK_CLIENT_ERROR: { messages: 5, deleted: 5, left: 0 } },
      });
      expect(JSON.parse(again.stdout())).toMatchObject({ received: 0, deleted: 0, left: 0, exitCode: 0 });
      expect(sqs.remaining()).toBe(0);
    });

    it("posts an on-failure record's requestPayload, keyed as the bytes first posted: duplicate for what got through", async () => {
      // Arrange: two events of this test's own (new keys); the first reached the receiver as the sample's bytes,
      // indented over several lines, before both ended in Lambda on-failure records.
      if (sqs === undefined || server === undefined) throw new Error('not started');
      const sample = await readFile(path.join(SAMPLES, 'genesys-audit-userpresence-update.json'), 'utf8');
      const bytes = [1, 2].map((n) => sample.replace('"detail": {', `"detail": {\n        "redrive": ${n},`));
      const response = await fetch(`${server.origin}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'test-key' },
        body: bytes[0],
      });
      expect(response.status).toBe(200);
      for (const body of bytes) sqs.send(onFailureRecord(JSON.parse(body)));
      const run = redrive();

      // Act
      const code = await runRedrive(run.ctx);

      // Assert
      expect(code).toBe(0);
      expect(JSON.parse(run.stdout())).toMatchObject({ received: 2, processed: 1, duplicate: 1, deleted: 2 });
      expect(run.stderr()).toMatch(/^duplicate 200 sqs:\S+ \(on-failure record, event .*\) key=.* deleted$/m);
      expect(sqs.remaining()).toBe(0);
    });

    it('leaves an event the receiver refuses (400) in the queue and exits 1', async () => {
      if (sqs === undefined) throw new Error('not started');
      const id = sqs.send('{"version":"0","id":"x"}', dlqAttributes('SDK_CLIENT_ERROR'));
      const run = redrive();

      const code = await runRedrive(run.ctx);

      expect(code).toBe(1);
      expect(JSON.parse(run.stdout())).toMatchObject({ received: 1, rejected: 1, left: 1 });
      expect(run.stderr()).toContain('invalid 400 sqs:');
      expect([...sqs.messages.keys()]).toEqual([id]);
    });
  },
);
