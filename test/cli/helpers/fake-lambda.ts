import { createHash, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { TEST_KEYS, TEST_REGION } from './fake-eventbridge.js';
import { type StandIn, sendJson, startStandIn } from './http-server.js';
import { checkSignature } from './sigv4-verify.js';

/**
 * A stand-in for lambda.<region>.amazonaws.com's Invoke (`POST /2015-03-31/functions/{FunctionName}/invocations`)
 * that runs functions given as code. It recomputes each request's SigV4 signature, resolves the function by name
 * or ARN, and answers as Lambda does (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html): 200 with
 * what the function returned, or 200 with `X-Amz-Function-Error: Unhandled` and `{errorType, errorMessage}` when
 * it threw; 404 ResourceNotFoundException for an unknown function; 400 InvalidRequestContentException for a
 * payload that is not JSON. A test may answer chosen calls itself (a 429, a 5xx).
 */

export const TEST_ACCOUNT = '123456789012';

/** What the Node.js runtime passes a handler besides the event (the field the receiver's handler reads). */
export interface InvokeContext {
  awsRequestId: string;
  functionName: string;
}

/** A function's code: the parsed payload in, its result out (a rejection is a function error). */
export type FunctionCode = (event: unknown, context: InvokeContext) => unknown;

/** Answers call `index` (counted per function from 0) itself when it returns true. */
export type InvokeFault = (functionName: string, index: number, response: ServerResponse) => boolean;

export interface Invocation {
  /** The function's name, however the request named it. */
  functionName: string;
  /** The path segment as it came over the wire (encoded). */
  rawName: string;
  payload: string;
}

export interface FakeLambda extends StandIn {
  /** Every call that reached a function, in order (faults answered by the test included). */
  invocations: Invocation[];
  /** What the fake found wrong in a request (bad signature, wrong path or header); a test expects none. */
  problems: string[];
  /** The most calls that were running at one time. */
  maxInFlight: () => number;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/?]+)\/invocations(?:\?.*)?$/;

/** `arn:aws:lambda:REGION:ACCOUNT:function:NAME` */
export function functionArn(region: string, name: string): string {
  return `arn:aws:lambda:${region}:${TEST_ACCOUNT}:function:${name}`;
}

/** Lambda's REST errors: the type in `x-amzn-ErrorType`, `Type` and `Message` in the body. */
export function sendLambdaError(response: ServerResponse, status: number, type: string, message: string) {
  sendJson(
    response,
    status,
    { Type: status >= 500 ? 'Service' : 'User', Message: message },
    { 'x-amzn-ErrorType': `${type}:http://internal.amazon.com/coral/com.amazonaws.awslambda/` },
  );
}

export async function startFakeLambda(options: {
  region: string;
  secrets: Readonly<Record<string, string>>;
  functions: Readonly<Record<string, FunctionCode>>;
  fault?: InvokeFault;
}): Promise<FakeLambda> {
  const invocations: Invocation[] = [];
  const problems: string[] = [];
  const calls = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;

  /** The function's name, from its name, `name:$LATEST` or its full ARN in this region and account. */
  const resolve = (named: string): string | undefined => {
    const prefix = functionArn(options.region, '');
    const name = (named.startsWith(prefix) ? named.slice(prefix.length) : named).replace(/:\$LATEST$/, '');
    return Object.hasOwn(options.functions, name) ? name : undefined;
  };

  const standIn = await startStandIn(async (request, response) => {
    const signature = checkSignature(request, response, problems, options.secrets, {
      region: options.region,
      service: 'lambda',
      status: 403,
      type: 'InvalidSignatureException',
    });
    if (signature === undefined) return;
    const match = INVOKE_PATH.exec(request.url);
    if (request.method !== 'POST' || match === null) {
      problems.push(`not an Invoke: ${request.method} ${request.url}`);
      sendLambdaError(response, 404, 'UnknownOperationException', request.url);
      return;
    }
    const rawName = match[1] as string;
    // An ARN's colons must come encoded: the path segment is the whole name.
    if (rawName.includes(':')) problems.push(`function name not URL-encoded: ${rawName}`);
    const named = decodeURIComponent(rawName);
    const invocationType = request.headers['x-amz-invocation-type'];
    if (invocationType !== 'RequestResponse')
      problems.push(`X-Amz-Invocation-Type ${String(invocationType)}`);
    if (!signature.signedHeaders?.includes('x-amz-invocation-type')) {
      problems.push('X-Amz-Invocation-Type not signed');
    }
    const name = resolve(named);
    if (name === undefined) {
      const arn = named.startsWith('arn:') ? named : functionArn(options.region, named);
      sendLambdaError(response, 404, 'ResourceNotFoundException', `Function not found: ${arn}`);
      return;
    }
    invocations.push({ functionName: name, rawName, payload: request.body });
    const index = calls.get(name) ?? 0;
    calls.set(name, index + 1);
    if (options.fault?.(name, index, response)) return;
    let event: unknown;
    try {
      event = JSON.parse(request.body);
    } catch (error) {
      sendLambdaError(
        response,
        400,
        'InvalidRequestContentException',
        `Could not parse request body into json: ${(error as Error).message}`,
      );
      return;
    }
    const code = options.functions[name] as FunctionCode;
    const requestId = randomUUID();
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const result = await code(event, { awsRequestId: requestId, functionName: name });
      sendJson(response, 200, result ?? null, {
        'x-amzn-requestid': requestId,
        'x-amz-executed-version': '$LATEST',
      });
    } catch (error) {
      const thrown = error instanceof Error ? error : new Error(String(error));
      sendJson(
        response,
        200,
        { errorType: thrown.name, errorMessage: thrown.message, trace: [] },
        { 'x-amzn-requestid': requestId, 'x-amz-function-error': 'Unhandled' },
      );
    } finally {
      inFlight--;
    }
  });
  return Object.assign(standIn, { invocations, problems, maxInFlight: () => maxInFlight });
}

/** The attributes Lambda puts on a message of a function's own dead-letter queue. */
export function functionDlqAttributes(requestId: string, errorMessage: string): Record<string, string> {
  return { RequestID: requestId, ErrorCode: '200', ErrorMessage: errorMessage };
}

/** The CLI's environment for a run against `lambda`: test keys, the region, and Lambda's endpoint. */
export function lambdaTestEnv(lambda: FakeLambda): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: TEST_KEYS.AKIDTEST as string,
    AWS_REGION: TEST_REGION,
    AWS_ENDPOINT_URL_LAMBDA: lambda.origin,
  };
}

/** An error as the receiver's handler throws it: Lambda reports its `name` as the errorType. */
export function thrown(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * A function that answers as the receiver's handler does: processed once per content, duplicate after, invalid
 * (with its issues) for an event without a source; `before` may throw or answer first.
 */
export function dedupFunction(
  processed: Map<string, number>,
  before: (event: { id?: string }) => unknown = () => undefined,
): FunctionCode {
  return async (payload) => {
    const event = payload as {
      id?: string;
      source?: string;
      detail: { topicName: string; eventBody: unknown };
    };
    const own = await before(event);
    if (own !== undefined) return own;
    if (event.source === undefined) {
      return { status: 'invalid', issues: [{ path: 'source', message: 'is required' }] };
    }
    const key = createHash('sha256')
      .update(JSON.stringify([event.detail.topicName, event.detail.eventBody]))
      .digest('hex');
    const count = processed.get(key) ?? 0;
    processed.set(key, count + 1);
    return count === 0
      ? { status: 'processed', key }
      : { status: 'duplicate', key, firstSeenAt: '2026-12-01T00:00:00.000Z' };
  };
}

/**
 * The invocation record Lambda sends an SQS on-failure destination when an asynchronous invocation failed every
 * attempt (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html): the event as
 * `requestPayload`, the last error as `responsePayload`, as the message body (as Lambda writes it, one line).
 */
export function onFailureRecord(
  requestPayload: unknown,
  options: {
    requestId?: string;
    condition?: string;
    invocations?: number;
    /** The error the function threw last; none for an event that expired before any attempt. */
    error?: { errorType?: string; errorMessage: string };
  } = {},
): string {
  const record: Record<string, unknown> = {
    version: '1.0',
    timestamp: '2026-12-01T00:10:00.000Z',
    requestContext: {
      requestId: options.requestId ?? 'e4b46cbf-b738-4a1c-8880-a18cdf61200e',
      functionArn: `${functionArn(TEST_REGION, 'ebdedup')}:$LATEST`,
      condition: options.condition ?? 'RetriesExhausted',
      approximateInvokeCount: options.invocations ?? 3,
    },
    requestPayload,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
  };
  if (options.error !== undefined) record.responsePayload = { ...options.error, trace: [] };
  return JSON.stringify(record);
}
