import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../src/core/errors.js';
import { validateEvent } from '../../src/events/envelope.js';
import { createKeyStrategy, type KeyStrategyOptions } from '../../src/events/keys.js';
import { compileRules } from '../../src/events/rules.js';
import {
  AUDIT,
  CONVERSATION_END,
  CONVERSATION_START,
  type Json,
  loadSample,
  republished,
} from '../helpers/samples.js';

const TTL = 86_400;

function keyOf(event: Json, options: Partial<KeyStrategyOptions> = {}, headers = {}): string {
  const strategy = createKeyStrategy({ strategy: 'content', ttlSeconds: TTL, ...options });
  return strategy(validateEvent(event, 'envelope'), headers).key;
}

describe('content strategy', () => {
  it('gives two publications of one notification the same key', () => {
    // Arrange
    const first = loadSample(AUDIT);
    const second = republished(first);

    // Act
    const keys = [keyOf(first), keyOf(second)];

    // Assert
    expect(second.id).not.toBe(first.id);
    expect(keys[1]).toBe(keys[0]);
  });

  it('gives a later update of the same conversation a key of its own', () => {
    const start = loadSample(CONVERSATION_START);
    const end = loadSample(CONVERSATION_END);

    expect(keyOf(end)).not.toBe(keyOf(start));
  });

  it('tells apart two bodies that share an EventBridge id', () => {
    const withContact = loadSample(CONVERSATION_END);
    const withoutContact = loadSample('genesys-detail-conversation-customer-end-no-external-contact.json');

    expect(withoutContact.id).toBe(withContact.id);
    expect(keyOf(withoutContact)).not.toBe(keyOf(withContact));
  });

  it('is the SHA-256 of the RFC 8785 canonical JSON of source, detail-type and detail', () => {
    // Arrange: member order and number forms that RFC 8785 normalises.
    const event = {
      ...loadSample(AUDIT),
      source: 'custom.app',
      'detail-type': 't',
      detail: { b: 1.0, a: [1e21, 'é'], c: { z: null, y: true } },
    };
    const canonical =
      '{"detail":{"a":[1e+21,"é"],"b":1,"c":{"y":true,"z":null}},"detail-type":"t","source":"custom.app"}';

    // Act
    const key = keyOf(event);

    // Assert
    expect(key).toBe(createHash('sha256').update(canonical).digest('base64url'));
  });

  it('gives a sample the key it had before the canonical JSON writer was replaced', () => {
    // Recorded with canonicalize + omitPaths (commit 44a3ac5): keys stored in Redis must not change.
    const event = loadSample(CONVERSATION_END);

    expect(keyOf(event)).toBe('5uC_olcUqvgfj82EDwPNIQHNyDjZkqNAtg8J1-T3p9k');
    expect(keyOf(event, { ignoreFields: ['detail.eventBody.id', 'detail-type'] })).toBe(
      'mL9zvE3mvVW2zURvR7yVV4Dsu5tuTFignVeOOf8ZQ1k',
    );
    expect(keyOf(loadSample(AUDIT))).toBe('BdbkwYv_xEsp6swSKUYcmtyV5yC4AgC8CKejbeqWRT0');
    expect(
      createKeyStrategy({ strategy: 'content', ttlSeconds: TTL })(validateEvent(event, 'any'), {}).key,
    ).toBe('UQDPbMhyqRqSDsnFMA9PCt0EdwjNUgbgL8xwgDqp164');
  });

  it('does not depend on member order', () => {
    const event = loadSample(AUDIT);
    const reordered = Object.fromEntries(Object.entries(event).reverse());

    expect(keyOf(reordered)).toBe(keyOf(event));
  });

  it('keeps detail.metadata and detail.timestamp in the key of a non-Genesys event', () => {
    const event: Json = { ...loadSample(AUDIT), source: 'custom.app' };
    const other = { ...event, detail: { ...(event.detail as Json), timestamp: 'later' } };

    expect(keyOf(other)).not.toBe(keyOf(event));
  });

  it('leaves out DEDUP_IGNORE_FIELDS without changing the event', () => {
    const event = loadSample(AUDIT);
    const body = (event.detail as Json).eventBody as Json;
    const retried = {
      ...event,
      detail: { ...(event.detail as Json), eventBody: { ...body, retryCount: 2 } },
    };
    const ignore = { ignoreFields: ['detail.eventBody.retryCount'] };

    expect(keyOf(retried)).not.toBe(keyOf(event));
    expect(keyOf(retried, ignore)).toBe(keyOf(event, ignore));
    expect(((retried.detail as Json).eventBody as Json).retryCount).toBe(2);
  });

  it('hashes the whole body with EVENT_SCHEMA=any', () => {
    const strategy = createKeyStrategy({ strategy: 'content', ttlSeconds: TTL });
    const a = strategy(validateEvent({ order: 1, note: 'x' }, 'any'), {}).key;
    const b = strategy(validateEvent({ note: 'x', order: 1 }, 'any'), {}).key;
    const c = strategy(validateEvent({ order: 2, note: 'x' }, 'any'), {}).key;

    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });
});

describe('event-id strategy', () => {
  it('keys on the EventBridge id alone', () => {
    const event = loadSample(AUDIT);
    const sameId = { ...event, detail: { ...(event.detail as Json), topicName: 'other' } };

    expect(keyOf(sameId, { strategy: 'event-id' })).toBe(keyOf(event, { strategy: 'event-id' }));
    expect(keyOf(republished(event), { strategy: 'event-id' })).not.toBe(
      keyOf(event, { strategy: 'event-id' }),
    );
  });
});

describe('header strategy', () => {
  it('keys on the header value', () => {
    const event = loadSample(AUDIT);
    const options = { strategy: 'header' as const, headerName: 'idempotency-key' };

    const a = keyOf(event, options, { 'idempotency-key': 'abc' });
    const b = keyOf(loadSample(CONVERSATION_END), options, { 'idempotency-key': 'abc' });
    const c = keyOf(event, options, { 'idempotency-key': 'abd' });

    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('rejects a request without the header, naming it', () => {
    const act = () => keyOf(loadSample(AUDIT), { strategy: 'header', headerName: 'idempotency-key' }, {});

    expect(act).toThrow(InvalidEventError);
    try {
      act();
    } catch (error) {
      expect((error as InvalidEventError).issues[0]?.path).toBe('idempotency-key');
    }
  });
});

describe('rules strategy', () => {
  const rules = compileRules({
    rules: [
      {
        name: 'conversation-end',
        'detail-type': 'v2.detail.events.conversation.*.customer.end',
        key: ['detail.eventBody.conversationId', 'detail.eventBody.participantId'],
        ttlSeconds: 172_800,
      },
    ],
  });
  const strategy = createKeyStrategy({ strategy: 'rules', ttlSeconds: TTL, rules });

  it('keys a matching event on the rule fields, with the rule TTL', () => {
    const a = strategy(validateEvent(loadSample(CONVERSATION_END), 'envelope'), {});
    const b = strategy(
      validateEvent(
        loadSample('genesys-detail-conversation-customer-end-no-external-contact.json'),
        'envelope',
      ),
      {},
    );

    expect(a.rule).toBe('conversation-end');
    expect(a.ttlSeconds).toBe(172_800);
    expect(b.key).toBe(a.key);
  });

  it('hashes the rule name and the RFC 8785 canonical JSON of the rule fields', () => {
    const event = loadSample(CONVERSATION_END);
    const body = (event.detail as Json).eventBody as Json;
    const material = `rule\nconversation-end\n${JSON.stringify([body.conversationId, body.participantId])}`;

    const result = strategy(validateEvent(event, 'envelope'), {});

    expect(result.key).toBe(createHash('sha256').update(material).digest('base64url'));
  });

  it('falls back to content when no rule matches', () => {
    const event = loadSample(CONVERSATION_START);

    const result = strategy(validateEvent(event, 'envelope'), {});

    expect(result.strategy).toBe('content');
    expect(result.key).toBe(keyOf(event));
  });

  it('rejects a matching event that lacks a key field, naming field and rule', () => {
    const event = loadSample(CONVERSATION_END);
    const detail = event.detail as Json;
    const { participantId: _dropped, ...body } = detail.eventBody as Json;
    const incomplete = { ...event, detail: { ...detail, eventBody: body } };

    expect(() => strategy(validateEvent(incomplete, 'envelope'), {})).toThrow(
      /detail\.eventBody\.participantId: is required by dedup rule 'conversation-end'/,
    );
  });
});

describe('REPLAY_POLICY', () => {
  const replayed = (event: Json) => ({ ...event, 'replay-name': 'replay-2026-11-27' });

  it('dedup: a replayed event shares the original key', () => {
    const event = loadSample(AUDIT);

    expect(keyOf(replayed(event), { replayPolicy: 'dedup' })).toBe(keyOf(event));
  });

  it('reprocess: a replay gets keys of its own, stable within the replay', () => {
    const event = loadSample(AUDIT);
    const options = { replayPolicy: 'reprocess' as const };

    const original = keyOf(event, options);
    const inReplay = keyOf(replayed(event), options);

    expect(inReplay).not.toBe(original);
    expect(keyOf(replayed(republished(event)), options)).toBe(inReplay);
    expect(keyOf({ ...event, 'replay-name': 'another' }, options)).not.toBe(inReplay);
  });
});
