import type { Agent } from 'undici';
import {
  type AwsJsonAnswer,
  type AwsProtocol,
  type AwsService,
  callAwsJson,
  isRetryableAwsError,
} from './aws-json.js';
import type { ResolvedContext } from './io.js';
import { backoffDelay, type RetryPolicy, retryDelay } from './retry.js';

/**
 * The two SQS calls `redrive` makes, over SQS's JSON protocol (`application/x-amz-json-1.0`,
 * `X-Amz-Target: AmazonSQS.<Operation>`), each retried on throttling, 5xx and network errors.
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html,
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessageBatch.html)
 */

export const SQS_CONTENT_TYPE = 'application/x-amz-json-1.0';
/** ReceiveMessage and DeleteMessageBatch take at most 10 messages. */
export const SQS_MAX_BATCH = 10;
/** Long polling waits at most 20 s. */
export const SQS_MAX_WAIT_SECONDS = 20;
/** A visibility timeout is at most 12 hours. */
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;

export interface SqsMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** Message attributes (the sender's: EventBridge's ERROR_CODE …), by name, as their string value. */
  attributes: Record<string, string>;
  /** System attributes (ApproximateReceiveCount, SentTimestamp …). */
  system: Record<string, string>;
}

export interface ReceiveRequest {
  max: number;
  waitSeconds: number;
  visibilityTimeout: number;
}

export type SqsResult<T> =
  | { ok: true; value: T; requests: number }
  | { ok: false; message: string; requests: number };

export interface DeleteResult {
  deleted: string[];
  /** Entries SQS refused, with its code; they stay in the queue. */
  failed: Array<{ id: string; code: string; message: string }>;
}

/** SQS over its JSON protocol. */
export const SQS_PROTOCOL: AwsProtocol = { signingName: 'sqs', contentType: SQS_CONTENT_TYPE };

/** The region in a queue URL (`https://sqs.eu-west-1.amazonaws.com/…`, `https://eu-west-1.queue.amazonaws.com/…`). */
export function queueUrlRegion(queueUrl: URL): string | undefined {
  const match =
    /^(?:sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?|([a-z0-9-]+)\.queue\.amazonaws\.com(?:\.cn)?)$/.exec(
      queueUrl.hostname,
    );
  return match?.[1] ?? match?.[2];
}

/** One SQS call, retried (with backoff, Retry-After honoured) while the failure is retryable. */
async function callWithRetries(
  dispatcher: Agent,
  service: AwsService,
  operation: string,
  payload: unknown,
  policy: RetryPolicy,
  ctx: ResolvedContext,
): Promise<SqsResult<Extract<AwsJsonAnswer, { kind: 'ok' }>>> {
  for (let attempt = 1; ; attempt++) {
    const answer = await callAwsJson(dispatcher, service, `AmazonSQS.${operation}`, payload, ctx);
    if (answer.kind === 'ok') return { ok: true, value: answer, requests: attempt };
    if (!answer.retryable || attempt >= policy.maxAttempts) {
      const suffix = answer.retryable ? ` (after ${attempt} attempts)` : '';
      return { ok: false, message: `${operation}: ${answer.message}${suffix}`, requests: attempt };
    }
    await ctx.sleep(retryDelay(attempt, answer.retryAfterMs, policy, ctx.random));
  }
}

function stringRecord(value: unknown, pick: (item: unknown) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== 'object' || value === null) return out;
  for (const [name, item] of Object.entries(value)) {
    const text = pick(item);
    if (text !== undefined) out[name] = text;
  }
  return out;
}

/** A message attribute's value: `{ DataType: "String" | "Number", StringValue }` (binary ones are left out). */
function attributeValue(item: unknown): string | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const value = (item as { StringValue?: unknown }).StringValue;
  return typeof value === 'string' ? value : undefined;
}

function parseMessages(json: Record<string, unknown>): SqsMessage[] {
  const list = Array.isArray(json.Messages) ? json.Messages : [];
  const messages: SqsMessage[] = [];
  for (const item of list) {
    if (typeof item !== 'object' || item === null) continue;
    const record = item as Record<string, unknown>;
    if (typeof record.MessageId !== 'string' || typeof record.ReceiptHandle !== 'string') continue;
    messages.push({
      messageId: record.MessageId,
      receiptHandle: record.ReceiptHandle,
      body: typeof record.Body === 'string' ? record.Body : '',
      attributes: stringRecord(record.MessageAttributes, attributeValue),
      system: stringRecord(record.Attributes, (v) => (typeof v === 'string' ? v : undefined)),
    });
  }
  return messages;
}

/** Up to `max` (≤ 10) messages, hidden from other readers for `visibilityTimeout` seconds. */
export async function receiveMessages(
  dispatcher: Agent,
  service: AwsService,
  queueUrl: URL,
  request: ReceiveRequest,
  policy: RetryPolicy,
  ctx: ResolvedContext,
): Promise<SqsResult<SqsMessage[]>> {
  const result = await callWithRetries(
    dispatcher,
    service,
    'ReceiveMessage',
    {
      QueueUrl: queueUrl.toString(),
      MaxNumberOfMessages: request.max,
      WaitTimeSeconds: request.waitSeconds,
      VisibilityTimeout: request.visibilityTimeout,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
    },
    policy,
    ctx,
  );
  return result.ok ? { ...result, value: parseMessages(result.value.json) } : result;
}

/**
 * Deletes up to 10 messages by receipt handle. Entries that fail with a retryable code are sent again; the
 * rest of the failures are reported (their messages stay in the queue and come back after their timeout).
 */
export async function deleteMessages(
  dispatcher: Agent,
  service: AwsService,
  queueUrl: URL,
  messages: readonly SqsMessage[],
  policy: RetryPolicy,
  ctx: ResolvedContext,
): Promise<SqsResult<DeleteResult>> {
  const done: DeleteResult = { deleted: [], failed: [] };
  let pending = messages.map((message, index) => ({ Id: String(index), message }));
  let requests = 0;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const result = await callWithRetries(
      dispatcher,
      service,
      'DeleteMessageBatch',
      {
        QueueUrl: queueUrl.toString(),
        Entries: pending.map(({ Id, message }) => ({ Id, ReceiptHandle: message.receiptHandle })),
      },
      policy,
      ctx,
    );
    requests += result.requests;
    if (!result.ok) return { ok: false, message: result.message, requests };
    const successful = new Set(
      (Array.isArray(result.value.json.Successful) ? result.value.json.Successful : []).map((entry) =>
        String((entry as { Id?: unknown })?.Id),
      ),
    );
    const failures = new Map<string, { code: string; message: string }>();
    for (const entry of Array.isArray(result.value.json.Failed) ? result.value.json.Failed : []) {
      const record = (entry ?? {}) as Record<string, unknown>;
      failures.set(String(record.Id), {
        code: typeof record.Code === 'string' ? record.Code : 'UnknownError',
        message: typeof record.Message === 'string' ? record.Message : '',
      });
    }
    const retry: typeof pending = [];
    for (const item of pending) {
      if (successful.has(item.Id)) {
        done.deleted.push(item.message.messageId);
        continue;
      }
      const failure = failures.get(item.Id) ?? {
        code: 'NotAnswered',
        message: 'not in Successful or Failed',
      };
      if (isRetryableAwsError(failure.code) && attempt < policy.maxAttempts) retry.push(item);
      else done.failed.push({ id: item.message.messageId, ...failure });
    }
    pending = retry;
    if (pending.length > 0) await ctx.sleep(backoffDelay(attempt, policy, ctx.random));
  }
  return { ok: true, value: done, requests };
}
