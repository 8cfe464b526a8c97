import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  NotFoundError,
  PayloadTooLargeError,
  ReceiverError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '../core/errors.js';

/**
 * The one place where errors become answers. Fastify's own body-parsing errors are translated into the
 * receiver's family first, so every answer has the contract's shape. Below 500 the body names the problem;
 * from 500 up it names only the class of failure, and the log line carries `err`.
 */
export function toReceiverError(
  error: FastifyError,
  request: FastifyRequest,
  bodyLimit: number,
): ReceiverError | undefined {
  if (error instanceof ReceiverError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return UnsupportedMediaTypeError.forContentType(request.headers['content-type']);
  }
  // A body that is not valid JSON is refused by the receiver's own parser (json-body.ts) with an
  // InvalidEventError already.
  return undefined;
}

export function createErrorHandler(bodyLimit: number) {
  return function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    const known = toReceiverError(error, request, bodyLimit);
    if (known === undefined) {
      const status =
        error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
          ? error.statusCode
          : 500;
      request.outcome = status >= 500 ? 'internal_error' : 'bad_request';
      if (status >= 500) {
        request.log.error({ err: error }, 'unexpected error');
        return reply.code(500).send({ error: 'internal_error' });
      }
      return reply.code(status).send({ error: 'bad_request', message: error.message });
    }
    request.outcome = known.code;
    if (known.statusCode >= 500) request.failure = known;
    if (known.retryAfterSeconds !== undefined) reply.header('retry-after', String(known.retryAfterSeconds));
    if (known instanceof UnauthorizedError && known.wwwAuthenticate) {
      reply.header('www-authenticate', known.wwwAuthenticate);
    }
    if (known instanceof UnsupportedMediaTypeError && known.acceptEncoding) {
      reply.header('accept-encoding', known.acceptEncoding);
    }
    return reply.code(known.statusCode).send(known.toBody());
  };
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  const error = new NotFoundError(request.method, request.url);
  request.outcome = error.code;
  return reply.code(error.statusCode).send(error.toBody());
}
