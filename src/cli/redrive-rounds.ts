import { appendFile } from 'node:fs/promises';
import type { Agent } from 'undici';
import { forEachConcurrently } from './concurrency.js';
import { type Delivery, type DeliveryResult, formatDeliveryLine, isDelivered } from './delivery.js';
import {
  type DlqContent,
  type DlqRecord,
  describeRecord,
  isSendable,
  type SendableContent,
} from './dlq-record.js';
import { errorMessage, type ResolvedContext } from './io.js';
import { batchEntries, buildEntry, type LabelledEntry } from './put-events-entries.js';
import { formatEntryLine, sendBatch } from './put-events-send.js';
import type { Destination, RedriveOptions } from './redrive-options.js';
import type { MessageResult } from './redrive-report.js';
import { deleteMessages, SQS_MAX_BATCH, type SqsMessage } from './sqs.js';

/**
 * One round of a redrive: what becomes of the messages received together (listed, posted, invoked with, put on a
 * bus), and the delete of those that may go.
 */

/** One message's result, before its delete: `remove` says whether it may be deleted. */
export interface Handled {
  result: MessageResult;
  line: string;
  remove: boolean;
}

function baseResult(record: DlqRecord): MessageResult {
  return {
    messageId: record.message.messageId,
    errorCode: record.failure.errorCode,
    outcome: 'failed',
    deleted: false,
  };
}

function dryRunLine(record: DlqRecord): string {
  const { failure } = record;
  const parts = ['listed', describeRecord(record), `dlq=${failure.errorCode}`];
  if (failure.retryAttempts !== undefined) parts.push(`retries=${failure.retryAttempts}`);
  if (failure.exhaustedRetryCondition !== undefined)
    parts.push(`exhausted=${failure.exhaustedRetryCondition}`);
  if (failure.source !== undefined) parts.push(`from=${failure.source}`);
  if (failure.requestId !== undefined) parts.push(`request=${failure.requestId}`);
  if (failure.errorMessage !== undefined) parts.push(`(${failure.errorMessage})`);
  return parts.join(' ');
}

/** --dry-run: each message listed, nothing posted or deleted. */
export function listRound(records: readonly DlqRecord[]): RoundResult {
  const handled = records.map(
    (record): Handled => ({
      result: { ...baseResult(record), outcome: 'listed' },
      line: dryRunLine(record),
      remove: false,
    }),
  );
  return { handled };
}

/** A record without an event: why, and what to do instead (left in the queue). */
function notRedrivable(record: DlqRecord, content: Exclude<DlqContent, SendableContent>): Handled {
  const [error, hint] =
    content.kind === 'subscriber-record'
      ? ['subscriber record without events', "replay the bus's retained events to a subscriber"]
      : [
          `on-failure record whose requestPayload is ${content.payload}, not an event`,
          'its requestPayload is not a JSON object: no event to send',
        ];
  return {
    result: { ...baseResult(record), outcome: 'not-redrivable', error },
    line: `not-redrivable - ${describeRecord(record)} (${hint})`,
    remove: false,
  };
}

/**
 * What is appended to --rejected-file before a rejected message is deleted: enough to post it again. The body is
 * the message's as it was (an invocation record whole: its event is the requestPayload).
 */
function rejectedLine(record: DlqRecord, status: number | undefined, error: string | undefined): string {
  return `${JSON.stringify({
    messageId: record.message.messageId,
    failure: record.failure,
    status,
    error,
    body: record.message.body,
  })}\n`;
}

/** What a round does with its messages: the handled ones, and why the run stops, if it must. */
export interface RoundResult {
  handled: Handled[];
  fatal?: string;
}

/** Hands one event over (posts it to the receiver, invokes the function): its result, and `fatal` to stop. */
export type Send = (delivery: Delivery) => Promise<{ result: DeliveryResult; fatal?: string }>;

/** An event left unsent because the run was stopping (another message's answer was fatal). */
function notSent(record: DlqRecord): Handled {
  return {
    result: { ...baseResult(record), error: 'not sent: the run stopped' },
    line: `failed - ${describeRecord(record)} (not sent: the run stopped) dlq=${record.failure.errorCode}`,
    remove: false,
  };
}

/**
 * --url and --to-function: each event handed over on its own, `--concurrency` at once. Taken (processed,
 * duplicate, another 2xx) may go; refused for good (invalid) may go once written to --rejected-file. After a fatal
 * answer nothing more is sent; what is in flight finishes.
 */
export async function deliveryRound(
  records: readonly DlqRecord[],
  send: Send,
  options: RedriveOptions,
): Promise<RoundResult> {
  const handled: Handled[] = new Array(records.length);
  let fatal: string | undefined;
  await forEachConcurrently(records.length, options.concurrency, async (index) => {
    const record = records[index] as DlqRecord;
    const { content } = record;
    if (!isSendable(content)) {
      handled[index] = notRedrivable(record, content);
      return;
    }
    if (fatal !== undefined) {
      handled[index] = notSent(record);
      return;
    }
    // A DLQ body is the event as EventBridge would have sent it: handed over as it is, never re-serialised. An
    // invocation record's is its requestPayload's JSON text (dlq-record.ts says why its key is the same).
    const sent = await send({ label: describeRecord(record), republished: false, body: content.body });
    fatal ??= sent.fatal;
    const delivery = sent.result;
    const result: MessageResult = { ...baseResult(record), outcome: 'failed' };
    if (delivery.status !== undefined) result.status = delivery.status;
    if (delivery.key !== undefined) result.key = delivery.key;
    if (delivery.error !== undefined) result.error = delivery.error;
    let remove = isDelivered(delivery);
    if (remove) {
      result.outcome = delivery.outcome as MessageResult['outcome'];
    } else if (delivery.outcome === 'invalid') {
      result.outcome = 'rejected';
      if (options.rejectedFile !== undefined) {
        try {
          await appendFile(options.rejectedFile, rejectedLine(record, delivery.status, delivery.error));
          remove = true;
        } catch (error) {
          // Not kept, so not deleted: it stays in the queue.
          result.error = `${delivery.error ?? 'rejected'}; not written to --rejected-file: ${errorMessage(error)}`;
        }
      }
    }
    handled[index] = { result, line: `${formatDeliveryLine(delivery)} dlq=${result.errorCode}`, remove };
  });
  return fatal === undefined ? { handled } : { handled, fatal };
}

export async function putRound(
  records: readonly DlqRecord[],
  destination: Extract<Destination, { kind: 'bus' }>,
  dispatcher: Agent,
  options: RedriveOptions,
  ctx: ResolvedContext,
): Promise<RoundResult> {
  const handled: Handled[] = new Array(records.length);
  const entries: LabelledEntry[] = [];
  const indexOf = new Map<string, number>();
  records.forEach((record, index) => {
    const { content } = record;
    if (!isSendable(content)) {
      handled[index] = notRedrivable(record, content);
      return;
    }
    const label = describeRecord(record);
    const built =
      content.event === undefined
        ? ({ ok: false, problem: `${label}: the body is not a JSON object` } as const)
        : buildEntry(label, content.event, destination.bus, destination.source);
    if (!built.ok) {
      handled[index] = {
        result: { ...baseResult(record), outcome: 'unusable', error: built.problem },
        line: `unusable ${built.problem} dlq=${record.failure.errorCode}`,
        remove: false,
      };
      return;
    }
    entries.push(built.entry);
    indexOf.set(label, index);
  });
  let fatal: string | undefined;
  for (const batch of batchEntries(entries)) {
    const sent =
      fatal === undefined
        ? await sendBatch(dispatcher, destination.service, options.policy, batch, ctx)
        : undefined;
    fatal ??= sent?.fatal;
    batch.forEach((item, position) => {
      const index = indexOf.get(item.label) as number;
      const record = records[index] as DlqRecord;
      const outcome = sent?.outcomes[position] ?? {
        label: item.label,
        errorCode: 'NotSent',
        errorMessage: 'an earlier request failed',
        attempts: 0,
      };
      const result: MessageResult = { ...baseResult(record), outcome: outcome.eventId ? 'put' : 'failed' };
      if (outcome.eventId !== undefined) result.eventId = outcome.eventId;
      if (outcome.errorCode !== undefined) result.error = outcome.errorCode;
      handled[index] = {
        result,
        line: `${formatEntryLine(outcome)} dlq=${result.errorCode}`,
        remove: outcome.eventId !== undefined,
      };
    });
  }
  return fatal === undefined ? { handled } : { handled, fatal };
}

/** Deletes what may go, in batches of 10; marks each result deleted or says why not. */
export async function deleteHandled(
  handled: readonly Handled[],
  messages: ReadonlyMap<string, SqsMessage>,
  dispatcher: Agent,
  options: RedriveOptions,
  ctx: ResolvedContext,
): Promise<void> {
  const removable = handled.filter((h) => h.remove);
  for (let start = 0; start < removable.length; start += SQS_MAX_BATCH) {
    const chunk = removable.slice(start, start + SQS_MAX_BATCH);
    const answer = await deleteMessages(
      dispatcher,
      options.sqs,
      options.queueUrl,
      chunk.map((h) => messages.get(h.result.messageId) as SqsMessage),
      options.policy,
      ctx,
    );
    if (!answer.ok) {
      for (const h of chunk) h.result.error = `not deleted: ${answer.message}`;
      continue;
    }
    const failed = new Map(answer.value.failed.map((f) => [f.id, f]));
    for (const h of chunk) {
      const failure = failed.get(h.result.messageId);
      if (failure === undefined) h.result.deleted = true;
      else h.result.error = `not deleted: ${failure.code} ${failure.message}`.trim();
    }
  }
}
