import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth-service.js';

/** `GET /healthz` (the process answers) and `GET /readyz` (the store answers too). */
export function registerHealthRoutes(app: FastifyInstance, auth: AuthService): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await auth.store.ping();
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'store not reachable');
      reply.code(503).header('retry-after', '5');
      return { status: 'unavailable', reason: 'store not reachable' };
    }
  });
}
