import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthService } from '../../auth-service.js';
import { verifyCredentials } from '../../credentials/verify-credentials.js';
import { InvalidClientError, InvalidRequestError } from '../../errors.js';
import { introspectToken } from '../../sessions/introspect.js';
import { verifyAccessToken } from '../../sessions/verify-access-token.js';
import type { SessionUser } from '../../store/port.js';
import { optionalString, readParameters, requestSource } from '../body.js';
import { NO_STORE } from '../errors.js';

function decodeBasic(value: string): { username: string; password: string } | null {
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    // RFC 6749 §2.3.1: both parts are form-encoded before base64.
    const unescape = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
    return { username: unescape(decoded.slice(0, colon)), password: unescape(decoded.slice(colon + 1)) };
  } catch {
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
}

/** The introspection caller: a client application by HTTP Basic, or by a Bearer access token. */
async function authenticateCaller(auth: AuthService, request: FastifyRequest): Promise<SessionUser> {
  const header = request.headers.authorization ?? '';
  const [scheme, value] = header.split(' ', 2);
  if (value && scheme?.toLowerCase() === 'basic') {
    const credentials = decodeBasic(value);
    const user = credentials && (await verifyCredentials(auth, credentials.username, credentials.password, requestSource(request)));
    if (user?.enabled) return user;
  } else if (value && scheme?.toLowerCase() === 'bearer') {
    const identity = await verifyAccessToken(auth, value);
    if (identity) return identity.user;
  }
  throw new InvalidClientError();
}

/**
 * `POST {base}/auth/introspect` (RFC 7662): the caller authenticates as a client application
 * (§2.1); the answer says whether the token is active and, if so, whose it is.
 */
export function registerIntrospectRoute(app: FastifyInstance, auth: AuthService): void {
  app.post('/auth/introspect', async (request, reply) => {
    reply.headers(NO_STORE);
    let caller: SessionUser;
    try {
      caller = await authenticateCaller(auth, request);
    } catch (error) {
      reply.header('www-authenticate', `Basic realm="${auth.config.issuer}", charset="UTF-8"`);
      throw error;
    }
    const parameters = readParameters(request);
    const token = optionalString(parameters, 'token');
    if (token === undefined) throw new InvalidRequestError('Missing parameter: token');
    return introspectToken(auth, caller, token, optionalString(parameters, 'token_type_hint'));
  });
}
