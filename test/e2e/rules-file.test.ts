import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CONVERSATION_END, SAMPLES_DIR } from '../helpers/samples.js';
import { ServerProcess } from '../helpers/server-process.js';

/** DEDUP_STRATEGY=rules as an operator meets it: the rules file read by the built server at start-up. */

const API_KEY = 'e2e-rules-key-41c2';

function rulesFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ebdedup-rules-')), 'rules.json');
  writeFileSync(file, text);
  return file;
}

function deliver(url: string, body: string) {
  return fetch(`${url}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-api-key': API_KEY },
    body,
  });
}

describe('a rules file at start-up', () => {
  it('stops the server with one line naming the wrong rule', async () => {
    const file = rulesFile(
      JSON.stringify({ rules: [{ name: 'no-key', 'detail-type': 'v2.detail.events.conversation.*' }] }),
    );

    const server = await ServerProcess.start(
      { API_KEYS: API_KEY, DEDUP_STRATEGY: 'rules', DEDUP_RULES_FILE: file },
      { waitReady: false },
    );
    const exit = await server.exited;

    expect(exit.code).toBe(1);
    const lines = server.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DEDUP_RULES_FILE');
    expect(lines[0]).toContain('no-key');
  });

  it('stops the server with one line when the file is missing', async () => {
    const server = await ServerProcess.start(
      { API_KEYS: API_KEY, DEDUP_STRATEGY: 'rules', DEDUP_RULES_FILE: '/nonexistent/rules.json' },
      { waitReady: false },
    );
    const exit = await server.exited;

    expect(exit.code).toBe(1);
    expect(server.stderr.trim().split('\n')).toEqual([
      expect.stringContaining("DEDUP_RULES_FILE='/nonexistent/rules.json' cannot be read: ENOENT"),
    ]);
  });

  it('keys events by the rule it loaded', async () => {
    const file = rulesFile(
      JSON.stringify({
        rules: [
          {
            name: 'conversation-end',
            'detail-type': 'v2.detail.events.conversation.*.customer.end',
            key: ['detail.eventBody.conversationId'],
          },
        ],
      }),
    );
    const server = await ServerProcess.start({
      API_KEYS: API_KEY,
      DEDUP_STRATEGY: 'rules',
      DEDUP_RULES_FILE: file,
    });
    onTestFinished(() => void server.stop('SIGKILL'));
    const end = readFileSync(`${SAMPLES_DIR}${CONVERSATION_END}`, 'utf8');
    const otherParticipant = end.replace(
      /"participantId": "[^"]+"/,
      '"participantId": "another-participant"',
    );

    const first = await deliver(server.url, end);
    const second = await deliver(server.url, otherParticipant);

    expect(otherParticipant).not.toBe(end);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ status: 'processed' });
    expect(await second.json()).toMatchObject({ status: 'duplicate' });
  });
});
