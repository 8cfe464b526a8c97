import fc from 'fast-check';
import { seededRandom } from './seeded-random.js';

/**
 * fast-check arbitraries for hostile and for equal-but-reshuffled events. Values go through JSON text and
 * JSON.parse, as a body does, so a `__proto__` key is an own property exactly as a parser makes it.
 */

/** Keys an attacker or an accident would pick, besides any string. */
const awkwardKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'id',
  'source',
  'detail',
  'detail-type',
  'metadata',
  'timestamp',
  'eventBody',
  '',
  '.',
  '0',
  '\u0000',
  '\ud800',
);
export const jsonKey = fc.oneof(fc.string(), awkwardKey, fc.constant('length'));

const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string(),
  fc.string({ unit: 'binary' }),
);

/** Any JSON value, built from objects whose keys include the awkward ones. */
export const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(jsonKey, tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** A JSON object value (what `detail` and `eventBody` must be). */
export const jsonObject = fc.dictionary(jsonKey, jsonValue, { maxKeys: 6 });

/** The value as a body: through JSON text, then parsed. */
export function roundTrip<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const GENESYS_SOURCE = fc
  .tuple(
    fc.uuid(),
    fc.stringMatching(/^[a-z0-9-]{1,20}$/),
    fc.constantFrom('genesys.com', 'genesys.com.test'),
  )
  .map(([org, name, host]) => `aws.partner/${host}/cloud/${org}/${name}`);

const isoTime = fc
  .integer({ min: 946_684_800_000, max: 4_102_444_800_000 })
  .map((ms) => new Date(ms).toISOString());

/** A Genesys notification as EventBridge delivers it, with arbitrary event bodies and extra fields. */
export const genesysEvent = fc
  .record({
    version: fc.constant('0'),
    id: fc.uuid(),
    'detail-type': fc.string({ minLength: 1, maxLength: 60 }),
    source: GENESYS_SOURCE,
    account: fc.stringMatching(/^\d{12}$/),
    time: isoTime,
    region: fc.constantFrom('us-east-1', 'eu-west-1', 'ap-southeast-2'),
    resources: fc.array(fc.string(), { maxLength: 3 }),
    detail: fc.record({
      topicName: fc.string({ minLength: 1, maxLength: 60 }),
      version: fc.constant('2'),
      eventBody: jsonObject,
      metadata: fc.record({ CorrelationId: fc.uuid() }),
      timestamp: isoTime,
    }),
    extra: jsonObject,
  })
  .map(({ extra, ...event }) => roundTrip({ ...extra, ...event }) as Record<string, unknown>);

/** Any EventBridge-shaped event, Genesys or not, sometimes wrong in one field. */
export const envelopeLike = fc
  .record({
    version: fc.oneof(fc.constant('0'), jsonValue),
    id: fc.oneof(fc.uuid(), jsonValue),
    'detail-type': fc.oneof(fc.string(), jsonValue),
    source: fc.oneof(GENESYS_SOURCE, fc.string(), jsonValue),
    account: fc.oneof(fc.string(), jsonValue),
    time: fc.oneof(isoTime, fc.string(), jsonValue),
    region: fc.oneof(fc.string(), jsonValue),
    resources: fc.oneof(fc.array(fc.string()), jsonValue),
    detail: fc.oneof(jsonObject, jsonValue),
    'replay-name': fc.option(fc.oneof(fc.string(), jsonValue), { nil: undefined }),
  })
  .map((event) => roundTrip(event) as Record<string, unknown>);

/**
 * The same JSON value with every object's keys in another order. Object.fromEntries keeps `__proto__` an own
 * property, as JSON.parse makes it. (Integer-like keys always come first in JS; the rest really move.)
 */
export function reshuffled<T>(value: T, seed: number): T {
  const next = seededRandom(seed);
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node).map(([key, child]) => [key, walk(child)] as const);
    for (let index = entries.length - 1; index > 0; index--) {
      const other = Math.floor(next() * (index + 1));
      [entries[index], entries[other]] = [
        entries[other] as (typeof entries)[number],
        entries[index] as (typeof entries)[number],
      ];
    }
    return Object.fromEntries(entries);
  };
  return walk(value) as T;
}
