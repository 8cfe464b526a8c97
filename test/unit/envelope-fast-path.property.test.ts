import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../src/core/errors.js';
import {
  type EventSchemaMode,
  envelopeSchema,
  genesysDetailSchema,
  isGenesysDetailFast,
  parseEnvelopeFast,
  type ValidatedEvent,
  validateEvent,
  validateEventWithZod,
} from '../../src/events/envelope.js';
import {
  envelopeLike,
  genesysEvent,
  jsonKey,
  jsonObject,
  jsonValue,
  reshuffled,
} from '../helpers/arbitraries.js';
import { loadSample, SAMPLE_FILES } from '../helpers/samples.js';

/**
 * The envelope fast path (src/events/envelope.ts) against zod alone: validateEvent must give, for every input,
 * exactly what validateEventWithZod gives: the same envelope (key order included, since the content digest and
 * the sinks read it) or the same issues.
 */

/** A field left out of the generated object. */
const ABSENT = Symbol('absent');
type Field = unknown | typeof ABSENT;

/**
 * Mostly the valid value (about one field in ten is wrong, so about half the envelopes are valid), sometimes
 * absent, sometimes one of the near misses or any JSON value.
 */
function field(valid: fc.Arbitrary<unknown>, ...near: fc.Arbitrary<unknown>[]): fc.Arbitrary<Field> {
  return fc.oneof(
    { weight: 24, arbitrary: valid },
    { weight: 1, arbitrary: fc.constant(ABSENT) },
    { weight: 2, arbitrary: fc.oneof(jsonValue, ...near) },
  );
}

/** An optional field: absent or valid, sometimes wrong. */
function optionalField(valid: fc.Arbitrary<unknown>, ...near: fc.Arbitrary<unknown>[]): fc.Arbitrary<Field> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(ABSENT) },
    { weight: 12, arbitrary: valid },
    { weight: 2, arbitrary: fc.oneof(jsonValue, ...near) },
  );
}

/**
 * An object of the generated fields (absent ones left out) and extra keys, in a shuffled order, through JSON
 * text: Object.fromEntries and JSON.parse keep a `__proto__` key an own property, as a body's parser makes it.
 */
function objectOf(
  fields: Record<string, Field>,
  extra: Record<string, unknown>,
  seed: number,
): Record<string, unknown> {
  const entries = [
    ...Object.entries(fields).filter(([, value]) => value !== ABSENT),
    ...Object.entries(extra),
  ];
  const built = Object.fromEntries(entries);
  return reshuffled(JSON.parse(JSON.stringify(built)) as Record<string, unknown>, seed);
}

const nonEmpty = fc.string({ minLength: 1, maxLength: 20 });
const empty = fc.constant('');
const genesysSource = fc
  .tuple(
    fc.uuid(),
    fc.stringMatching(/^[a-z0-9-]{1,12}$/),
    fc.constantFrom('genesys.com', 'genesys.com.test'),
  )
  .map(([org, name, host]) => `aws.partner/${host}/cloud/${org}/${name}`);

/** ISO instants as EventBridge writes them, with and without milliseconds, in Z or with an offset. */
const isoTime = fc
  .tuple(
    fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_000 }),
    fc.constantFrom('Z', '+00:00', '+05:30', '-12:00', '+23:59'),
    fc.boolean(),
  )
  .map(([ms, zone, millis]) => {
    const text = new Date(ms).toISOString();
    return `${millis ? text.slice(0, -1) : text.slice(0, 19)}${zone}`;
  });
/** Times just outside or inside what z.iso.datetime({ offset: true }) accepts. */
const nearTime = fc.oneof(
  fc.constantFrom(
    '2024-02-29T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2000-02-29T12:00:00Z',
    '1900-02-29T12:00:00Z',
    '2024-04-31T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T23:60:00Z',
    '2024-01-01T00:00Z',
    '2024-01-01 00:00:00Z',
    '2024-01-01T00:00:00',
    '2024-01-01t00:00:00z',
    '2024-01-01T00:00:00+0100',
    '2024-01-01T00:00:00+24:00',
    '2024-01-01T00:00:00.Z',
    '2024-01-01T00:00:00.123456789-05:30',
    '2024-01-01T00:00:00Z\n',
    ' 2024-01-01T00:00:00Z',
    '+002024-01-01T00:00:00Z',
    '2024-1-01T00:00:00Z',
  ),
  fc.string(),
  isoTime.map((time) => time.replace('T', ' ')),
);

const metadata = optionalField(
  fc.oneof(fc.record({ CorrelationId: fc.uuid() }), fc.constant({}), fc.record({ other: jsonValue })),
  fc.record({ CorrelationId: jsonValue }),
  fc.array(jsonValue, { maxLength: 2 }),
);

/** A Genesys notification's `detail`, sometimes wrong in a field or more. */
const genesysDetail = fc
  .record({
    topicName: field(nonEmpty, empty),
    version: field(fc.constantFrom('2', ''), fc.integer()),
    eventBody: field(jsonObject, fc.array(jsonValue, { maxLength: 2 })),
    metadata,
    timestamp: optionalField(isoTime, fc.integer()),
    extra: fc.dictionary(jsonKey, jsonValue, { maxKeys: 3 }),
    seed: fc.integer(),
  })
  .map(({ extra, seed, ...fields }) => objectOf(fields, extra, seed));

/** EventBridge envelopes, valid or near it: a field dropped, of a wrong type, empty, extra keys, nested junk. */
const nearValidEnvelope = fc
  .record({
    version: field(fc.constantFrom('0', ''), fc.integer()),
    id: field(fc.uuid(), empty),
    'detail-type': field(nonEmpty, empty),
    source: field(fc.oneof(genesysSource, nonEmpty), empty, fc.constant('aws.partner/genesys.com/cloud/')),
    account: field(fc.stringMatching(/^\d{12}$/), empty, fc.integer()),
    time: field(isoTime, nearTime),
    region: field(fc.constantFrom('us-east-1', 'eu-west-1', ''), fc.constant(null)),
    resources: field(
      fc.array(fc.string(), { maxLength: 3 }),
      fc.array(fc.oneof(fc.string(), jsonValue), { minLength: 1, maxLength: 3 }),
    ),
    detail: field(
      fc.oneof({ weight: 3, arbitrary: genesysDetail }, { weight: 1, arbitrary: jsonObject }),
      fc.array(jsonValue, { maxLength: 2 }),
    ),
    'replay-name': optionalField(nonEmpty, empty),
    extra: fc.dictionary(jsonKey, jsonValue, { maxKeys: 4 }),
    seed: fc.integer(),
  })
  .map(({ extra, seed, ...fields }) => objectOf(fields, extra, seed));

/** Values JSON.parse never makes but a caller of validateEvent could pass; a factory, so each run has fresh ones. */
const exoticValue = fc.constantFrom<() => unknown>(
  () => Object.assign(Object.create(null) as object, { a: 1 }),
  () => new Date(0),
  () => new Map([['a', 1]]),
  () => new (class Custom {})(),
  () => ({ constructor: 'not a function', a: 1 }),
  () => ({ [Symbol('enumerable')]: 1, a: 1 }),
  () => Object.defineProperty({ a: 1 }, Symbol('hidden'), { value: 1, enumerable: false }),
  () => Object.defineProperty({ a: 1 }, 'hidden', { value: 1, enumerable: false }),
  // biome-ignore lint/suspicious/noSparseArray: a hole is what z.array reads as undefined.
  () => [, 'a'],
  () => ['a', undefined],
  () => undefined,
  () => Symbol('value'),
  () => 1n,
  () => () => 'function',
);

/** A near-valid envelope with one field of it, or of its `detail`, replaced by a value JSON cannot hold. */
const exoticEnvelope = fc
  .tuple(
    nearValidEnvelope,
    fc.constantFrom(
      'version',
      'id',
      'time',
      'resources',
      'detail',
      'replay-name',
      'x-extra',
      'detail.eventBody',
      'detail.metadata',
      'detail.timestamp',
      'detail.x-extra',
    ),
    exoticValue,
  )
  .map(([body, path, make]) => {
    const [head, tail] = path.split('.') as [string, string | undefined];
    if (tail === undefined) return { ...body, [head]: make() };
    const detail = body.detail;
    const inner = typeof detail === 'object' && detail !== null ? detail : {};
    return { ...body, detail: { ...inner, [tail]: make() } };
  });

/** A near-valid envelope with some of its fields inherited from its prototype, as `body[key]` and `for…in` see them. */
const inheritedEnvelope = fc
  .tuple(nearValidEnvelope, fc.infiniteStream(fc.boolean()))
  .map(([body, inherit]) => {
    const prototype = {};
    const own: Record<string, unknown> = Object.create(prototype) as Record<string, unknown>;
    for (const [key, value] of Object.entries(body)) {
      const descriptor = { value, enumerable: true, writable: true, configurable: true };
      Object.defineProperty(inherit.next().value ? prototype : own, key, descriptor);
    }
    return own;
  });

type Outcome =
  | { accepted: true; event: ValidatedEvent; keyOrder: unknown[] }
  | { accepted: false; thrown: string; issues?: unknown };

/** Own keys of the envelope and of its detail, in order: toStrictEqual does not compare order. */
function keyOrder(event: ValidatedEvent): unknown[] {
  if (event.kind === 'any') return [];
  return [Reflect.ownKeys(event.envelope), Reflect.ownKeys(event.envelope.detail)];
}

function outcomeOf(validate: () => ValidatedEvent): Outcome {
  try {
    const event = validate();
    return { accepted: true, event, keyOrder: keyOrder(event) };
  } catch (error) {
    if (error instanceof InvalidEventError)
      return { accepted: false, thrown: error.name, issues: error.issues };
    return { accepted: false, thrown: String(error) };
  }
}

function expectSameAsZod(body: unknown, mode: EventSchemaMode = 'envelope'): Outcome {
  // Arrange: the reference first, so a fast path that mutated its input could not hide it.
  const expected = outcomeOf(() => validateEventWithZod(body, mode));

  // Act
  const actual = outcomeOf(() => validateEvent(body, mode));

  // Assert
  expect(actual).toStrictEqual(expected);
  if (actual.accepted && expected.accepted) {
    expect(actual.event.body).toBe(body);
    if (actual.event.kind === 'envelope' && expected.event.kind === 'envelope') {
      // zod's output shares no container it parsed with the input; neither may the fast path's.
      const { detail, resources } = actual.event.body;
      expect(actual.event.envelope.detail === detail).toBe(expected.event.envelope.detail === detail);
      expect(actual.event.envelope.resources === resources).toBe(
        expected.event.envelope.resources === resources,
      );
    }
  }
  return actual;
}

const RUNS = 3000;

describe('envelope fast path: validateEvent gives exactly what zod alone gives', () => {
  it.each(SAMPLE_FILES)('accepts the sample %s on the fast path, with zod’s output', (file) => {
    const body = loadSample(file);

    const outcome = expectSameAsZod(body);
    const envelope = parseEnvelopeFast(body);

    expect(outcome.accepted).toBe(true);
    expect(envelope).toStrictEqual(envelopeSchema.parse(body));
    expect(envelope && isGenesysDetailFast(envelope.detail)).toBe(true);
  });

  it('for near-valid envelopes: fields dropped, of a wrong type, empty, extra and nested junk', () => {
    fc.assert(
      fc.property(nearValidEnvelope, (body) => {
        expectSameAsZod(body);
      }),
      { numRuns: RUNS },
    );
  });

  it('for any JSON value and the hostile-input generators, in both schema modes', () => {
    fc.assert(
      fc.property(
        fc.oneof(jsonValue, envelopeLike, genesysEvent),
        fc.constantFrom('envelope', 'any'),
        (body, mode) => {
          expectSameAsZod(body, mode as EventSchemaMode);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('for values JSON.parse cannot make: null prototypes, class instances, symbols, holes, inherited fields', () => {
    fc.assert(
      fc.property(fc.oneof(exoticEnvelope, inheritedEnvelope), (body) => {
        expectSameAsZod(body);
      }),
      { numRuns: 1000 },
    );
  });

  it('the fast path accepts only what zod accepts, and outputs what zod outputs, key order included', () => {
    fc.assert(
      fc.property(fc.oneof(nearValidEnvelope, exoticEnvelope, inheritedEnvelope), (body) => {
        const fast = parseEnvelopeFast(body);
        // Not fc.pre: most exotic bodies are refused, and the last test shows that enough are accepted.
        if (fast === undefined) return;

        const parsed = envelopeSchema.safeParse(body);

        expect(parsed.success).toBe(true);
        expect(fast).toStrictEqual(parsed.data);
        expect(Reflect.ownKeys(fast ?? {})).toEqual(Reflect.ownKeys(parsed.data ?? {}));
      }),
      { numRuns: RUNS },
    );
  });

  it('the Genesys detail check agrees with genesysDetailSchema both ways', () => {
    const detailLike = fc.oneof(
      genesysDetail,
      exoticEnvelope.map((body) => body.detail),
    );
    fc.assert(
      fc.property(detailLike, (detail) => {
        fc.pre(typeof detail === 'object' && detail !== null && !Array.isArray(detail));
        const record = detail as Record<string, unknown>;

        expect(isGenesysDetailFast(record)).toBe(genesysDetailSchema.safeParse(record).success);
      }),
      { numRuns: RUNS },
    );
  });

  it('generates inputs on both sides of the fast path, so the properties above are not vacuous', () => {
    const bodies = fc.sample(nearValidEnvelope, { numRuns: 1000, seed: 7 });

    const envelopes = bodies.map((body) => parseEnvelopeFast(body));
    const accepted = envelopes.filter((envelope) => envelope !== undefined);
    const genesysChecked = accepted.filter((envelope) => /genesys\.com/.test(envelope.source));
    const genesysValid = genesysChecked.filter((envelope) => isGenesysDetailFast(envelope.detail));

    expect(accepted.length).toBeGreaterThan(100);
    expect(bodies.length - accepted.length).toBeGreaterThan(100);
    expect(genesysValid.length).toBeGreaterThan(30);
    expect(genesysChecked.length - genesysValid.length).toBeGreaterThan(30);
  });
});
