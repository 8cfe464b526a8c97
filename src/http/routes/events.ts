import type { FastifyInstance } from 'fastify';
import type { DedupPipeline, RequestTrace } from '../../core/pipeline.js';
import type { Authenticator } from '../auth.js';

export interface EventsRouteOptions {
  path: string;
  pipeline: DedupPipeline;
  authenticate: Authenticator;
}

/** POST {EVENTS_PATH}: what an EventBridge API destination calls. */
export function registerEventsRoute(
  app: FastifyInstance,
  { path, pipeline, authenticate }: EventsRouteOptions,
): void {
  app.post(path, {
    // onRequest runs before the body is read, so an unauthenticated caller cannot make us parse anything.
    onRequest: async (request) => {
      request.trace = {};
      // Synchronous for api-key, basic and bearer; a promise only for jwt.
      await authenticate(request.headers);
    },
    handler: async (request) => {
      const trace = request.trace as RequestTrace;
      const outcome = await pipeline.handle(request.body, request.headers, trace);
      request.outcome = outcome.status;
      return outcome;
    },
  });
}
