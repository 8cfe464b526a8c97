import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../src/core/errors.js';
import { type EventSchemaMode, validateEvent } from '../../src/events/envelope.js';
import { createKeyStrategy, type DedupStrategyName, type KeyStrategy } from '../../src/events/keys.js';
import { compileRules } from '../../src/events/rules.js';
import {
  envelopeLike,
  genesysEvent,
  jsonKey,
  jsonValue,
  reshuffled,
  roundTrip,
} from '../helpers/arbitraries.js';

const TTL = 86_400;
const isoInstant = fc
  .integer({ min: 946_684_800_000, max: 4_102_444_800_000 })
  .map((ms) => new Date(ms).toISOString());

const RULES = compileRules({
  rules: [
    { name: 'by-body-id', 'detail-type': '*', key: ['detail.eventBody.id', 'source'] },
    { name: 'by-nothing-there', source: 'nope*', key: ['detail.missing'] },
  ],
});

function strategy(name: DedupStrategyName, replayPolicy: 'dedup' | 'reprocess' = 'dedup'): KeyStrategy {
  return createKeyStrategy({
    strategy: name,
    ttlSeconds: TTL,
    headerName: 'idempotency-key',
    ignoreFields: ['detail.eventBody.retryCount', 'detail.0.__proto__'],
    rules: RULES,
    replayPolicy,
  });
}

/** Every mode with every strategy that the configuration allows together (event-id needs an envelope). */
const COMBINATIONS: [EventSchemaMode, DedupStrategyName][] = [
  ['envelope', 'content'],
  ['envelope', 'event-id'],
  ['envelope', 'header'],
  ['envelope', 'rules'],
  ['any', 'content'],
  ['any', 'header'],
  ['any', 'rules'],
];

/** Runs the envelope parser and a key strategy; anything thrown but InvalidEventError fails the property. */
function keyOrInvalid(body: unknown, mode: EventSchemaMode, name: DedupStrategyName, headers = {}): string {
  try {
    return strategy(name)(validateEvent(body, mode), headers).key;
  } catch (error) {
    if (error instanceof InvalidEventError) return 'invalid';
    throw error;
  }
}

const headers = fc.option(fc.dictionary(fc.constantFrom('idempotency-key', 'x-other'), fc.string()), {
  nil: undefined,
});

describe('hostile input: the envelope parser and every key strategy', () => {
  it.each(COMBINATIONS)('throw nothing but InvalidEventError for any JSON (%s, %s)', (mode, name) => {
    fc.assert(
      fc.property(fc.oneof(jsonValue, envelopeLike, genesysEvent), headers, (body, given) => {
        const key = keyOrInvalid(body, mode, name, given ?? {});
        expect(key === 'invalid' || /^[A-Za-z0-9_-]{43}$/.test(key)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('generates the awkward keys it claims to, as own properties', () => {
    const sample = fc.sample(fc.dictionary(jsonKey, fc.integer(), { minKeys: 3 }), {
      numRuns: 300,
      seed: 42,
    });
    const parsed = sample.map((value) => roundTrip(value));
    expect(parsed.some((value) => Object.hasOwn(value, '__proto__'))).toBe(true);
    expect(parsed.some((value) => Object.hasOwn(value, 'constructor'))).toBe(true);
    expect(parsed.every((value) => Object.getPrototypeOf(value) === Object.prototype)).toBe(true);
  });

  it('never lets a __proto__ key change a prototype', () => {
    fc.assert(
      fc.property(genesysEvent, jsonValue, (event, payload) => {
        const body = JSON.parse(
          `{"__proto__":${JSON.stringify({ polluted: payload })},${JSON.stringify(event).slice(1)}`,
        ) as Record<string, unknown>;
        keyOrInvalid(body, 'envelope', 'content');
        keyOrInvalid(body, 'any', 'content');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 100 },
    );
  });
});

describe('zod 4 length checks on hostile objects', () => {
  // Once a TypeError: zod ran its min-length check on the object (its `when` hook only looks for a `length`).
  // src/events/envelope.ts now checks non-emptiness with a refinement, which runs on strings only.
  it('throws only InvalidEventError for an id whose length is a hostile object', () => {
    const body = JSON.parse(
      '{"version":"0","id":{"length":{"toString":0}},"detail-type":"t","source":"s","account":"1",' +
        '"time":"2024-01-01T00:00:00Z","region":"r","resources":[],"detail":{}}',
    ) as unknown;

    expect(keyOrInvalid(body, 'envelope', 'content')).toBe('invalid');
  });
});

describe('equal events give equal keys', () => {
  it('content: a Genesys notification re-published (new id, time, metadata, timestamp) and reshuffled', () => {
    fc.assert(
      fc.property(genesysEvent, fc.integer(), isoInstant, (event, seed, later) => {
        const detail = event.detail as Record<string, unknown>;
        const again = reshuffled(
          {
            ...event,
            id: randomUUID(),
            time: later,
            detail: { ...detail, metadata: { CorrelationId: randomUUID() }, timestamp: later },
          },
          seed,
        );

        expect(keyOrInvalid(again, 'envelope', 'content')).toBe(keyOrInvalid(event, 'envelope', 'content'));
        expect(keyOrInvalid(event, 'envelope', 'content')).not.toBe('invalid');
      }),
      { numRuns: 300 },
    );
  });

  it('content: a different event body gives a different key', () => {
    fc.assert(
      fc.property(genesysEvent, fc.uuid(), (event, marker) => {
        const detail = event.detail as { eventBody: Record<string, unknown> };
        const changed = {
          ...event,
          detail: { ...detail, eventBody: { ...detail.eventBody, marker } },
        };
        fc.pre(detail.eventBody.marker !== marker);

        expect(keyOrInvalid(changed, 'envelope', 'content')).not.toBe(
          keyOrInvalid(event, 'envelope', 'content'),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('event-id, header, rules and EVENT_SCHEMA=any: the same event with its keys in any order', () => {
    fc.assert(
      fc.property(genesysEvent, fc.integer(), fc.string({ minLength: 1 }), (event, seed, idempotencyKey) => {
        const again = reshuffled(event, seed);
        const given = { 'idempotency-key': idempotencyKey.trim() === '' ? 'k' : idempotencyKey };
        for (const [mode, name] of COMBINATIONS) {
          expect(keyOrInvalid(again, mode, name, given)).toBe(keyOrInvalid(event, mode, name, given));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rules: the key follows the rule fields only', () => {
    fc.assert(
      fc.property(genesysEvent, fc.uuid(), jsonValue, (generated, bodyId, noise) => {
        const detail = generated.detail as { eventBody: Record<string, unknown> };
        const event = roundTrip({
          ...generated,
          detail: { ...detail, eventBody: { ...detail.eventBody, id: bodyId } },
        });
        const noisy = roundTrip({
          ...event,
          id: randomUUID(),
          detail: { ...(event.detail as object), unrelated: noise },
        });
        const otherId = roundTrip({
          ...event,
          detail: { ...detail, eventBody: { ...detail.eventBody, id: `${bodyId}-x` } },
        });

        expect(keyOrInvalid(noisy, 'envelope', 'rules')).toBe(keyOrInvalid(event, 'envelope', 'rules'));
        expect(keyOrInvalid(otherId, 'envelope', 'rules')).not.toBe(keyOrInvalid(event, 'envelope', 'rules'));
      }),
      { numRuns: 100 },
    );
  });

  it('REPLAY_POLICY=reprocess: equal replays of one replay-name share a key, other replays do not', () => {
    fc.assert(
      fc.property(genesysEvent, fc.integer(), fc.string({ minLength: 1 }), (event, seed, replay) => {
        const reprocess = strategy('content', 'reprocess');
        const keyOf = (body: unknown) => reprocess(validateEvent(body, 'envelope'), {}).key;
        const replayed = { ...event, 'replay-name': replay };

        expect(keyOf(reshuffled(replayed, seed))).toBe(keyOf(replayed));
        expect(keyOf({ ...replayed, 'replay-name': `${replay}-2` })).not.toBe(keyOf(replayed));
      }),
      { numRuns: 100 },
    );
  });
});
