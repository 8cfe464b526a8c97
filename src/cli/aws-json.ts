import { type Agent, request } from 'undici';
import type { AwsCredentials, CredentialSource } from './credentials.js';
import { errorMessage, firstLine, type ResolvedContext, redactUrl } from './io.js';
import { parseRetryAfter } from './retry.js';
import { signRequest } from './sigv4.js';

/**
 * One signed call to an AWS service. Over the JSON protocol (EventBridge `application/x-amz-json-1.1`, SQS
 * `application/x-amz-json-1.0`) it is a POST to the endpoint's `/` with the operation in `X-Amz-Target`; a REST
 * call (Lambda's Invoke) posts to a path of its own. Both are signed with SigV4, and errors come back as a
 * 4xx/5xx whose body names the type in `__type` (maybe `namespace#Type`) or in the `x-amzn-errortype` header.
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-faqs.html)
 */

export interface AwsService {
  endpoint: URL;
  region: string;
  /** The SigV4 signing name: `events`, `sqs`, `lambda`. */
  signingName: string;
  contentType: string;
  credentials: CredentialSource;
  timeoutMs: number;
}

/** How a service's calls are signed and sent: its SigV4 signing name (`events`, `sqs`, `lambda`) and content type. */
export interface AwsProtocol {
  signingName: string;
  contentType: string;
}

/** A service to call: its protocol, where it answers (endpoint and region), with which credentials, how long. */
export function awsService(
  protocol: AwsProtocol,
  endpoint: URL,
  region: string,
  credentials: CredentialSource,
  timeoutMs: number,
): AwsService {
  return { ...protocol, endpoint, region, credentials, timeoutMs };
}

/** A failed call: `retryable` says whether sending it again may help; `status` is absent when no answer came. */
export type AwsError = {
  kind: 'error';
  retryable: boolean;
  message: string;
  type?: string;
  status?: number;
  retryAfterMs?: number;
};

export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** A 2xx answer as it came: the body's text and the headers (Lambda's Invoke answers in both). */
export type AwsAnswer = { kind: 'ok'; status: number; headers: ResponseHeaders; text: string } | AwsError;

export type AwsJsonAnswer =
  | { kind: 'ok'; status: number; json: Record<string, unknown>; text: string }
  | AwsError;

/** One signed request: its path below the endpoint (default the endpoint's own), its headers, the body. */
export interface AwsRequest {
  path?: string;
  headers: Record<string, string>;
  body: string;
}

/** Error codes worth sending again (throttling, internal errors); anything else (AccessDenied…) is final. */
export function isRetryableAwsError(code: string): boolean {
  return /throttl|internal|unavailable|timeout/i.test(code);
}

/** The AWS JSON error type: `__type` (maybe `ns#Type`) or the `x-amzn-errortype` header. */
function awsErrorType(
  json: Record<string, unknown>,
  header: string | string[] | undefined,
): string | undefined {
  const raw = typeof json.__type === 'string' ? json.__type : Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw === '') return undefined;
  const afterHash = raw.slice(raw.lastIndexOf('#') + 1);
  return afterHash.split(':')[0];
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON: described by status.
  }
  return {};
}

/** The URL of `path` below the endpoint (which may have a path of its own, as a proxy's does). */
function requestUrl(endpoint: URL, path: string | undefined): URL {
  if (path === undefined) return endpoint;
  const url = new URL(endpoint);
  url.pathname = `${endpoint.pathname.replace(/\/$/, '')}${path}`;
  return url;
}

/** Sends one signed request to `service`; never throws (a network failure is a retryable error answer). */
export async function callAws(
  dispatcher: Agent,
  service: AwsService,
  input: AwsRequest,
  ctx: ResolvedContext,
): Promise<AwsAnswer> {
  let credentials: AwsCredentials;
  try {
    credentials = await service.credentials();
  } catch (error) {
    // Temporary credentials that could not be fetched again (an expired SSO session, a failing
    // credential_process): final, like a refused signature. The SDK's message names no secret.
    return { kind: 'error', retryable: false, message: `AWS credentials: ${firstLine(error)}` };
  }
  const url = requestUrl(service.endpoint, input.path);
  const headers = signRequest({
    url,
    method: 'POST',
    service: service.signingName,
    region: service.region,
    headers: { 'Content-Type': service.contentType, ...input.headers },
    body: input.body,
    credentials,
    date: ctx.clock(),
  });
  const where = redactUrl(service.endpoint);
  let status: number;
  let text: string;
  let responseHeaders: ResponseHeaders;
  try {
    const response = await request(url, {
      dispatcher,
      method: 'POST',
      headers,
      body: input.body,
      signal: AbortSignal.timeout(service.timeoutMs),
    });
    status = response.statusCode;
    responseHeaders = response.headers;
    text = await response.body.text();
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    const message =
      name === 'TimeoutError' || name === 'AbortError'
        ? `no answer from ${where} within ${service.timeoutMs}ms`
        : `cannot reach ${where}: ${errorMessage(error)}`;
    return { kind: 'error', retryable: true, message };
  }
  if (status >= 200 && status <= 299) return { kind: 'ok', status, headers: responseHeaders, text };
  const json = parseObject(text);
  const type = awsErrorType(json, responseHeaders['x-amzn-errortype']);
  const awsMessage =
    typeof json.message === 'string'
      ? json.message
      : typeof json.Message === 'string'
        ? json.Message
        : undefined;
  const retryable = status >= 500 || status === 429 || (type !== undefined && isRetryableAwsError(type));
  const described = [type, awsMessage].filter((part) => part !== undefined).join(': ') || text.slice(0, 200);
  const answer: AwsError = {
    kind: 'error',
    retryable,
    status,
    message: `${where} answered ${status}${described ? ` ${described}` : ''}`,
  };
  if (type !== undefined) answer.type = type;
  const retryAfterMs = parseRetryAfter(responseHeaders['retry-after'], ctx.clock().getTime());
  if (retryAfterMs !== undefined) answer.retryAfterMs = retryAfterMs;
  return answer;
}

/** One call over the JSON protocol: the operation in `X-Amz-Target`, posted to the endpoint, a JSON answer. */
export async function callAwsJson(
  dispatcher: Agent,
  service: AwsService,
  target: string,
  payload: unknown,
  ctx: ResolvedContext,
): Promise<AwsJsonAnswer> {
  const answer = await callAws(
    dispatcher,
    service,
    { headers: { 'X-Amz-Target': target }, body: JSON.stringify(payload) },
    ctx,
  );
  if (answer.kind === 'error') return answer;
  return { kind: 'ok', status: answer.status, json: parseObject(answer.text), text: answer.text };
}
