import type { FastifyInstance } from 'fastify';
import { KEY_REREAD_MS, type AuthService } from '../../auth-service.js';

/** `GET {base}/auth/certs`: the JWKS (RFC 7517) of every key whose tokens may still be valid. */
export function registerCertsRoute(app: FastifyInstance, auth: AuthService): void {
  app.get('/auth/certs', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60');
    // Fresh from the store: a key another instance just started signing with must be here too.
    return auth.keys.fresh(KEY_REREAD_MS);
  });
}
