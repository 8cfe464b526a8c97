import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../../core/errors.js';
import { authorizationParameter, matcher } from '../auth.js';
import type { ReceiverMetrics } from '../metrics.js';

export interface MetricsRouteOptions {
  metrics: ReceiverMetrics;
  /** METRICS_TOKEN: when set, a scrape must send `Authorization: Bearer <token>`. */
  token: string | undefined;
}

/** GET /metrics: Prometheus text exposition. */
export function registerMetricsRoute(app: FastifyInstance, { metrics, token }: MetricsRouteOptions): void {
  const matches = token === undefined ? undefined : matcher([token]);
  const guard = async (request: FastifyRequest) => {
    const presented = authorizationParameter(request.headers, 'Bearer');
    if (matches !== undefined && !matches(presented)) {
      throw new UnauthorizedError(
        presented === undefined
          ? 'Bearer realm="ebdedup-metrics"'
          : 'Bearer realm="ebdedup-metrics", error="invalid_token"',
      );
    }
  };
  app.get('/metrics', { ...(matches ? { onRequest: guard } : {}) }, async (_request, reply) => {
    const text = await metrics.text();
    return reply.type(metrics.contentType).send(text);
  });
}
