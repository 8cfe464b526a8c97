/**
 * The receiver's one family of errors. Each carries a stable `code` (the `error` field of the JSON answer) and
 * the HTTP status that tells EventBridge whether a retry can help: API destinations retry 401, 407, 409, 429
 * and 5xx, and send everything else to the dead-letter queue.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html#eb-api-destination-error-handling
 *
 * The HTTP error handler (src/http/error-handler.ts) is the one place that turns them into responses; the
 * Lambda adapter decides from `retryable` whether to throw.
 */

export interface ValidationIssue {
  /** The field as sent, dotted: `detail-type`, `detail.eventBody.id`; empty for the body itself. */
  path: string;
  message: string;
}

export abstract class ReceiverError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    // The class's own name, not 'Error': Lambda's runtime reports `name` as a failed invocation's errorType,
    // in its log line and in the on-failure record (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-exceptions.html).
    this.name = new.target.name;
  }

  abstract readonly code: string;
  abstract readonly statusCode: number;
  /** Seconds for a `Retry-After` header, where the status invites a retry. */
  readonly retryAfterSeconds: number | undefined = undefined;

  get retryable(): boolean {
    return this.statusCode === 401 || this.statusCode === 409 || this.statusCode >= 500;
  }

  /** The JSON body. From 500 up it names the failure class only, never internals. */
  toBody(): Record<string, unknown> {
    return { error: this.code };
  }
}

/** A 4xx whose body carries its message as well: the message is the problem's whole description. */
export abstract class DescribedError extends ReceiverError {
  override toBody(): Record<string, unknown> {
    return { error: this.code, message: this.message };
  }
}

export class InvalidEventError extends ReceiverError {
  readonly code = 'invalid_event';
  readonly statusCode = 400;
  constructor(readonly issues: ValidationIssue[]) {
    super(`invalid event: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`);
  }
  override toBody() {
    return { error: this.code, issues: this.issues };
  }
}

export class UnauthorizedError extends ReceiverError {
  readonly code = 'unauthorized';
  readonly statusCode = 401;
  constructor(readonly wwwAuthenticate?: string) {
    super('missing or wrong credentials');
  }
}

export class PayloadTooLargeError extends ReceiverError {
  readonly code = 'payload_too_large';
  readonly statusCode = 413;
  constructor(limitBytes: number) {
    super(`body larger than ${limitBytes} bytes`);
  }
}

/**
 * A body the receiver cannot read as it stands: not JSON, a charset other than UTF-8, or a Content-Encoding
 * (gzip, br, …). The body says which; for an encoding the answer also carries `Accept-Encoding: identity`
 * (https://www.rfc-editor.org/rfc/rfc9110#section-15.5.16).
 */
export class UnsupportedMediaTypeError extends DescribedError {
  readonly code = 'unsupported_media_type';
  readonly statusCode = 415;
  /** Set when the Content-Encoding is what is unsupported. */
  readonly acceptEncoding: string | undefined;

  constructor(message: string, options: { acceptEncoding?: string } = {}) {
    super(message);
    this.acceptEncoding = options.acceptEncoding;
  }

  static forContentType(contentType: string | undefined): UnsupportedMediaTypeError {
    return new UnsupportedMediaTypeError(
      `content type ${contentType ? `'${contentType}'` : '(none)'} is not JSON: send application/json`,
    );
  }
}

export class NotFoundError extends ReceiverError {
  readonly code = 'not_found';
  readonly statusCode = 404;
  constructor(method: string, url: string) {
    super(`no route ${method} ${url}`);
  }
}

export class InProgressError extends ReceiverError {
  readonly code = 'in_progress';
  readonly statusCode = 409;
  override readonly retryAfterSeconds: number;
  constructor(
    readonly key: string,
    retryAfterSeconds = 1,
  ) {
    super(`key ${key} is being processed right now`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
  override toBody() {
    return { error: this.code, key: this.key };
  }
}

export class ProcessingFailedError extends ReceiverError {
  readonly code = 'processing_failed';
  readonly statusCode = 500;
  constructor(
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(`the sink failed for key ${key}`, options);
  }
}

export class StoreUnavailableError extends ReceiverError {
  readonly code = 'store_unavailable';
  readonly statusCode = 503;
  override readonly retryAfterSeconds = 2;
  constructor(operation: string, options?: ErrorOptions) {
    super(`idempotency store unavailable during ${operation}`, options);
  }
}

export class ProcessingTimeoutError extends ReceiverError {
  readonly code = 'processing_timeout';
  readonly statusCode = 504;
  constructor(
    readonly key: string,
    timeoutMs: number,
    /**
     * What the answer would have been without the deadline, once the still running sink settles (rejects as
     * `handle` would). HTTP answers 504 at once and lets it settle; the Lambda adapter waits for it, because
     * Lambda freezes the environment as soon as the handler returns, sink and lease heartbeat alike.
     */
    readonly late?: Promise<{ status: 'processed'; key: string }>,
  ) {
    super(`the sink passed its ${timeoutMs} ms deadline for key ${key}`);
  }
}

/**
 * The downstream refused the event with a final 4xx: a retry would get the same answer, so EventBridge gets
 * 422 and sends the event to its dead-letter queue instead of retrying for 24 h.
 */
export class RejectedDownstreamError extends ReceiverError {
  readonly code = 'rejected_downstream';
  readonly statusCode = 422;
  constructor(readonly downstreamStatus: number) {
    super(`the downstream rejected the event with HTTP ${downstreamStatus}`);
  }
  override toBody() {
    return { error: this.code, downstreamStatus: this.downstreamStatus };
  }
}

/**
 * The process is overloaded (its event loop lags past SHED_MAX_EVENT_LOOP_DELAY_MS): answering 503 now, with
 * Retry-After, beats accepting work that would pass EventBridge's 5 s client timeout anyway.
 */
export class OverloadedError extends ReceiverError {
  readonly code = 'overloaded';
  readonly statusCode = 503;
  override readonly retryAfterSeconds = 2;
  constructor(measure: string) {
    super(`shedding load: ${measure}`);
  }
}

/**
 * Processing this key has failed MAX_ATTEMPTS times: answered 422 so EventBridge sends the event to its
 * dead-letter queue now instead of retrying for 24 h.
 */
export class PoisonEventError extends ReceiverError {
  readonly code = 'poison_event';
  readonly statusCode = 422;
  constructor(
    readonly key: string,
    readonly failures: number,
  ) {
    super(`processing key ${key} failed ${failures} times (MAX_ATTEMPTS)`);
  }
  override toBody() {
    return { error: this.code, key: this.key, failures: this.failures };
  }
}
