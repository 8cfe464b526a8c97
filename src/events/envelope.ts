import { z } from 'zod';
import { InvalidEventError, type ValidationIssue } from '../core/errors.js';

/*
 * Validation is zod's, on every request. A hand-written fast path (parseEnvelopeFast, isGenesysDetailFast) ran
 * before it from 2026-11-28 to 2026-12-04; it stays only where the bench shows it saves at least 5 % of a request's
 * CPU, and `npm run bench -- --replacements` measured 2.9 % (a full run), 4.2 % (median of three) and 6.3 % (one
 * standalone run) on 2026-12-04: under the line, so it went. It is kept, unused, in bench/replaced/envelope-fast.ts
 * for the bench to compare again (bench/results/replacements-2026-12-04.md).
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
const nonEmptyString = z.string().refine((value) => value.length > 0, { message: 'must not be empty' });

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
const GENESYS_SOURCE = /^aws\.partner\/genesys\.com(?:\.[a-z0-9-]+)?\/cloud\//;

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

/**
 * The envelope's checks, by zod: the body must be an EventBridge event, and a Genesys one's `detail` a Genesys
 * notification. Unknown fields are kept (`body` is the body as sent).
 */
export function validateEvent(body: unknown, mode: EventSchemaMode): ValidatedEvent {
  if (!isPlainObject(body)) {
    throw new InvalidEventError([{ path: '', message: 'the body must be a JSON object' }]);
  }
  if (mode === 'any') return { kind: 'any', body };

  const envelope = parseEnvelopeWithZod(body);
  const genesys = isGenesysSource(envelope.source);
  if (genesys) checkGenesysDetailWithZod(envelope.detail);
  return { kind: 'envelope', body, envelope, genesys };
}
