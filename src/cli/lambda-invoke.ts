import type { Agent } from 'undici';
import { PoisonEventError, RejectedDownstreamError } from '../core/errors.js';
import { type AwsAnswer, type AwsProtocol, type AwsService, callAws } from './aws-json.js';
import { type Delivery, type DeliveryResult, describeIssues, parseJsonObject } from './delivery.js';
import type { ResolvedContext } from './io.js';
import { type RetryPolicy, retryDelay } from './retry.js';

/**
 * `redrive --to-function`: one dead-lettered event handed to the receiver's Lambda function with a synchronous
 * Invoke (`POST /2015-03-31/functions/{FunctionName}/invocations`, `X-Amz-Invocation-Type: RequestResponse`),
 * the payload the DLQ body as it is. The answer is read as the project's handler (src/adapters/lambda.ts) gives
 * it: it resolves `processed`, `duplicate` or `invalid` with its issues, and throws what a retry may fix, which
 * Invoke answers 200 with `X-Amz-Function-Error` and the error's `errorType` and `errorMessage` as the payload.
 * (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html)
 */

/** Invoke waits for the function (the SAM template's timeout is 15 s): longer than a receiver's 5 s. */
export const DEFAULT_INVOKE_TIMEOUT_MS = 30_000;
/** Invoke's payload is a blob: the bytes as they are, as the AWS SDK sends them. */
export const INVOKE_CONTENT_TYPE = 'application/octet-stream';

/**
 * Failures the handler throws for good (HTTP's 422: the downstream refused the event, MAX_ATTEMPTS reached): a
 * retry repeats the same work for the same end, so they count as rejected, as the 422 is over HTTP.
 */
const FINAL_FUNCTION_ERRORS: ReadonlySet<string> = new Set([
  RejectedDownstreamError.name,
  PoisonEventError.name,
]);

/** Invoke's refusals of one payload rather than of the caller: the other messages can still go. */
const PAYLOAD_REFUSALS: ReadonlySet<string> = new Set([
  'InvalidRequestContentException',
  'RequestTooLargeException',
]);

/** Lambda's REST API: Invoke posts the payload as it is, as the AWS SDK sends it. */
export const LAMBDA_PROTOCOL: AwsProtocol = { signingName: 'lambda', contentType: INVOKE_CONTENT_TYPE };

/** The Invoke path: a name, a partial or full ARN, or `name:qualifier`, encoded (an ARN's `:` included). */
export function invocationPath(functionName: string): string {
  return `/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
}

/** The region a full function ARN names (`arn:aws:lambda:eu-west-1:123456789012:function:f`), if any. */
export function functionArnRegion(functionName: string): string | undefined {
  return /^arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):/.exec(functionName)?.[1];
}

export interface FunctionTarget {
  functionName: string;
  service: AwsService;
  policy: RetryPolicy;
}

/** One invocation's end; `fatal` (the function cannot be invoked at all, or is not the receiver) stops the run. */
export interface InvokeResult {
  result: DeliveryResult;
  fatal?: string;
}

type Base = Pick<DeliveryResult, 'label' | 'republished' | 'attempts' | 'ms'>;

/** What one answer means: final (`done`), worth another attempt (`retry`), or the end of the run (`fatal`). */
type Verdict =
  | { kind: 'done'; result: DeliveryResult }
  | { kind: 'retry'; result: DeliveryResult; retryAfterMs?: number }
  | { kind: 'fatal'; result: DeliveryResult; message: string };

const str = (value: unknown) => (typeof value === 'string' ? value : undefined);

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readAnswer(base: Base, answer: Extract<AwsAnswer, { kind: 'ok' }>, name: string): Verdict {
  const payload = parseJsonObject(answer.text);
  const functionError = header(answer.headers, 'x-amz-function-error');
  if (functionError !== undefined) {
    // Handled or Unhandled: the handler threw (the store is down, the key is in progress, a sink failed), or
    // the runtime failed it (a timeout, out of memory).
    const type = str(payload.errorType) ?? 'function_error';
    const result: DeliveryResult = { ...base, outcome: 'failed', status: answer.status, error: type };
    result.detail = [functionError, str(payload.errorMessage)].filter(Boolean).join(': ');
    if (FINAL_FUNCTION_ERRORS.has(type)) return { kind: 'done', result: { ...result, outcome: 'invalid' } };
    return { kind: 'retry', result };
  }
  const status = str(payload.status);
  const key = str(payload.key);
  if (status === 'processed' || status === 'duplicate') {
    const result: DeliveryResult = { ...base, outcome: status, status: answer.status };
    if (key !== undefined) result.key = key;
    const firstSeenAt = str(payload.firstSeenAt);
    if (firstSeenAt !== undefined) result.firstSeenAt = firstSeenAt;
    return { kind: 'done', result };
  }
  if (status === 'invalid') {
    const result: DeliveryResult = {
      ...base,
      outcome: 'invalid',
      status: answer.status,
      error: 'invalid_event',
    };
    const issues = describeIssues(payload.issues);
    if (issues !== undefined) result.detail = issues;
    return { kind: 'done', result };
  }
  // Another function (or another version of it) ran the event: nothing says it was taken, and every further
  // message would run through it too.
  const said = answer.text.slice(0, 200) || 'nothing';
  return {
    kind: 'fatal',
    result: { ...base, outcome: 'failed', status: answer.status, error: 'unexpected_answer', detail: said },
    message: `the function "${name}" answered ${said}, not processed, duplicate or invalid as the receiver's handler does: is it the receiver's function?`,
  };
}

function readError(base: Base, answer: Extract<AwsAnswer, { kind: 'error' }>, name: string): Verdict {
  const result: DeliveryResult = {
    ...base,
    outcome: 'failed',
    error: answer.type ?? (answer.status === undefined ? 'no_answer' : `http_${answer.status}`),
    detail: answer.message,
  };
  if (answer.status !== undefined) result.status = answer.status;
  // 429 (TooManyRequestsException: concurrency or rate), 5xx, time-outs and connection errors, and 409
  // (ResourceConflictException: the function is being created or updated) pass.
  if (answer.retryable || answer.status === 409) {
    return answer.retryAfterMs === undefined
      ? { kind: 'retry', result }
      : { kind: 'retry', result, retryAfterMs: answer.retryAfterMs };
  }
  if (answer.type !== undefined && PAYLOAD_REFUSALS.has(answer.type)) {
    return { kind: 'done', result: { ...result, outcome: 'invalid' } };
  }
  // ResourceNotFound, AccessDenied, a refused signature …: every message would get the same answer.
  return { kind: 'fatal', result, message: `the function "${name}" cannot be invoked: ${answer.message}` };
}

/** One event handed to the function, with the retry policy's attempts. */
export async function invokeFunction(
  dispatcher: Agent,
  target: FunctionTarget,
  delivery: Delivery,
  ctx: ResolvedContext,
): Promise<InvokeResult> {
  const started = ctx.now();
  const request = {
    path: invocationPath(target.functionName),
    headers: { 'X-Amz-Invocation-Type': 'RequestResponse' },
    body: delivery.body,
  };
  for (let attempt = 1; ; attempt++) {
    const answer = await callAws(dispatcher, target.service, request, ctx);
    const base: Base = {
      label: delivery.label,
      republished: delivery.republished,
      attempts: attempt,
      ms: Math.round(ctx.now() - started),
    };
    const verdict =
      answer.kind === 'ok'
        ? readAnswer(base, answer, target.functionName)
        : readError(base, answer, target.functionName);
    if (verdict.kind === 'fatal') return { result: verdict.result, fatal: verdict.message };
    if (verdict.kind === 'done' || attempt >= target.policy.maxAttempts) return { result: verdict.result };
    await ctx.sleep(retryDelay(attempt, verdict.retryAfterMs, target.policy, ctx.random));
  }
}
