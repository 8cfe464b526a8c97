import type { FastifyInstance } from 'fastify';
import type { IdempotencyStore } from '../../store/types.js';

export function registerHealthRoutes(app: FastifyInstance, { store }: { store: IdempotencyStore }): void {
  /** Liveness: the process answers. */
  app.get('/healthz', async () => ({ status: 'ok' }));

  /** Readiness: the store answers, so a load balancer stops sending events that could only get 503. */
  app.get('/readyz', async (request, reply) => {
    try {
      await store.checkHealth();
      return { status: 'ready', store: store.kind };
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed');
      return reply
        .code(503)
        .header('retry-after', '2')
        .send({ status: 'unavailable', error: 'store_unavailable' });
    }
  });
}
