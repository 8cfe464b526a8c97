import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { SECURITY_HEADER_ENTRIES, SECURITY_HEADER_LINES } from './security-headers.js';

/**
 * The Fastify instance the configuration describes: HTTPS when TLS_CERT_FILE/TLS_KEY_FILE are set, the proxy
 * trust of TRUST_PROXY, and the limits that keep slow or idle clients from holding sockets: the whole request
 * must arrive within REQUEST_TIMEOUT_MS (else 408), a socket idle for CONNECTION_TIMEOUT_MS is closed, and
 * connections past MAX_CONNECTIONS are closed on arrival.
 */
export function createServer(config: Config, logger: Logger): FastifyInstance {
  const timeouts = {
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    headersTimeout: config.REQUEST_TIMEOUT_MS,
    // How often Node looks for requests past those timeouts (its default, 30 s, would let them run long).
    connectionsCheckingInterval: Math.min(1000, config.REQUEST_TIMEOUT_MS),
  };
  const options = {
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance's type the default one.
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request, written in onResponse below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    return503OnClosing: true,
    // A number of hops as a function: Fastify accepts a number too, but its types do not say so.
    trustProxy:
      typeof config.TRUST_PROXY === 'number'
        ? trustHops(config.TRUST_PROXY)
        : (config.TRUST_PROXY as boolean | string[]),
    connectionTimeout: config.CONNECTION_TIMEOUT_MS,
    // An idle keep-alive connection is closed after CONNECTION_TIMEOUT_MS: advertise that, not Fastify's 72 s
    // (`Keep-Alive: timeout=72`), or a client reuses a connection the receiver has already closed.
    keepAliveTimeout: config.CONNECTION_TIMEOUT_MS,
    // A URL Fastify's router cannot decode (`/events%ZZ`) gets the receiver's shape, not Fastify's own body.
    frameworkErrors: answerBadRequest,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    clientErrorHandler: createClientErrorHandler(logger),
  };
  let app: FastifyInstance;
  if (config.TLS_CERT_FILE !== undefined && config.TLS_KEY_FILE !== undefined) {
    const https = {
      ...timeouts,
      cert: readFileSync(config.TLS_CERT_FILE),
      key: readFileSync(config.TLS_KEY_FILE),
    };
    // An HTTPS instance differs from the default one only in its raw server's type, which no route uses.
    app = Fastify({ ...options, http2: false, https }) as unknown as FastifyInstance;
  } else {
    app = Fastify({ ...options, http: timeouts });
  }
  if (config.MAX_CONNECTIONS > 0) app.server.maxConnections = config.MAX_CONNECTIONS;
  return app;
}

/** Answers to what Node refuses before a request exists, in the receiver's `{"error": code}` shape. */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request_timeout'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'headers_too_large'],
};

/**
 * Node's clientError: a request that never reached Fastify (REQUEST_TIMEOUT_MS passed, headers over 16 KiB,
 * bytes that are not HTTP). Answered like everything else (the `{"error": code}` body, the security headers),
 * then the socket is closed.
 */
function createClientErrorHandler(logger: Logger) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, reason, code] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Bad Request', 'bad_request'];
    logger.debug({ err: error, status, client: socket.remoteAddress }, 'client error');
    if (socket.writable) {
      const body = JSON.stringify({ error: code });
      socket.write(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n${SECURITY_HEADER_LINES}Connection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}

/**
 * Fastify's router errors (a URL it cannot decode, a parameter too long), answered before any hook runs: 400
 * `{"error":"bad_request"}` with the security headers, like every other answer.
 */
function answerBadRequest(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  request.outcome = 'bad_request';
  request.log.debug({ err: error }, 'bad request');
  for (const [name, value] of SECURITY_HEADER_ENTRIES) reply.header(name, value);
  void reply.code(400).send({ error: 'bad_request' });
}

/** Trusts the `hops` proxies nearest to the server (X-Forwarded-For read from the right). */
function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}
