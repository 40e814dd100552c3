import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth-service.js';
import { NO_STORE } from '../errors.js';

/** How long a probe should wait before asking again while the store is unreachable. */
const RETRY_AFTER_SECONDS = 5;

/** `GET /healthz` (the process answers) and `GET /readyz` (the store answers too). */
export function registerHealthRoutes(app: FastifyInstance, auth: AuthService): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await auth.store.ping();
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'store not reachable');
      reply.code(503).headers(NO_STORE).header('retry-after', String(RETRY_AFTER_SECONDS));
      return { error: 'temporarily_unavailable', error_description: 'The store cannot be reached' };
    }
  });
}
