import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type RecordedRequest, type StandIn, sendJson, startStandIn } from './http-server.js';
import { checkSignature } from './sigv4-verify.js';

/**
 * A stand-in for sqs.<region>.amazonaws.com speaking SQS's JSON protocol, for ReceiveMessage and
 * DeleteMessageBatch. It recomputes each request's SigV4 signature, keeps a received message invisible for its
 * visibility timeout (real time), gives every receive a new receipt handle and accepts only the latest one on
 * delete, and lets a test fail chosen calls.
 */

export interface QueuedMessage {
  messageId: string;
  body: string;
  /** Message attributes, as SQS's JSON protocol carries them. */
  attributes: Record<string, { DataType: string; StringValue: string }>;
  receiptHandle?: string;
  invisibleUntil: number;
  receiveCount: number;
}

export type SqsOperation = 'ReceiveMessage' | 'DeleteMessageBatch';

/** Answers call `index` (counted per operation from 0) itself when it returns true. */
export type FaultInjector = (operation: SqsOperation, index: number, response: ServerResponse) => boolean;

export interface FakeSqs extends StandIn {
  queueUrl: string;
  messages: Map<string, QueuedMessage>;
  /** MessageIds deleted, in order (a second delete of one id would show twice). */
  deleted: string[];
  /** What the fake found wrong in a request (bad signature, bad parameters); a test expects none. */
  problems: string[];
  calls: Record<SqsOperation, number>;
  send: (body: string, attributes?: Record<string, string>) => string;
  /** Messages still in the queue (visible or not). */
  remaining: () => number;
}

const QUEUE_PATH = '/123456789012/genesys-dlq';
/** EventBridge's RETRY_ATTEMPTS and a Lambda function DLQ's ErrorCode are Number attributes. */
const NUMBER_ATTRIBUTES = new Set(['RETRY_ATTEMPTS', 'ErrorCode']);

export async function startFakeSqs(options: {
  region: string;
  secrets: Readonly<Record<string, string>>;
  fault?: FaultInjector;
}): Promise<FakeSqs> {
  const messages = new Map<string, QueuedMessage>();
  const deleted: string[] = [];
  const problems: string[] = [];
  const calls: Record<SqsOperation, number> = { ReceiveMessage: 0, DeleteMessageBatch: 0 };
  let queueUrl = '';

  const refuse = (response: ServerResponse, type: string, message: string) => {
    problems.push(`${type}: ${message}`);
    sendJson(response, 400, { __type: `com.amazonaws.sqs#${type}`, message });
  };

  const receive = async (payload: Record<string, unknown>, response: ServerResponse) => {
    const max = payload.MaxNumberOfMessages ?? 1;
    const wait = payload.WaitTimeSeconds ?? 0;
    const visibility = payload.VisibilityTimeout ?? 30;
    if (typeof max !== 'number' || max < 1 || max > 10) {
      refuse(response, 'InvalidParameterValue', `MaxNumberOfMessages ${String(max)}`);
      return;
    }
    if (typeof wait !== 'number' || wait < 0 || wait > 20 || typeof visibility !== 'number') {
      refuse(response, 'InvalidParameterValue', `WaitTimeSeconds ${String(wait)}`);
      return;
    }
    if (!Array.isArray(payload.MessageAttributeNames) || !payload.MessageAttributeNames.includes('All')) {
      problems.push('MessageAttributeNames does not ask for All: the DLQ attributes would be missing');
    }
    const deadline = Date.now() + wait * 1000;
    for (;;) {
      const now = Date.now();
      const visible = [...messages.values()].filter((m) => m.invisibleUntil <= now).slice(0, max);
      if (visible.length > 0 || now >= deadline) {
        for (const message of visible) {
          message.receiptHandle = randomUUID();
          message.invisibleUntil = now + visibility * 1000;
          message.receiveCount++;
        }
        sendJson(response, 200, {
          Messages: visible.map((m) => ({
            MessageId: m.messageId,
            ReceiptHandle: m.receiptHandle,
            Body: m.body,
            Attributes: { ApproximateReceiveCount: String(m.receiveCount) },
            MessageAttributes: m.attributes,
          })),
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const deleteBatch = (payload: Record<string, unknown>, response: ServerResponse) => {
    const entries = payload.Entries;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > 10) {
      refuse(
        response,
        'TooManyEntriesInBatchRequest',
        `${Array.isArray(entries) ? entries.length : 'no'} entries`,
      );
      return;
    }
    const successful: Array<{ Id: string }> = [];
    const failed: Array<{ Id: string; SenderFault: boolean; Code: string; Message: string }> = [];
    for (const entry of entries as Array<{ Id: string; ReceiptHandle: string }>) {
      const message = [...messages.values()].find((m) => m.receiptHandle === entry.ReceiptHandle);
      if (message === undefined) {
        failed.push({
          Id: entry.Id,
          SenderFault: true,
          Code: 'ReceiptHandleIsInvalid',
          Message: 'stale handle',
        });
        continue;
      }
      messages.delete(message.messageId);
      deleted.push(message.messageId);
      successful.push({ Id: entry.Id });
    }
    sendJson(response, 200, { Successful: successful, Failed: failed });
  };

  const standIn = await startStandIn(async (request: RecordedRequest, response) => {
    const signature = checkSignature(request, response, problems, options.secrets, {
      region: options.region,
      service: 'sqs',
      status: 403,
      type: 'com.amazonaws.sqs#SignatureDoesNotMatch',
    });
    if (signature === undefined) return;
    for (const name of ['content-type', 'x-amz-target']) {
      if (!signature.signedHeaders?.includes(name)) problems.push(`${name} not signed`);
    }
    if (request.headers['content-type'] !== 'application/x-amz-json-1.0') {
      refuse(response, 'UnsupportedMediaType', String(request.headers['content-type']));
      return;
    }
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.replace(/^AmazonSQS\./, '') as SqsOperation;
    if (!target.startsWith('AmazonSQS.') || !(operation in calls)) {
      refuse(response, 'UnknownOperationException', target);
      return;
    }
    const payload = JSON.parse(request.body) as Record<string, unknown>;
    if (payload.QueueUrl !== queueUrl) {
      sendJson(response, 400, { __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'no such queue' });
      return;
    }
    const index = calls[operation]++;
    if (options.fault?.(operation, index, response)) return;
    if (operation === 'ReceiveMessage') await receive(payload, response);
    else deleteBatch(payload, response);
  });
  queueUrl = `${standIn.origin}${QUEUE_PATH}`;
  let nextId = 1;
  return Object.assign(standIn, {
    queueUrl,
    messages,
    deleted,
    problems,
    calls,
    send: (body: string, attributes: Record<string, string> = {}) => {
      const messageId = `msg-${nextId++}`;
      messages.set(messageId, {
        messageId,
        body,
        attributes: Object.fromEntries(
          Object.entries(attributes).map(([name, value]) => [
            name,
            { DataType: NUMBER_ATTRIBUTES.has(name) ? 'Number' : 'String', StringValue: value },
          ]),
        ),
        invisibleUntil: 0,
        receiveCount: 0,
      });
      return messageId;
    },
    remaining: () => messages.size,
  });
}

/** The attributes EventBridge puts on a rule target's dead-letter message. */
export function dlqAttributes(errorCode: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ERROR_CODE: errorCode,
    ERROR_MESSAGE: `${errorCode} while invoking the target`,
    EXHAUSTED_RETRY_CONDITION: 'MaximumEventAgeInSeconds',
    RETRY_ATTEMPTS: '185',
    RULE_ARN: 'arn:aws:events:eu-west-1:123456789012:rule/genesys-bus/to-receiver',
    TARGET_ARN: 'arn:aws:events:eu-west-1:123456789012:api-destination/receiver/abc',
    ...extra,
  };
}
