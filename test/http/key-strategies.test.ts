import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JSON_HEADERS, testApp } from '../helpers/app.js';
import { CONVERSATION_END, type Json, loadSample, republished, uniqueEvent } from '../helpers/samples.js';

/**
 * The contract's key-strategy variables through HTTP (EVENT_SCHEMA, DEDUP_STRATEGY=header|rules,
 * REPLAY_POLICY): what a delivery is answered, not only what the key function returns.
 */

function post(payload: unknown, headers: Record<string, string> = {}) {
  return {
    method: 'POST' as const,
    url: '/events',
    headers: { ...JSON_HEADERS, ...headers },
    payload: JSON.stringify(payload),
  };
}

/** The same event as replayed from an EventBridge archive: the replay's name is added to the envelope. */
function replayed(event: Json, name: string): Json {
  return { ...event, 'replay-name': name };
}

function rulesFile(document: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ebdedup-rules-')), 'rules.json');
  writeFileSync(file, JSON.stringify(document));
  return file;
}

describe('EVENT_SCHEMA=any', () => {
  it('accepts any JSON object and keys it by content over the whole body', async () => {
    const { app } = await testApp({ env: { EVENT_SCHEMA: 'any' } });
    const transformed = { conversationId: 'c-1', state: 'ended' };

    const first = await app.inject(post(transformed));
    const again = await app.inject(post({ state: 'ended', conversationId: 'c-1' }));
    const other = await app.inject(post({ ...transformed, state: 'wrapped-up' }));

    expect(first.json()).toMatchObject({ status: 'processed' });
    expect(again.json()).toMatchObject({ status: 'duplicate', key: first.json().key });
    expect(other.json()).toMatchObject({ status: 'processed' });
  });

  it('answers 400 for a body that is not a JSON object', async () => {
    const { app } = await testApp({ env: { EVENT_SCHEMA: 'any' } });

    const response = await app.inject(post([{ conversationId: 'c-1' }]));

    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe('invalid_event');
  });

  it('keys by the DEDUP_HEADER with DEDUP_STRATEGY=header, whatever the body', async () => {
    const { app } = await testApp({ env: { EVENT_SCHEMA: 'any', DEDUP_STRATEGY: 'header' } });

    const missing = await app.inject(post({ n: 1 }));
    const first = await app.inject(post({ n: 1 }, { 'idempotency-key': 'evt-1' }));
    const sameKeyOtherBody = await app.inject(post({ n: 2 }, { 'idempotency-key': 'evt-1' }));

    expect(missing.statusCode).toBe(400);
    expect(missing.json().issues).toEqual([expect.objectContaining({ path: 'idempotency-key' })]);
    expect(first.json().status).toBe('processed');
    expect(sameKeyOtherBody.json().status).toBe('duplicate');
  });
});

describe('REPLAY_POLICY', () => {
  it('reprocess: each archive replay processes an already processed event once more, once per replay', async () => {
    const { app } = await testApp({ env: { REPLAY_POLICY: 'reprocess' } });
    const event = uniqueEvent();

    const original = await app.inject(post(event));
    const replay1 = await app.inject(post(replayed(event, 'replay-1')));
    const replay1Again = await app.inject(post(replayed(republished(event), 'replay-1')));
    const replay2 = await app.inject(post(replayed(event, 'replay-2')));

    expect(original.json().status).toBe('processed');
    expect(replay1.json().status).toBe('processed');
    expect(replay1Again.json()).toMatchObject({ status: 'duplicate', key: replay1.json().key });
    expect(replay2.json().status).toBe('processed');
    expect(new Set([original, replay1, replay2].map((r) => r.json().key)).size).toBe(3);
  });

  it('dedup (the default): a replayed event that was processed is a duplicate', async () => {
    const { app } = await testApp();
    const event = uniqueEvent();

    const original = await app.inject(post(event));
    const replay = await app.inject(post(replayed(event, 'replay-1')));

    expect(original.json().status).toBe('processed');
    expect(replay.json()).toMatchObject({ status: 'duplicate', key: original.json().key });
  });
});

describe('DEDUP_STRATEGY=rules', () => {
  const rules = {
    rules: [
      {
        name: 'conversation-end',
        'detail-type': 'v2.detail.events.conversation.*.customer.end',
        key: ['detail.eventBody.conversationId', 'detail.eventBody.participantId'],
      },
    ],
  };

  it('keys a matching event by its rule’s fields, so a changed body of the same participant’s end is a duplicate', async () => {
    const { app } = await testApp({
      env: { DEDUP_STRATEGY: 'rules', DEDUP_RULES_FILE: rulesFile(rules) },
    });
    const end = loadSample(CONVERSATION_END);
    const detail = end.detail as Json;
    const laterEnd = {
      ...end,
      detail: { ...detail, eventBody: { ...(detail.eventBody as Json), interactingDurationMs: 61_000 } },
    };

    const first = await app.inject(post(end));
    const second = await app.inject(post(laterEnd));

    expect(first.json().status).toBe('processed');
    expect(second.json()).toMatchObject({ status: 'duplicate', key: first.json().key });
  });

  it('answers 400 naming the field and the rule when a matching event lacks a key field', async () => {
    const { app } = await testApp({
      env: { DEDUP_STRATEGY: 'rules', DEDUP_RULES_FILE: rulesFile(rules) },
    });
    const end = loadSample(CONVERSATION_END);
    const detail = end.detail as Json;
    const { participantId: _dropped, ...eventBody } = detail.eventBody as Json;

    const response = await app.inject(post({ ...end, detail: { ...detail, eventBody } }));

    expect(response.statusCode).toBe(400);
    expect(response.json().issues).toEqual([
      { path: 'detail.eventBody.participantId', message: "is required by dedup rule 'conversation-end'" },
    ]);
  });

  it('falls back to the content key for an event no rule matches', async () => {
    const { app } = await testApp({
      env: { DEDUP_STRATEGY: 'rules', DEDUP_RULES_FILE: rulesFile(rules) },
    });
    const event = uniqueEvent();

    const first = await app.inject(post(event));
    const republication = await app.inject(post(republished(event)));
    const update = await app.inject(post(uniqueEvent()));

    expect(first.json().status).toBe('processed');
    expect(republication.json().status).toBe('duplicate');
    expect(update.json().status).toBe('processed');
  });
});
