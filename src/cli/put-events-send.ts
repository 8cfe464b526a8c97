import type { Agent } from 'undici';
import { type AwsJsonAnswer, type AwsService, callAwsJson, isRetryableAwsError } from './aws-json.js';
import { type ResolvedContext, redactUrl } from './io.js';
import type { LabelledEntry } from './put-events-entries.js';
import { backoffDelay, type RetryPolicy, retryDelay } from './retry.js';

/**
 * Sending PutEvents batches and re-sending the entries that failed with a retryable error: shared by
 * `put-events` (event files) and `redrive --to-bus` (a dead-letter queue).
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html)
 */

export const PUT_EVENTS_TARGET = 'AWSEvents.PutEvents';
export const AMZ_JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
export const DEFAULT_PUT_TIMEOUT_MS = 10_000;

export interface EntryOutcome {
  label: string;
  eventId?: string;
  errorCode?: string;
  errorMessage?: string;
  attempts: number;
}

export interface BatchResult {
  outcomes: EntryOutcome[];
  /** PutEvents calls made for the batch: 1, plus one per retry. */
  attempts: number;
  /** A failure of the whole request (not of single entries) that stops the run. */
  fatal?: string;
}

type EntryAnswer = { EventId?: string; ErrorCode?: string; ErrorMessage?: string };

type PutAnswer = { kind: 'entries'; entries: EntryAnswer[] } | Extract<AwsJsonAnswer, { kind: 'error' }>;

async function putOnce(
  dispatcher: Agent,
  service: AwsService,
  batch: readonly LabelledEntry[],
  ctx: ResolvedContext,
): Promise<PutAnswer> {
  const answer = await callAwsJson(
    dispatcher,
    service,
    PUT_EVENTS_TARGET,
    { Entries: batch.map((item) => item.entry) },
    ctx,
  );
  if (answer.kind === 'error') return answer;
  const entries = answer.json.Entries;
  if (!Array.isArray(entries) || entries.length !== batch.length) {
    return {
      kind: 'error',
      retryable: false,
      message: `${redactUrl(service.endpoint)} answered ${answer.status} without ${batch.length} Entries: ${answer.text.slice(0, 200)}`,
    };
  }
  return {
    kind: 'entries',
    entries: entries.map((item) => {
      const record = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
      const out: EntryAnswer = {};
      if (typeof record.EventId === 'string') out.EventId = record.EventId;
      if (typeof record.ErrorCode === 'string') out.ErrorCode = record.ErrorCode;
      if (typeof record.ErrorMessage === 'string') out.ErrorMessage = record.ErrorMessage;
      return out;
    }),
  };
}

/** Sends one batch, re-sending the entries that failed with a retryable error until accepted or out of attempts. */
export async function sendBatch(
  dispatcher: Agent,
  service: AwsService,
  policy: RetryPolicy,
  batch: readonly LabelledEntry[],
  ctx: ResolvedContext,
): Promise<BatchResult> {
  const outcomes = new Map<LabelledEntry, EntryOutcome>();
  let pending = [...batch];
  let attempts = 0;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const last = attempt >= policy.maxAttempts;
    const answer = await putOnce(dispatcher, service, pending, ctx);
    attempts++;
    if (answer.kind === 'error') {
      if (!answer.retryable || last) {
        const suffix = answer.retryable ? ` (after ${attempt} attempts)` : '';
        for (const item of pending) {
          outcomes.set(item, {
            label: item.label,
            errorCode: 'RequestFailed',
            errorMessage: answer.message,
            attempts: attempt,
          });
        }
        return {
          outcomes: batch.map((item) => outcomes.get(item) as EntryOutcome),
          attempts,
          fatal: answer.message + suffix,
        };
      }
      await ctx.sleep(retryDelay(attempt, answer.retryAfterMs, policy, ctx.random));
      continue;
    }
    const retry: LabelledEntry[] = [];
    pending.forEach((item, index) => {
      const result = answer.entries[index] ?? {};
      if (result.EventId !== undefined && result.ErrorCode === undefined) {
        outcomes.set(item, { label: item.label, eventId: result.EventId, attempts: attempt });
        return;
      }
      const code = result.ErrorCode ?? 'UnknownError';
      if (isRetryableAwsError(code) && !last) {
        retry.push(item);
        return;
      }
      const outcome: EntryOutcome = { label: item.label, errorCode: code, attempts: attempt };
      if (result.ErrorMessage !== undefined) outcome.errorMessage = result.ErrorMessage;
      outcomes.set(item, outcome);
    });
    pending = retry;
    if (pending.length > 0) await ctx.sleep(backoffDelay(attempt, policy, ctx.random));
  }
  return { outcomes: batch.map((item) => outcomes.get(item) as EntryOutcome), attempts };
}

export function formatEntryLine(outcome: EntryOutcome): string {
  if (outcome.eventId !== undefined) {
    return `accepted ${outcome.label} EventId=${outcome.eventId} attempts=${outcome.attempts}`;
  }
  const message = outcome.errorMessage === undefined ? '' : ` (${outcome.errorMessage})`;
  return `failed ${outcome.label} ${outcome.errorCode ?? 'UnknownError'}${message} attempts=${outcome.attempts}`;
}
