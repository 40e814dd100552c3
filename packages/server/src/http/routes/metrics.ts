import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';

/** `GET /metrics`: Prometheus text exposition. */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
