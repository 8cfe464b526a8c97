import canonicalizeModule from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ValidatedEvent, validateEvent } from '../../src/events/envelope.js';
import { createKeyStrategy, sha256Base64Url } from '../../src/events/keys.js';
import { omitPaths } from '../../src/events/omit-paths.js';
import { parsePath } from '../../src/events/paths.js';
import { genesysEvent, jsonKey, jsonObject, roundTrip } from '../helpers/arbitraries.js';
import { loadSample, SAMPLE_FILES } from '../helpers/samples.js';

// canonicalize is CommonJS whose typings declare an ES default export; under NodeNext the import is the
// function itself, so the type is restated here.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** How content keys were first computed: the reference every key must match byte for byte. */
function canonicalizeOrNull(value: unknown): string {
  return canonicalize(value) ?? 'null';
}

/** A copy of the content strategy as it was, view and all, so stored keys can be checked against it. */
function oldContentView(event: ValidatedEvent): unknown {
  if (event.kind === 'any') return event.body;
  const { envelope, genesys } = event;
  return {
    source: envelope.source,
    'detail-type': envelope['detail-type'],
    detail: genesys ? omitPaths(envelope.detail, [['metadata'], ['timestamp']]) : envelope.detail,
  };
}

function oldContentKey(event: ValidatedEvent, ignoreFields: readonly string[]): string {
  const ignorePaths = ignoreFields.map(parsePath);
  return sha256Base64Url(canonicalizeOrNull(omitPaths(oldContentView(event), ignorePaths)));
}

/** Strings with every kind of code unit: lone surrogates, control characters, quotes and backslashes. */
const awkwardString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\u0000', '\u001f', '\u007f', '\ud800', '\udc00', 'a', 'é') }),
);

/** JSON values whose keys are few, so that paths drawn from the same names often hit. */
const segment = fc.constantFrom(
  'a',
  'b',
  '__proto__',
  'metadata',
  'timestamp',
  '0',
  '1',
  '01',
  '-0',
  '1.0',
  'length',
);
const narrowJson: fc.Arbitrary<unknown> = fc
  .letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.integer(),
      awkwardString,
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(segment, tie('value'), { maxKeys: 4, noNullPrototype: true }),
    ),
  }))
  .value.map(roundTrip);

/** Whether the configuration would take `field` (it trims each entry, and refuses what is not a path at start). */
function isConfigurablePath(field: string): boolean {
  if (field !== field.trim()) return false;
  try {
    parsePath(field);
    return true;
  } catch {
    return false;
  }
}

/** DEDUP_IGNORE_FIELDS as an operator writes them: some hit an event's fields, some do not. */
const ignoreField = fc.oneof(
  fc
    .array(
      fc.oneof(
        fc.constantFrom('detail', 'eventBody', 'metadata', 'timestamp', 'topicName', 'source', 'detail-type'),
        segment,
        jsonKey.filter((key) => key !== '' && !key.includes('.')),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((segments) => segments.join('.'))
    .filter(isConfigurablePath),
  fc
    .array(segment, { minLength: 1, maxLength: 3 })
    .map((segments) => ['detail', 'eventBody', ...segments].join('.')),
);
const ignoreFields = fc.array(ignoreField, { maxLength: 4 });

/** A Genesys event whose event body has few names, so that ignored fields often hit it. */
const genesysEventWithNarrowBody = fc
  .tuple(genesysEvent, fc.dictionary(segment, narrowJson, { maxKeys: 4, noNullPrototype: true }))
  .map(([event, eventBody]) => roundTrip({ ...event, detail: { ...(event.detail as object), eventBody } }));

/** Envelope events, Genesys or not, including the samples. */
const envelopeEvent = fc.oneof(
  genesysEvent,
  genesysEvent.map((event) => ({ ...event, source: 'custom.app' })),
  genesysEventWithNarrowBody,
  genesysEventWithNarrowBody.map((event) => ({ ...event, source: 'custom.app' })),
  fc.constantFrom(...SAMPLE_FILES).map(loadSample),
);

describe('content key', () => {
  it('is the key content keys were first computed as, for envelope events', () => {
    fc.assert(
      fc.property(envelopeEvent, ignoreFields, (body, ignored) => {
        const event = validateEvent(body, 'envelope');
        const strategy = createKeyStrategy({ strategy: 'content', ttlSeconds: 60, ignoreFields: ignored });

        const key = strategy(event, {}).key;

        expect(key).toBe(oldContentKey(event, ignored));
      }),
      { numRuns: 2000 },
    );
  });

  it('is the key content keys were first computed as, with EVENT_SCHEMA=any', () => {
    fc.assert(
      fc.property(fc.oneof(jsonObject.map(roundTrip), envelopeEvent), ignoreFields, (body, ignored) => {
        const event = validateEvent(body, 'any');
        const strategy = createKeyStrategy({ strategy: 'content', ttlSeconds: 60, ignoreFields: ignored });

        const key = strategy(event, {}).key;

        expect(key).toBe(oldContentKey(event, ignored));
      }),
      { numRuns: 1000 },
    );
  });
});
