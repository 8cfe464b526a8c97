import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
import { SECURITY_HEADER_ENTRIES } from './security-headers.js';
import { createServer } from './server.js';

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

/** How much of an unread body is read and discarded after an early answer: this many times BODY_LIMIT_BYTES. */
const LINGER_BODY_LIMITS = 4;
/** And for how long at most: EventBridge's API destination gives up on a request after 5 s anyway. */
const LINGER_MAX_MS = 5000;

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
