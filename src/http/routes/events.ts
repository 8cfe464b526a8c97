import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DedupPipeline, RequestTrace } from '../../core/pipeline.js';
import type { Authenticator } from '../auth.js';
import { unreadableBody } from '../json-body.js';

export interface EventsRouteOptions {
  path: string;
  pipeline: DedupPipeline;
  authenticate: Authenticator;
  /** Called once every answer to this route is sent, whatever it was (metrics). */
  observe: (request: FastifyRequest, reply: FastifyReply) => void;
}

/** POST {EVENTS_PATH}: what an EventBridge API destination calls. */
export function registerEventsRoute(
  app: FastifyInstance,
  { path, pipeline, authenticate, observe }: EventsRouteOptions,
): void {
  app.post(path, {
    // onRequest runs before the body is read, so an unauthenticated caller cannot make us parse anything.
    // Callback style: api-key, basic and bearer check synchronously, and an async hook would cost every
    // request a promise for nothing; only jwt (a JWKS fetch) returns one.
    onRequest: (request, _reply, done) => {
      request.trace = {};
      let pending: void | Promise<void>;
      try {
        pending = authenticate(request.headers);
      } catch (error) {
        done(error as Error);
        return;
      }
      if (pending === undefined) done();
      else pending.then(() => done(), done);
    },
    // After authentication, before a byte of the body is read: a body the receiver would misread is refused.
    preParsing: (request, _reply, payload, done) => {
      const unreadable = unreadableBody(request.headers);
      if (unreadable === undefined) done(null, payload);
      else done(unreadable);
    },
    // Every answer of this route, those of the error handler and of load shedding included.
    onResponse: (request, reply, done) => {
      try {
        observe(request, reply);
      } finally {
        done();
      }
    },
    handler: async (request) => {
      const trace = request.trace as RequestTrace;
      const outcome = await pipeline.handle(
        { body: request.body, rawBody: request.rawBody ?? '', keyBody: request.keyBody },
        request.headers,
        trace,
      );
      request.outcome = outcome.status;
      return outcome;
    },
  });
}
