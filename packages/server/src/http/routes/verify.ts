import { authenticate, type ChallengeResponse, type PresentedRequest } from '@antpeer/guard';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService } from '../../auth-service.js';
import { IDENTITY_HEADERS } from '../../gateway/forwarded-headers.js';
import { checkIdentityInStore, revokedChallenge } from '../../sessions/verify-access-token.js';
import { NO_STORE } from '../errors.js';
import { tokenRefusal, type Metrics } from '../metrics.js';

/** Where the forward-auth endpoint lives under the base; Envoy appends the original path to it. */
export const VERIFY_PATH = '/auth/verify';

/**
 * The headers a proxy names the original request with, in the order they are read: nginx's
 * (`proxy_set_header X-Original-URI $request_uri`), then Traefik's ForwardAuth ones. Envoy's
 * ext_authz sends neither: it keeps the method and appends the original path to `path_prefix`.
 */
const METHOD_HEADERS = ['x-original-method', 'x-forwarded-method'] as const;
const URI_HEADERS = ['x-original-uri', 'x-forwarded-uri'] as const;

/** RFC 9110 §9.1: a method is a token. */
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;
/**
 * RFC 9112 §3.2 request targets as a proxy forwards them: origin-form (`/path?query`),
 * absolute-form (`http://host/path`) or asterisk-form, with no spaces or control characters (see
 * {@link isRequestTarget}).
 */
const URI_START = /^(?:\/|https?:\/\/[^/ ]|\*$)/i;
const URI_MAX = 8192;

/**
 * Bytes above ASCII pass (nginx forwards a URI's raw UTF-8, which Node reads as Latin-1, so they
 * arrive as U+0080–U+00FF), so that a client cannot turn its own odd but accepted URI into an error.
 */
function isRequestTarget(value: string): boolean {
  if (value.length > URI_MAX || !URI_START.test(value)) return false;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code <= 0x20 || code === 0x7f) return false;
  }
  return true;
}

/** The original request a proxy asks about, for the log; it never changes the decision. */
interface ForwardedRequest {
  method: string;
  uri: string | null;
}

/** The first header of `names` that is present; null when none is. */
function firstHeader(request: FastifyRequest, names: readonly string[]): string | null {
  for (const name of names) {
    const value = request.headers[name];
    if (typeof value === 'string') return value;
  }
  return null;
}

/**
 * Reads the original method and URI, refusing forwarded headers that no proxy would send: given
 * twice, a method that is not an RFC 9110 token, a URI that is not a request target. Returns
 * the description of the first problem instead of throwing: it runs on every request.
 */
function readForwardedRequest(request: FastifyRequest, suffix: string): ForwardedRequest | string {
  const seen = new Set<string>();
  const raw = request.raw.rawHeaders;
  for (let index = 0; index < raw.length; index += 2) {
    const name = (raw[index] as string).toLowerCase();
    if (!(METHOD_HEADERS as readonly string[]).includes(name) && !(URI_HEADERS as readonly string[]).includes(name)) continue;
    if (seen.has(name)) return `${name} given more than once`;
    seen.add(name);
    const value = raw[index + 1] as string;
    const isMethod = (METHOD_HEADERS as readonly string[]).includes(name);
    if (isMethod ? !METHOD.test(value) : !isRequestTarget(value)) {
      return `${name} is not ${isMethod ? 'an HTTP method' : 'a request target'}`;
    }
  }
  return {
    method: firstHeader(request, METHOD_HEADERS) ?? request.method,
    uri: firstHeader(request, URI_HEADERS) ?? (suffix.startsWith('/') ? suffix : null),
  };
}

/**
 * The original request, as a DPoP proof of a bound token must name it (RFC 9449 §7): the method
 * and URI the proxy forwarded, an origin-form URI completed with the scheme and host the trusted
 * proxies state (`X-Forwarded-Proto`, `X-Forwarded-Host`).
 */
function originalRequest(request: FastifyRequest, forwarded: ForwardedRequest): PresentedRequest {
  const uri = forwarded.uri ?? '/';
  const url = /^https?:\/\//i.test(uri) ? uri : `${request.protocol}://${request.host}${uri.startsWith('/') ? uri : '/'}`;
  return { dpop: request.headers.dpop, method: forwarded.method, url };
}

/**
 * Forward proxies act on the status alone, and nginx's auth_request takes anything but 2xx, 401
 * and 403 for its own failure (a 500 to the caller). A malformed `Authorization` header is the
 * caller's fault, so it stays a 401, with `error="invalid_request"` in the challenge (RFC 6750
 * §3.1 says SHOULD for 400, which no forward proxy would pass on).
 */
function asUnauthorized(response: ChallengeResponse): ChallengeResponse {
  return response.status === 400 ? { ...response, status: 401 } : response;
}

function send(reply: FastifyReply, response: ChallengeResponse): FastifyReply {
  return reply.code(response.status).headers(response.headers).send(response.body);
}

/**
 * `{base}/auth/verify` and `{base}/auth/verify/*`, any method: forward authentication for an
 * ingress that already proxies (nginx `auth_request`, Traefik `ForwardAuth`, Envoy HTTP
 * `ext_authz` with `path_prefix`). The bearer token gets the gateway's checks — signature, claims
 * and expiry, then session active, user enabled, not before the not-before policy — and the
 * answer is 200 with the identity in the gateway's `X-Auth-*` headers for the proxy to copy
 * upstream, or 401 with an RFC 6750 challenge. Malformed forwarded headers are a proxy
 * misconfiguration: 400 `invalid_request`. The request body, if any, is never read.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 RFC 6750 §3}
 */
export async function registerVerifyRoute(app: FastifyInstance, auth: AuthService, metrics: Pick<Metrics, 'forwardAuth'>): Promise<void> {
  const { config } = auth;
  const realm = new URL(config.issuer).host;
  const prefix = `${config.basePath}${VERIFY_PATH}`;

  // A proxy may forward the original body (Envoy with_request_body): never parse it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  const verify = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.headers(NO_STORE);
    const forwarded = readForwardedRequest(request, request.url.slice(prefix.length));
    if (typeof forwarded === 'string') {
      metrics.forwardAuth.inc({ outcome: 'bad_forwarded_header' });
      return reply.code(400).send({ error: 'invalid_request', error_description: `Malformed forwarded header: ${forwarded}` });
    }
    const log = { method: forwarded.method, path: forwarded.uri?.split('?')[0]?.slice(0, 256) ?? null };
    const result = await authenticate(auth.accessTokens, request.headers.authorization, { realm, request: originalRequest(request, forwarded) });
    if (!result.ok) {
      metrics.forwardAuth.inc(tokenRefusal(result.error));
      request.log.debug({ ...log, refused: result.error.code }, 'forward auth refused');
      return send(reply, asUnauthorized(result.response));
    }
    const checked = await checkIdentityInStore(auth, result.identity).catch((error: unknown) => {
      metrics.forwardAuth.inc({ outcome: 'error' });
      throw error;
    });
    if (!checked) {
      metrics.forwardAuth.inc(tokenRefusal(null));
      request.log.debug({ ...log, refused: 'session' }, 'forward auth refused');
      return send(reply, revokedChallenge(result.identity, realm, auth.accessTokens));
    }
    metrics.forwardAuth.inc({ outcome: 'allowed' });
    request.log.debug({ ...log, session: checked.session.id }, 'forward auth allowed');
    return reply
      .code(200)
      .headers({
        [IDENTITY_HEADERS.subject]: result.identity.subject,
        [IDENTITY_HEADERS.username]: checked.user.username,
        [IDENTITY_HEADERS.session]: checked.session.id,
        [IDENTITY_HEADERS.tokenId]: result.identity.tokenId,
      })
      .send();
  };
  app.all(VERIFY_PATH, verify);
  app.all(`${VERIFY_PATH}/*`, verify);
}
