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
 */

export interface DlqFailure {
  /** ERROR_CODE (or the record's errorCode); `NONE` when the message carries neither. */
  errorCode: string;
  errorMessage?: string;
  exhaustedRetryCondition?: string;
  retryAttempts?: number;
  /** RULE_ARN, or the subscriber's ARN. */
  source?: string;
  targetArn?: string;
  /** A Lambda function's DLQ: RequestID, the id of the invocation that failed last. */
  requestId?: string;
}

export type DlqContent =
  /** The body is the event, to post as it is; `event` when it parses as a JSON object. */
  | { kind: 'event'; body: string; event?: EventObject }
  /** A subscriber's record: the ids of the failed events, not the events. */
  | { kind: 'subscriber-record'; eventIds: string[] };

export interface DlqRecord {
  message: SqsMessage;
  failure: DlqFailure;
  content: DlqContent;
}

export const NO_ERROR_CODE = 'NONE';

function parseObject(text: string): EventObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as EventObject)
      : undefined;
  } catch {
    return undefined;
  }
}

function isSubscriberRecord(value: EventObject): boolean {
  return (
    Array.isArray(value.failedMessages) &&
    (typeof value.subscriberArn === 'string' || typeof value.busArn === 'string') &&
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

export function readDlqMessage(message: SqsMessage): DlqRecord {
  const parsed = parseObject(message.body);
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
  if (content.kind === 'subscriber-record') {
    return `sqs:${record.message.messageId} (subscriber record, events ${content.eventIds.join(',') || '?'})`;
  }
  const id = text(content.event?.id);
  const type = text(content.event?.['detail-type']);
  const about = [id && `event ${id}`, type].filter(Boolean).join(' ');
  return about ? `sqs:${record.message.messageId} (${about})` : `sqs:${record.message.messageId}`;
}
