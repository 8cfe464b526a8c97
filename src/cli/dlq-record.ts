import type { EventObject } from './load-events.js';
import type { SqsMessage } from './sqs.js';

/**
 * What an EventBridge dead-letter message holds.
 *
 * A rule target's dead-letter queue gets the event itself as the message body, exactly as the target would
 * have received it, and the reason in message attributes: ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION,
 * RETRY_ATTEMPTS, RULE_ARN, TARGET_ARN (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
 *
 * A subscriber of a Custom Event Bus (OnFailureConfiguration) writes a JSON record instead: `errorCode`,
 * `errorMessage`, `exhaustedRetryCondition`, `retryAttempts`, `busArn`, `subscriberArn`, `targetArn`, and
 * `failedMessages`, which names the failed events by `eventId` but does not carry them
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-custom-bus-retry.html). Such a record cannot be
 * posted; its events come back by replaying the bus's retained events to a subscriber (eb-custom-bus-replay).
 *
 * A Lambda function's own dead-letter queue (an asynchronous invocation that failed every attempt: the
 * receiver's function throws what a retry may fix) gets the event as the body too, with RequestID (the last
 * invocation's id, which its log lines carry), ErrorCode (a 3-digit HTTP status: 200 when the function itself
 * failed) and ErrorMessage (its first 1 KB) as attributes
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
 *
 * The same function with an SQS on-failure destination (which AWS recommends over a DLQ, same page) gets an
 * invocation record instead: `version`, `timestamp`, `requestContext` (`requestId`, `functionArn`, `condition`:
 * RetriesExhausted or EventAgeExceeded, `approximateInvokeCount`), `requestPayload` (the event), `responseContext`
 * (`statusCode`, `executedVersion`, `functionError`) and `responsePayload` (the error the function threw:
 * `errorType`, `errorMessage`). Its event is the requestPayload.
 */

export interface DlqFailure {
  /**
   * ERROR_CODE (or a subscriber record's errorCode, a function DLQ's ErrorCode, an invocation record's errorType);
   * `NONE` when the message carries none.
   */
  errorCode: string;
  errorMessage?: string;
  /** EXHAUSTED_RETRY_CONDITION, or an invocation record's `condition`. */
  exhaustedRetryCondition?: string;
  retryAttempts?: number;
  /** RULE_ARN, the subscriber's ARN, or the function's ARN (an invocation record). */
  source?: string;
  targetArn?: string;
  /** A Lambda function's DLQ or invocation record: the id of the invocation that failed last. */
  requestId?: string;
}

export type DlqContent =
  /** The body is the event, to post as it is; `event` when it parses as a JSON object. */
  | { kind: 'event'; body: string; event?: EventObject }
  /** A Lambda on-failure destination's invocation record: the event is its requestPayload, `body` its JSON text. */
  | { kind: 'invocation-record'; body: string; event: EventObject }
  /** A subscriber's record: the ids of the failed events, not the events. */
  | { kind: 'subscriber-record'; eventIds: string[] }
  /** An invocation record whose requestPayload is not a JSON object (`payload` says what it is): no event. */
  | { kind: 'invocation-record-without-event'; payload: string };

/** A record that holds an event to hand over (post, invoke with, put on a bus). */
export type SendableContent = Extract<DlqContent, { body: string }>;

export function isSendable(content: DlqContent): content is SendableContent {
  return content.kind === 'event' || content.kind === 'invocation-record';
}

export interface DlqRecord {
  message: SqsMessage;
  failure: DlqFailure;
  content: DlqContent;
}

export const NO_ERROR_CODE = 'NONE';

function asObject(value: unknown): EventObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as EventObject)
    : undefined;
}

function parseObject(text: string): EventObject | undefined {
  try {
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** What a JSON value is, for a reason: `null`, `an array`, `a string` … */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function isSubscriberRecord(value: EventObject): boolean {
  return (
    Array.isArray(value.failedMessages) &&
    (typeof value.subscriberArn === 'string' || typeof value.busArn === 'string') &&
    value['detail-type'] === undefined
  );
}

/**
 * A Lambda invocation record: `version`, an object `requestContext` and `requestPayload`, all at the top level. An
 * EventBridge event has a `version` ("0") but neither of the others there (nor is one with them in its `detail` a
 * record), and a record has no `detail-type`.
 */
function isInvocationRecord(value: EventObject): boolean {
  return (
    typeof value.version === 'string' &&
    asObject(value.requestContext) !== undefined &&
    Object.hasOwn(value, 'requestPayload') &&
    value['detail-type'] === undefined
  );
}

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

function toNumber(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isFinite(number) ? number : undefined;
}

/**
 * Where each DlqFailure field is read from: a rule target's or a function's message attributes, or a subscriber's
 * record.
 */
type FailureFields = Readonly<Partial<Record<keyof DlqFailure, string>> & { errorCode: string }>;

const RULE_TARGET_FIELDS: FailureFields = {
  errorCode: 'ERROR_CODE',
  errorMessage: 'ERROR_MESSAGE',
  exhaustedRetryCondition: 'EXHAUSTED_RETRY_CONDITION',
  retryAttempts: 'RETRY_ATTEMPTS',
  source: 'RULE_ARN',
  targetArn: 'TARGET_ARN',
};

const LAMBDA_FIELDS: FailureFields = {
  errorCode: 'ErrorCode',
  errorMessage: 'ErrorMessage',
  requestId: 'RequestID',
};

const SUBSCRIBER_FIELDS: FailureFields = {
  errorCode: 'errorCode',
  errorMessage: 'errorMessage',
  exhaustedRetryCondition: 'exhaustedRetryCondition',
  retryAttempts: 'retryAttempts',
  source: 'subscriberArn',
  targetArn: 'targetArn',
};

/** The failure's fields that are present (a summary or a JSON line shows only what is known). */
function readFailure(values: Readonly<Record<string, unknown>>, fields: FailureFields): DlqFailure {
  const failure: DlqFailure = { errorCode: text(values[fields.errorCode]) ?? NO_ERROR_CODE };
  const retryAttempts =
    fields.retryAttempts === undefined ? undefined : toNumber(values[fields.retryAttempts]);
  if (retryAttempts !== undefined) failure.retryAttempts = retryAttempts;
  for (const name of [
    'errorMessage',
    'exhaustedRetryCondition',
    'source',
    'targetArn',
    'requestId',
  ] as const) {
    const field = fields[name];
    const value = field === undefined ? undefined : text(values[field]);
    if (value !== undefined) failure[name] = value;
  }
  return failure;
}

/**
 * An invocation record's failure. `errorCode` is the responsePayload's errorType (StoreUnavailableError,
 * Sandbox.Timedout …): what failed, as a rule target's ERROR_CODE says, and what the summary groups by. The
 * `condition` says only which limit ended Lambda's retries, as EXHAUSTED_RETRY_CONDITION does, so it goes there; it
 * is the code too when no errorType was written (EventAgeExceeded before any attempt, a crash whose payload holds
 * only an errorMessage). approximateInvokeCount counts the first invocation, which RETRY_ATTEMPTS does not: 3
 * invocations are Lambda's default 2 retries.
 */
function readInvocationFailure(record: EventObject): DlqFailure {
  const context = asObject(record.requestContext) ?? {};
  const response = asObject(record.responsePayload) ?? {};
  const condition = text(context.condition);
  const failure: DlqFailure = { errorCode: text(response.errorType) ?? condition ?? NO_ERROR_CODE };
  const invocations = toNumber(context.approximateInvokeCount);
  if (invocations !== undefined && invocations >= 1) failure.retryAttempts = invocations - 1;
  const present = {
    errorMessage: text(response.errorMessage),
    exhaustedRetryCondition: condition,
    source: text(context.functionArn),
    requestId: text(context.requestId),
  };
  for (const [name, value] of Object.entries(present) as [keyof typeof present, string | undefined][]) {
    if (value !== undefined) failure[name] = value;
  }
  return failure;
}

/**
 * The event of an invocation record. Its body is JSON.stringify of the parsed requestPayload: the bytes EventBridge
 * sent are gone (Lambda's runtime parsed them before the handler ran, and the record holds the payload as a JSON
 * value). The receiver's content key is the RFC 8785 canonical JSON of the parsed event, whatever its spacing or
 * key order, and the Lambda handler hashed this same parsed value: the key is the one the failed invocation had,
 * so an event that did get through is answered `duplicate`.
 */
function readInvocationContent(record: EventObject): DlqContent {
  const event = asObject(record.requestPayload);
  return event === undefined
    ? { kind: 'invocation-record-without-event', payload: jsonType(record.requestPayload) }
    : { kind: 'invocation-record', body: JSON.stringify(event), event };
}

export function readDlqMessage(message: SqsMessage): DlqRecord {
  const parsed = parseObject(message.body);
  if (parsed !== undefined && isInvocationRecord(parsed)) {
    return { message, failure: readInvocationFailure(parsed), content: readInvocationContent(parsed) };
  }
  if (parsed !== undefined && isSubscriberRecord(parsed)) {
    const eventIds = (parsed.failedMessages as unknown[])
      .map((item) => text((item as Record<string, unknown> | null)?.eventId))
      .filter((id): id is string => id !== undefined);
    return {
      message,
      failure: readFailure(parsed, SUBSCRIBER_FIELDS),
      content: { kind: 'subscriber-record', eventIds },
    };
  }
  const content: DlqContent =
    parsed === undefined
      ? { kind: 'event', body: message.body }
      : { kind: 'event', body: message.body, event: parsed };
  // EventBridge's attributes are upper case; a message without them but with Lambda's comes from the function.
  const { attributes } = message;
  const fromFunction =
    attributes.ERROR_CODE === undefined &&
    (attributes.RequestID !== undefined || attributes.ErrorCode !== undefined);
  return {
    message,
    failure: readFailure(attributes, fromFunction ? LAMBDA_FIELDS : RULE_TARGET_FIELDS),
    content,
  };
}

/** `sqs:<MessageId> (event <id> <detail-type>)`: which message, and which event it holds, for the lines. */
export function describeRecord(record: DlqRecord): string {
  const { content } = record;
  const where = `sqs:${record.message.messageId}`;
  if (content.kind === 'subscriber-record') {
    return `${where} (subscriber record, events ${content.eventIds.join(',') || '?'})`;
  }
  if (content.kind === 'invocation-record-without-event') {
    return `${where} (on-failure record, requestPayload is ${content.payload})`;
  }
  const id = text(content.event?.id);
  const type = text(content.event?.['detail-type']);
  const event = [id && `event ${id}`, type].filter(Boolean).join(' ');
  const about =
    content.kind === 'invocation-record' ? ['on-failure record', event].filter(Boolean).join(', ') : event;
  return about ? `${where} (${about})` : where;
}
