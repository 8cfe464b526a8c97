import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import underPressure from '@fastify/under-pressure';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { closeInReverse, createPipeline } from '../core/create-pipeline.js';
import { OverloadedError, type ReceiverError } from '../core/errors.js';
import type { DedupPipeline, RequestTrace } from '../core/pipeline.js';
import type { DedupRule } from '../events/rules.js';
import { RedisStreamSink } from '../sinks/redis-stream.js';
import type { Sink } from '../sinks/types.js';
import { RedisStore } from '../store/redis/index.js';
import type { IdempotencyStore } from '../store/types.js';
import { createAuthenticator } from './auth.js';
import { createErrorHandler, notFoundHandler } from './error-handler.js';
import { registerJsonBodyParser } from './json-body.js';
import { lingerOnUnreadBody } from './linger.js';
import { instrumentSink, instrumentStore, ReceiverMetrics } from './metrics.js';
import { type AdminKeyspace, registerAdminRoutes } from './routes/admin.js';
import { registerEventsRoute } from './routes/events.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMetricsRoute } from './routes/metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The core pipeline, for tests and adapters that want to wait on it. */
    pipeline: DedupPipeline;
    /** This app's metrics (its own registry). */
    metrics: ReceiverMetrics;
  }
  interface FastifyRequest {
    /** How the request ended: `processed`, `duplicate`, or an error code. */
    outcome: string | undefined;
    trace: RequestTrace | undefined;
    /** A 5xx's cause, for the request's log line. */
    failure: ReceiverError | undefined;
  }
}

export interface BuildAppOptions {
  config: Config;
  store: IdempotencyStore;
  sink: Sink;
  logger: Logger;
  rules?: readonly DedupRule[];
  /** How often load is sampled for shedding; tests shorten it. */
  pressureSampleIntervalMs?: number;
}

export type App = FastifyInstance;

/**
 * The Fastify instance the configuration describes: HTTPS when TLS_CERT_FILE/TLS_KEY_FILE are set, the proxy
 * trust of TRUST_PROXY, and the limits that keep slow or idle clients from holding sockets: the whole request
 * must arrive within REQUEST_TIMEOUT_MS (else 408), a socket idle for CONNECTION_TIMEOUT_MS is closed, and
 * connections past MAX_CONNECTIONS are closed on arrival.
 */
function createServer(config: Config, logger: Logger): App {
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
  let app: App;
  if (config.TLS_CERT_FILE !== undefined && config.TLS_KEY_FILE !== undefined) {
    const https = {
      ...timeouts,
      cert: readFileSync(config.TLS_CERT_FILE),
      key: readFileSync(config.TLS_KEY_FILE),
    };
    // An HTTPS instance differs from the default one only in its raw server's type, which no route uses.
    app = Fastify({ ...options, http2: false, https }) as unknown as App;
  } else {
    app = Fastify({ ...options, http: timeouts });
  }
  if (config.MAX_CONNECTIONS > 0) app.server.maxConnections = config.MAX_CONNECTIONS;
  return app;
}

/**
 * The security headers of a JSON API, as the OWASP REST Security Cheat Sheet lists them for every API response:
 * https://cheatsheetseries.owasp.org/cheatsheets/REST_Security_Cheat_Sheet.html#security-headers
 * They replace @fastify/helmet, which cost 7–8 % of the receiver's CPU (it re-parsed its CSP for every response);
 * measured again on 2026-12-04 (`npm run bench -- --replacements`, busy 2 vCPU VM): helmet 94 µs, this hook 52 µs
 * per bare-route request, 37 µs saved, ≈ 20 % of a new event's CPU (bench/results/replacements-2026-12-04.md).
 * A hand-written replacement kept by measurement: it saves far more than the 5 % of a request's CPU the rule asks
 * (17–40 % across 2026-12-04's runs). test/http/security-headers.test.ts holds this set to helmet's, header by
 * header. The receiver
 * answers only JSON, to machines (API destinations, probes, scrapers), so helmet's headers for HTML documents
 * (Cross-Origin-Opener/Resource-Policy, Origin-Agent-Cluster, X-DNS-Prefetch-Control, X-Download-Options,
 * X-Permitted-Cross-Domain-Policies, X-XSS-Protection) are left out.
 * - HSTS as helmet sent it: on every answer, TLS or not. Over plain HTTP a browser ignores it
 *   (https://www.rfc-editor.org/rfc/rfc6797#section-8.1); behind a TLS-terminating proxy, which an API
 *   destination's HTTPS endpoint usually is, the client gets it over HTTPS.
 * - `frame-ancestors 'none'` and X-Frame-Options: DENY forbid framing an answer (helmet allowed the same origin);
 *   `default-src 'none'` and Referrer-Policy are the cheat sheet's defence in depth should a browser render one.
 * - Cache-Control: no-store: an answer (processed, duplicate, a dedup key) must never come from a cache.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
});
const SECURITY_HEADER_ENTRIES = Object.entries(SECURITY_HEADERS);
/** The same headers as raw HTTP/1.1 lines, for the answers written to a socket before Fastify has a request. */
const SECURITY_HEADER_LINES = SECURITY_HEADER_ENTRIES.map(([name, value]) => `${name}: ${value}\r\n`).join(
  '',
);

/** How much of an unread body is read and discarded after an early answer: this many times BODY_LIMIT_BYTES. */
const LINGER_BODY_LIMITS = 4;
/** And for how long at most: EventBridge's API destination gives up on a request after 5 s anyway. */
const LINGER_MAX_MS = 5000;

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

/**
 * Where the admin routes find a key: with SINK=redis-stream the dedup key sits in its stream's hash slot,
 * not at the store's own name for it.
 */
function adminKeyspace(store: IdempotencyStore, sink: Sink, observed: IdempotencyStore): AdminKeyspace {
  if (sink instanceof RedisStreamSink && store instanceof RedisStore) {
    return {
      inspect: (key) => store.inspectRedisKey(sink.locate(key).dedupKey),
      remove: (key) => store.deleteRedisKey(sink.locate(key).dedupKey),
    };
  }
  return { inspect: (key) => observed.inspectKey(key), remove: (key) => observed.deleteKey(key) };
}

/**
 * The receiver as a Fastify instance, with no globals: everything it uses is passed in, and closing it closes
 * the pipeline (waiting for late sinks), the sink and the store, in that order. The store and the sink are
 * wrapped to be measured (app.metrics, GET /metrics).
 */
export async function buildApp(options: BuildAppOptions): Promise<App> {
  const { config, store, sink, logger, rules } = options;
  const metrics = new ReceiverMetrics({
    info: {
      store: store.kind,
      sink: sink.name,
      auth_mode: config.AUTH_MODE,
      strategy: config.DEDUP_STRATEGY,
      tls: config.TLS_CERT_FILE === undefined ? 'off' : 'on',
    },
  });
  const observedStore = instrumentStore(store, metrics);
  const observedSink = instrumentSink(sink, metrics);
  const pipeline = createPipeline({
    config,
    store: observedStore,
    sink: observedSink,
    logger,
    ...(rules ? { rules } : {}),
  });
  const app = createServer(config, logger);

  app.decorateRequest('outcome', undefined);
  app.decorateRequest('trace', undefined);
  app.decorateRequest('failure', undefined);
  app.decorate('pipeline', pipeline);
  app.decorate('metrics', metrics);

  // Only JSON is an event: without this, text/plain would be parsed too and reach validation.
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);

  // First of the onRequest hooks, so every answer carries the headers: a 401 from authentication, a 503 from
  // load shedding, a 404, and anything the error handler sends (it keeps headers already set). Callback style
  // (no promise per request) with values computed once, at load.
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of SECURITY_HEADER_ENTRIES) reply.header(name, value);
    done();
  });
  // SHED_MAX_EVENT_LOOP_DELAY_MS, by @fastify/under-pressure as its documentation shows. From 2026-11-28 to
  // 2026-12-04 a hand-written monitor in the events route's hook stood here instead; the bench measured that
  // it saved 3.9 µs of a new event's 166 µs of CPU (2 %), under the 5 % a hand-written replacement must save
  // (bench/results/replacements-2026-12-04.md). Registered after the security headers' hook, so a shed answer
  // carries them, and as a global hook, so it runs before the route's own (authentication).
  if (config.SHED_MAX_EVENT_LOOP_DELAY_MS > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: config.SHED_MAX_EVENT_LOOP_DELAY_MS,
      sampleInterval: options.pressureSampleIntervalMs ?? 1000,
      // Only events are shed: health, readiness and metrics must keep answering while the process is busy.
      pressureHandler: (request, _reply, type, value) =>
        request.routeOptions.url === config.EVENTS_PATH
          ? Promise.reject(new OverloadedError(`${type} ${Math.round(value ?? 0)}`))
          : undefined,
    });
  }
  app.setErrorHandler(createErrorHandler(config.BODY_LIMIT_BYTES));
  app.setNotFoundHandler(notFoundHandler);

  // The one log line of an answer, for every route.
  const logResponse = (request: FastifyRequest, reply: FastifyReply): void => {
    const trace = request.trace;
    const level = reply.statusCode >= 500 ? 'error' : trace === undefined ? 'debug' : 'info';
    // The line is built only when it will be written: at LOG_LEVEL=warn a request costs no log allocation.
    if (!logger.isLevelEnabled(level)) return;
    const line = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      outcome: request.outcome,
      key: trace?.key,
      eventId: trace?.eventId,
      detailType: trace?.detailType,
      client: request.ip,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      ...(request.failure ? { err: request.failure } : {}),
    };
    request.log[level](line, level === 'error' ? 'request failed' : 'request');
  };
  // Callback style: an async hook costs every response a promise.
  app.addHook('onResponse', (request, reply, done) => {
    try {
      logResponse(request, reply);
      if (request.raw.complete === false) {
        // Within the request's own time limit, so that Node's request timeout does not answer it again.
        lingerOnUnreadBody(request.raw, {
          maxBytes: LINGER_BODY_LIMITS * config.BODY_LIMIT_BYTES,
          maxMs: Math.min(LINGER_MAX_MS, config.REQUEST_TIMEOUT_MS - reply.elapsedTime - 100),
        });
      }
    } finally {
      done();
    }
  });
  // The metrics of a delivery, from the events route's own onResponse hook: a global hook would have to ask
  // which route answered, and Fastify builds a new object for request.routeOptions on every read.
  const observeDelivery = (request: FastifyRequest, reply: FastifyReply): void => {
    metrics.observeRequest(request.outcome, reply.statusCode, reply.elapsedTime / 1000, {
      strategy: config.DEDUP_STRATEGY,
      detailType: request.trace?.detailType,
    });
  };

  registerEventsRoute(app, {
    path: config.EVENTS_PATH,
    pipeline,
    authenticate: createAuthenticator(config),
    observe: observeDelivery,
  });
  registerHealthRoutes(app, { store: observedStore });
  registerMetricsRoute(app, { metrics, token: config.METRICS_TOKEN });
  // Without ADMIN_TOKEN the admin routes do not exist: 404, like any unknown path.
  if (config.ADMIN_TOKEN.length > 0) {
    await registerAdminRoutes(app, {
      tokens: config.ADMIN_TOKEN,
      keyspace: adminKeyspace(store, sink, observedStore),
    });
  }

  // A keep-alive connection whose request is still running when shutdown starts would otherwise hold the
  // server open after its response: tell such clients to close it.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Callback style: an async hook would cost a promise on every response for a flag that is almost never set.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    // An answer before the whole body arrived (Fastify asks to close after a refused body): keep the
    // connection and read the rest instead, so the answer reaches a client still sending (linger.ts).
    else if (request.raw.complete === false) reply.removeHeader('connection');
    done(null, payload);
  });

  app.addHook('onClose', async () => {
    await closeInReverse([store, sink, pipeline]);
  });

  return app;
}
