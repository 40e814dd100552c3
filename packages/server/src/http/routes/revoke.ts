import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth-service.js';
import { InvalidRequestError } from '../../errors.js';
import { revokeToken } from '../../sessions/revoke.js';
import { optionalString, readParameters, requestSource } from '../body.js';
import { NO_STORE } from '../errors.js';

/**
 * `POST {base}/auth/revoke` (RFC 7009): needs only the token itself (§2.1) and answers 200 whether
 * or not the token was known (§2.2).
 */
export function registerRevokeRoute(app: FastifyInstance, auth: AuthService): void {
  app.post('/auth/revoke', async (request, reply) => {
    const parameters = readParameters(request);
    const token = optionalString(parameters, 'token');
    if (token === undefined) throw new InvalidRequestError('Missing parameter: token');
    await revokeToken(auth, token, optionalString(parameters, 'token_type_hint'), requestSource(request));
    reply.code(200).headers(NO_STORE).send();
  });
}
