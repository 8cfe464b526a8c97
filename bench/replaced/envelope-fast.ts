import { z } from 'zod';
import {
  type EventEnvelope,
  type EventSchemaMode,
  envelopeSchema,
  isGenesysSource,
  type ValidatedEvent,
  validateEvent,
} from '../../src/events/envelope.js';

/*
 * Removed from src/events/envelope.ts on 2026-12-04: the bench (bench/replacements.ts) measured that it saved
 * 2.9 % (a full run), 4.2 % (median of three runs) and 6.3 % (one standalone run) of a new event's CPU: not the
 * 5 % a hand-written replacement of a library must save (bench/results/replacements-2026-12-04.md). Kept here,
 * unused by the receiver, only so that `npm run bench -- --replacements` can measure zod against it again. Its
 * own comments follow.
 */

/*
 * The fast path. zod costs 5–12 µs per event; these plain functions check the same rules in about 0.5 µs, and
 * zod runs only when they say "not valid", to write the 400's issues (or to accept what they were too strict
 * for). So they must never accept what zod refuses, and what they accept must equal zod's output, key order
 * included: the content digest and the sinks read the envelope. A property test proves it
 * (test/unit/envelope-fast-path.property.test.ts, removed with it) for every kind of value JSON.parse makes and some it cannot;
 * only a getter or a proxy, which it cannot make, could tell the two apart (each reads it its own way).
 * zod's own pieces are reused where a rule is not trivial: its ISO date-time pattern and its plain-object test.
 */

/** The fields the envelope schema declares; every other key is copied as an unknown field. */
const ENVELOPE_FIELDS: ReadonlySet<string> = new Set(Object.keys(envelopeSchema.shape));

/** The pattern of `z.iso.datetime({ offset: true })`, the only check that schema runs on a string. */
const ISO_DATE_TIME: RegExp = (() => {
  const pattern = envelopeSchema.shape.time._zod.def.pattern;
  if (!(pattern instanceof RegExp) || pattern.global || pattern.sticky) {
    throw new Error('zod no longer exposes the pattern of z.iso.datetime: update the envelope fast path');
  }
  return pattern;
})();

/** What z.record() accepts as an object (z.object() only wants a non-array object); JSON.parse's always pass. */
const isZodRecord = z.core.util.isPlainObject;

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** An object with an enumerable own symbol key, which z.record(z.string(), …) refuses (JSON never has one). */
function hasEnumerableSymbol(value: object): boolean {
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, symbol)) return true;
  }
  return false;
}

/** A record accepted by z.record(z.string(), z.unknown()), as that schema outputs it: a copy without `__proto__`. */
function copyRecord(record: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    if (key !== '__proto__') copy[key] = record[key];
  }
  return copy;
}

/**
 * envelopeSchema's output for `body`, or undefined when `body` may not be valid (then zod decides). Fields are
 * read as zod reads them (`body[key]`, inherited ones too), and the output is built as zod builds it: the
 * declared fields in the schema's order, `replay-name` only when present, then every other enumerable key but
 * `__proto__` in `for…in` order; `resources` and `detail` are copies.
 */
export function parseEnvelopeFast(body: Record<string, unknown>): EventEnvelope | undefined {
  const { version, id, source, account, time, region, resources, detail } = body;
  const detailType = body['detail-type'];
  const replayName = body['replay-name'];
  if (
    typeof version !== 'string' ||
    !isNonEmptyString(id) ||
    !isNonEmptyString(detailType) ||
    !isNonEmptyString(source) ||
    typeof account !== 'string' ||
    typeof time !== 'string' ||
    !ISO_DATE_TIME.test(time) ||
    typeof region !== 'string' ||
    !Array.isArray(resources) ||
    !isZodRecord(detail) ||
    hasEnumerableSymbol(detail) ||
    (replayName !== undefined && !isNonEmptyString(replayName))
  ) {
    return undefined;
  }
  const resourcesCopy: string[] = new Array(resources.length);
  for (let index = 0; index < resources.length; index++) {
    const resource: unknown = resources[index];
    if (typeof resource !== 'string') return undefined;
    resourcesCopy[index] = resource;
  }
  const envelope: EventEnvelope = {
    version,
    id,
    'detail-type': detailType,
    source,
    account,
    time,
    region,
    resources: resourcesCopy,
    detail: copyRecord(detail),
  };
  if ('replay-name' in body) envelope['replay-name'] = replayName;
  for (const key in body) {
    if (!ENVELOPE_FIELDS.has(key) && key !== '__proto__') envelope[key] = body[key];
  }
  return envelope;
}

/** Whether genesysDetailSchema accepts `detail` (its output is not used, only its verdict). */
export function isGenesysDetailFast(detail: Record<string, unknown>): boolean {
  const { topicName, version, eventBody, metadata, timestamp } = detail;
  if (!isNonEmptyString(topicName) || typeof version !== 'string') return false;
  if (!isZodRecord(eventBody) || hasEnumerableSymbol(eventBody)) return false;
  if (timestamp !== undefined && typeof timestamp !== 'string') return false;
  if (metadata === undefined) return true;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return false;
  const correlationId: unknown = (metadata as Record<string, unknown>).CorrelationId;
  return correlationId === undefined || typeof correlationId === 'string';
}

/**
 * A fast path's answer, or undefined if it threw: only a getter or a proxy can make it throw, never a JSON
 * value, and then zod decides (and `safely` turns its throw into a 400).
 */
function fast<T, R>(check: (input: T) => R, input: T): R | undefined {
  try {
    return check(input);
  } catch {
    return undefined;
  }
}

/** validateEvent as it was with the fast path: zod only where the fast path says no (or for the 400's issues). */
export function validateEventFast(body: unknown, mode: EventSchemaMode): ValidatedEvent {
  if (mode === 'envelope' && typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const envelope = fast(parseEnvelopeFast, body as Record<string, unknown>);
    if (envelope !== undefined) {
      const genesys = isGenesysSource(envelope.source);
      if (!genesys || fast(isGenesysDetailFast, envelope.detail) === true) {
        return { kind: 'envelope', body: body as Record<string, unknown>, envelope, genesys };
      }
    }
  }
  return validateEvent(body, mode);
}
