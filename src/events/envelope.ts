import { z } from 'zod';
import { InvalidEventError, type ValidationIssue } from '../core/errors.js';

/*
 * Hand-written replacement kept by measurement (a hand-written replacement of a library stays only where the
 * bench shows it saves at least 5 % of a request's CPU): the validation fast path below (parseEnvelopeFast,
 * isGenesysDetailFast) instead of zod on every request. `npm run bench -- --profile` on 2026-12-04, the receiver
 * under load (log sink): validateEvent took 10.4 % of the CPU for new events and 10.3 % for retries with zod on
 * every request, 1.7 % and 1.7 % with the fast path: it saves 8.6 % of a request's CPU
 * (bench/results/profile-2026-12-04.md; 6.7 % → 1.1 % in the profiles of 2026-11-27 and 11-28). The isolated
 * timing of `npm run bench -- --replacements` puts it lower and spread (2.9–6.3 % the same day,
 * bench/results/replacements-2026-12-04.md): it leaves out the allocation and GC that zod's work costs a loaded
 * receiver.
 */

/**
 * The EventBridge event as an API destination posts it by default (no input transformer), with the field
 * names EventBridge really uses: `detail-type`, not `detailType`.
 * https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
 * Unknown fields are allowed and kept: the sink receives the body exactly as it was sent.
 */
/**
 * A non-empty string. `.min(1)` would read `length` from a non-string too (zod 4 runs length checks before
 * reporting the type), so `{"length": {"toString": 0}}` threw a TypeError; a refinement runs only on strings.
 */
export const nonEmptyString = z
  .string()
  .refine((value) => value.length > 0, { message: 'must not be empty' });

export const envelopeSchema = z.looseObject({
  version: z.string(),
  id: nonEmptyString,
  'detail-type': nonEmptyString,
  source: nonEmptyString,
  account: z.string(),
  time: z.iso.datetime({ offset: true }),
  region: z.string(),
  resources: z.array(z.string()),
  detail: z.record(z.string(), z.unknown()),
  /** Set by EventBridge on events replayed from an archive. */
  'replay-name': nonEmptyString.optional(),
});

export type EventEnvelope = z.infer<typeof envelopeSchema>;

/**
 * Genesys Cloud's notification inside `detail`, as its EventBridge integration publishes it. `metadata` and
 * `timestamp` differ between two publications of one notification, so they are optional here and left out of
 * the content digest. https://developer.genesys.cloud/notificationsalerts/notifications/event-bridge
 */
export const genesysDetailSchema = z.looseObject({
  topicName: nonEmptyString,
  version: z.string(),
  eventBody: z.record(z.string(), z.unknown()),
  metadata: z.looseObject({ CorrelationId: z.string().optional() }).optional(),
  timestamp: z.string().optional(),
});

export type GenesysDetail = z.infer<typeof genesysDetailSchema>;

/** `aws.partner/genesys.com/cloud/<org>/<name>`, or `genesys.com.test` from Genesys' test environment. */
export const GENESYS_SOURCE = /^aws\.partner\/genesys\.com(?:\.[a-z0-9-]+)?\/cloud\//;

export function isGenesysSource(source: string): boolean {
  return GENESYS_SOURCE.test(source);
}

/** A validated event: `body` is the request body as sent, unknown fields included. */
export type ValidatedEvent =
  | { kind: 'envelope'; body: Record<string, unknown>; envelope: EventEnvelope; genesys: boolean }
  | { kind: 'any'; body: Record<string, unknown> };

export type EventSchemaMode = 'envelope' | 'any';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Zod's messages, but "is required" for a missing field: the most common problem deserves the plainest words. */
const parseOptions = {
  error: (issue: z.core.$ZodRawIssue) =>
    issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined,
};

function toIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.'),
    message: issue.message,
  }));
}

/**
 * Runs a zod parse, turning anything it throws (rather than reports) into an InvalidEventError: hostile
 * input must get a 400, never a 500 that EventBridge would retry for a day.
 */
function safely<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new InvalidEventError([
      { path: '', message: `the event cannot be validated: ${(error as Error).message}` },
    ]);
  }
}

function parseEnvelopeWithZod(body: Record<string, unknown>): EventEnvelope {
  const parsed = safely(() => envelopeSchema.safeParse(body, parseOptions));
  if (!parsed.success) throw new InvalidEventError(toIssues(parsed.error));
  return parsed.data;
}

function checkGenesysDetailWithZod(detail: Record<string, unknown>): void {
  const parsed = safely(() => genesysDetailSchema.safeParse(detail, parseOptions));
  if (!parsed.success) throw new InvalidEventError(toIssues(parsed.error, ['detail']));
}

/*
 * The fast path. zod costs 5–12 µs per event; these plain functions check the same rules in about 0.5 µs, and
 * zod runs only when they say "not valid", to write the 400's issues (or to accept what they were too strict
 * for). So they must never accept what zod refuses, and what they accept must equal zod's output, key order
 * included: the content digest and the sinks read the envelope. A property test proves it
 * (test/unit/envelope-fast-path.property.test.ts) for every kind of value JSON.parse makes and some it cannot;
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

export function validateEvent(body: unknown, mode: EventSchemaMode): ValidatedEvent {
  if (!isPlainObject(body)) {
    throw new InvalidEventError([{ path: '', message: 'the body must be a JSON object' }]);
  }
  if (mode === 'any') return { kind: 'any', body };

  const envelope = fast(parseEnvelopeFast, body) ?? parseEnvelopeWithZod(body);
  const genesys = isGenesysSource(envelope.source);
  if (genesys && fast(isGenesysDetailFast, envelope.detail) !== true) {
    checkGenesysDetailWithZod(envelope.detail);
  }
  return { kind: 'envelope', body, envelope, genesys };
}

/**
 * validateEvent with zod alone, as it was before the fast path: the reference the property test holds
 * validateEvent to. Not for production use: it is the slow path.
 */
export function validateEventWithZod(body: unknown, mode: EventSchemaMode): ValidatedEvent {
  if (!isPlainObject(body)) {
    throw new InvalidEventError([{ path: '', message: 'the body must be a JSON object' }]);
  }
  if (mode === 'any') return { kind: 'any', body };

  const envelope = parseEnvelopeWithZod(body);
  const genesys = isGenesysSource(envelope.source);
  if (genesys) checkGenesysDetailWithZod(envelope.detail);
  return { kind: 'envelope', body, envelope, genesys };
}
