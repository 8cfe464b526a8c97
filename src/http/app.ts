import helmet from '@fastify/helmet';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { createPipeline } from '../core/create-pipeline.js';
import type { ReceiverError } from '../core/errors.js';
import type { DedupPipeline, RequestTrace } from '../core/pipeline.js';
import type { DedupRule } from '../events/rules.js';
import type { Sink } from '../sinks/types.js';
import type { IdempotencyStore } from '../store/types.js';
import { createAuthenticator } from './auth.js';
import { createErrorHandler, notFoundHandler } from './error-handler.js';
import { registerEventsRoute } from './routes/events.js';
import { registerHealthRoutes } from './routes/health.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The core pipeline, for tests and adapters that want to wait on it. */
    pipeline: DedupPipeline;
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
}

export type App = FastifyInstance;

/**
 * The receiver as a Fastify instance, with no globals: everything it uses is passed in, and closing it closes
 * the pipeline (waiting for late sinks), the sink and the store, in that order.
 */
export async function buildApp({ config, store, sink, logger, rules }: BuildAppOptions): Promise<App> {
  const pipeline = createPipeline({ config, store, sink, logger, ...(rules ? { rules } : {}) });
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance's type the default one.
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request, written in onResponse below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    return503OnClosing: true,
  });

  app.decorateRequest('outcome', undefined);
  app.decorateRequest('trace', undefined);
  app.decorateRequest('failure', undefined);
  app.decorate('pipeline', pipeline);

  // Only JSON is an event: without this, text/plain would be parsed too and reach validation.
  app.removeContentTypeParser('text/plain');

  await app.register(helmet, { global: true });
  app.setErrorHandler(createErrorHandler(config.BODY_LIMIT_BYTES));
  app.setNotFoundHandler(notFoundHandler);

  app.addHook('onResponse', async (request, reply) => {
    const trace = request.trace;
    const line = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      outcome: request.outcome,
      key: trace?.key,
      eventId: trace?.eventId,
      detailType: trace?.detailType,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      ...(request.failure ? { err: request.failure } : {}),
    };
    if (reply.statusCode >= 500) request.log.error(line, 'request failed');
    else if (trace === undefined) request.log.debug(line, 'request');
    else request.log.info(line, 'request');
  });

  registerEventsRoute(app, { path: config.EVENTS_PATH, pipeline, authenticate: createAuthenticator(config) });
  registerHealthRoutes(app, { store });

  // A keep-alive connection whose request is still running when shutdown starts would otherwise hold the
  // server open after its response: tell such clients to close it.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  app.addHook('onClose', async () => {
    await pipeline.close();
    await sink.close();
    await store.close();
  });

  return app;
}
