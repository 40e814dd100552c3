import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth-service.js';
import { InvalidRequestError } from '../../errors.js';
import { logout } from '../../sessions/sessions.js';
import { optionalString, readParameters, requestSource } from '../body.js';
import { NO_STORE } from '../errors.js';

/** `POST {base}/auth/logout` with the refresh token (JSON or form): ends the session at once; 204. */
export function registerLogoutRoute(app: FastifyInstance, auth: AuthService): void {
  app.post('/auth/logout', async (request, reply) => {
    const refreshToken = optionalString(readParameters(request), 'refresh_token');
    if (refreshToken === undefined) throw new InvalidRequestError('No refresh token');
    await logout(auth, refreshToken, requestSource(request));
    reply.code(204).headers(NO_STORE).send();
  });
}
