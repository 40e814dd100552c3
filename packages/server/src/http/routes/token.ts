import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService } from '../../auth-service.js';
import { InvalidRequestError, UnsupportedGrantTypeError } from '../../errors.js';
import { passwordGrant } from '../../grants/password.js';
import { refreshTokenGrant } from '../../grants/refresh-token.js';
import type { TokenGrant } from '../../sessions/issue-tokens.js';
import { isFormRequest, optionalString, readParameters, requestSource, type Parameters } from '../body.js';
import { abortWhenClientCloses } from '../client-closed.js';
import { NO_STORE } from '../errors.js';
import type { Metrics } from '../metrics.js';

type GrantName = 'password' | 'refresh_token';

/**
 * Grant types registered with IANA that this server does not support: only these are named back
 * in the error. Anything else is not repeated, since a client that puts a refresh token or a
 * password in `grant_type` would otherwise get (and log) most of it in the answer.
 */
const KNOWN_GRANT_TYPES = new Set([
  'authorization_code',
  'client_credentials',
  'implicit',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:saml2-bearer',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:openid:params:grant-type:ciba',
]);

/**
 * Which grant a request asks for. `grant_type` absent means password (the page's first request)
 * unless the body carries only a refresh token (the page says grant_type "defaults to refresh_token").
 */
function selectGrant(parameters: Parameters): GrantName {
  const grantType = optionalString(parameters, 'grant_type');
  if (grantType === 'password' || grantType === 'refresh_token') return grantType;
  if (grantType !== undefined) {
    throw new UnsupportedGrantTypeError(KNOWN_GRANT_TYPES.has(grantType) ? `Unsupported grant_type: ${grantType}` : undefined);
  }
  const onlyRefresh =
    optionalString(parameters, 'refresh_token') !== undefined &&
    optionalString(parameters, 'username') === undefined &&
    optionalString(parameters, 'password') === undefined;
  return onlyRefresh ? 'refresh_token' : 'password';
}

function required(parameters: Parameters, name: string, message = `Missing parameter: ${name}`): string {
  const value = parameters[name];
  if (!Object.hasOwn(parameters, name) || typeof value !== 'string' || value === '') {
    throw new InvalidRequestError(message);
  }
  return value;
}

/**
 * The thumbprint of the key of the request's DPoP proof, checked (RFC 9449 §4.3) and its `jti`
 * recorded; null when the request carries none. The proof's `htu` may name the endpoint as the
 * issuer's public URL or as this request reached it (scheme and host as the trusted proxies say).
 */
async function checkDpopProof(auth: Pick<AuthService, 'dpopProofs' | 'config'>, request: FastifyRequest): Promise<string | null> {
  const header = request.headers.dpop;
  if (header === undefined) return null;
  // Scheme and host come from the client or a proxy: a URI that is none is no URI a proof can name.
  const seen = `${request.protocol}://${request.host}${request.url}`;
  const urls = [`${auth.config.issuer}/auth/token`, ...(/^https?$/i.test(request.protocol) && URL.canParse(seen) ? [seen] : [])];
  return (await auth.dpopProofs.check(header, { method: request.method, urls })).jkt;
}

async function runGrant(auth: AuthService, grant: GrantName, parameters: Parameters, request: FastifyRequest, reply: FastifyReply): Promise<TokenGrant> {
  const source = requestSource(request);
  if (grant === 'password') {
    const username = required(parameters, 'username');
    const password = required(parameters, 'password');
    const dpopJkt = await checkDpopProof(auth, request);
    return passwordGrant(auth, { username, password, source, signal: abortWhenClientCloses(reply), dpopJkt });
  }
  const refreshToken = required(parameters, 'refresh_token', 'No refresh token');
  return refreshTokenGrant(auth, { refreshToken, source, dpopJkt: await checkDpopProof(auth, request) });
}

/**
 * The page's response: every field it lists, `id_token: null` included. A form-encoded request
 * gets the RFC 6749 §5.1 shape instead, without the null `id_token` a strict client would reject.
 */
function toResponse(grant: TokenGrant, form: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    access_token: grant.accessToken,
    expires_in: grant.expiresIn,
    refresh_expires_in: grant.refreshExpiresIn,
    // RFC 9449 §5: a bound token says so; every other caller sees the page's "bearer".
    token_type: grant.jkt === null ? 'bearer' : 'DPoP',
    id_token: null,
    'not-before-policy': grant.notBeforePolicy,
    session_state: grant.sessionId,
    scope: '',
    refresh_token: grant.refreshToken,
  };
  if (form) delete body.id_token;
  return body;
}

/** `POST {base}/auth/token`: the password and refresh grants of the AntPeer contract. */
export function registerTokenRoute(app: FastifyInstance, auth: AuthService, metrics: Metrics): void {
  app.post('/auth/token', async (request, reply) => {
    const parameters = readParameters(request);
    const grant = selectGrant(parameters);
    const endTimer = metrics.grantDuration.startTimer({ grant });
    try {
      const result = await runGrant(auth, grant, parameters, request, reply);
      metrics.grants.inc({ grant, outcome: 'ok' });
      reply.headers(NO_STORE);
      if (auth.dpopProofs.nonceRequired && request.headers.dpop !== undefined) reply.header('dpop-nonce', auth.dpopProofs.nonce());
      return toResponse(result, isFormRequest(request));
    } catch (error) {
      const outcome = (error as { error?: unknown }).error;
      metrics.grants.inc({ grant, outcome: typeof outcome === 'string' ? outcome : 'server_error' });
      throw error;
    } finally {
      endTimer();
    }
  });
}
