import { authenticate, authenticateAtOnce, type ChallengeResponse, type GuardError, type Identity } from '@antpeer/guard';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService } from '../auth-service.js';
import { InvalidRequestError } from '../errors.js';
import { tokenRefusal, type Metrics } from '../http/metrics.js';
import { checkContext, revokedChallenge } from '../sessions/verify-access-token.js';
import type { MaybePromise, SessionContext } from '../store/port.js';
import type { GatewayIdentity } from './forwarded-headers.js';
import type { UpstreamProxy } from './proxy.js';
import { applicationTarget } from './request-target.js';

/** The auth endpoints and the methods they answer; any other method on them is a 405, not a 401. */
const AUTH_ENDPOINTS: Record<string, string> = {
  '/auth/token': 'POST',
  '/auth/logout': 'POST',
  '/auth/revoke': 'POST',
  '/auth/introspect': 'POST',
  '/auth/certs': 'GET, HEAD',
};

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the gateway once the access token checked out. */
    antpeerIdentity?: GatewayIdentity;
  }
}

function send(reply: FastifyReply, response: ChallengeResponse): void {
  reply.code(response.status).headers(response.headers).send(response.body);
}

/**
 * Checks a request's access token and its session; answers the RFC 6750 challenge itself when they
 * do not check out (null). Answered at once when nothing has to be waited for (a token verified
 * before, its session's context in the SQLite store's memory), else as a promise.
 */
export type ApplicationAuthenticator = (request: FastifyRequest, reply: FastifyReply) => MaybePromise<GatewayIdentity | null>;

/**
 * The access-token check every application endpoint makes before anything else (RFC 6750 §3);
 * counts each refusal, by why, as a gateway outcome. A request is checked without a promise
 * whenever it can be: every request of a busy client comes with a token already verified.
 */
export function createApplicationAuthenticator(auth: AuthService, metrics: Pick<Metrics, 'gatewayRequests'>): ApplicationAuthenticator {
  const realm = new URL(auth.config.issuer).host;

  function refused(reply: FastifyReply, error: GuardError | null, response: ChallengeResponse): null {
    metrics.gatewayRequests.inc(tokenRefusal(error));
    send(reply, response);
    return null;
  }

  /** The identity passed upstream for a token whose signature checked out, or null once refused. */
  function conclude(reply: FastifyReply, identity: Identity, context: SessionContext | null): GatewayIdentity | null {
    const checked = checkContext(context, identity, auth.clock.now());
    if (!checked) return refused(reply, null, revokedChallenge(identity, realm, auth.accessTokens));
    return Object.freeze({ subject: identity.subject, username: checked.user.username, session: checked.session.id, tokenId: identity.tokenId });
  }

  /** The context of the token's session (null for a token without one); a store failure counts as a gateway error. */
  function contextOf(identity: Identity): MaybePromise<SessionContext | null> {
    try {
      const context = identity.sessionId === undefined ? null : auth.store.sessions.getContext(identity.sessionId);
      if (context instanceof Promise) context.catch(() => metrics.gatewayRequests.inc({ outcome: 'error' }));
      return context;
    } catch (error) {
      metrics.gatewayRequests.inc({ outcome: 'error' });
      throw error;
    }
  }

  async function verifyFirst(request: FastifyRequest, reply: FastifyReply): Promise<GatewayIdentity | null> {
    // A DPoP proof names the URI as the client addressed it: scheme and host as the trusted proxies
    // say. Built only when a proof is checked: a bearer token never reads it.
    const presented = {
      dpop: request.headers.dpop,
      method: request.method,
      get url() {
        return `${request.protocol}://${request.host}${request.url}`;
      },
    };
    const result = await authenticate(auth.accessTokens, request.headers.authorization, { realm, request: presented });
    if (!result.ok) return refused(reply, result.error, result.response);
    return conclude(reply, result.identity, await contextOf(result.identity));
  }

  return (request, reply) => {
    const atOnce = authenticateAtOnce(auth.accessTokens, request.headers.authorization, { realm });
    if (atOnce === undefined) return verifyFirst(request, reply);
    if (!atOnce.ok) return refused(reply, atOnce.error, atOnce.response);
    const context = contextOf(atOnce.identity);
    return context instanceof Promise ? context.then((read) => conclude(reply, atOnce.identity, read)) : conclude(reply, atOnce.identity, context);
  };
}

/**
 * Every path under the base that is not an auth endpoint is an application endpoint: it requires
 * a valid access token before anything else is said about it (401 before 400 or 404, any method).
 * With an upstream, an authenticated request whose path means one thing everywhere is proxied
 * there under the upstream's path prefix (see `createUpstreamProxy`); without one, it is a 404.
 */
export async function registerGateway(app: FastifyInstance, auth: AuthService, metrics: Metrics): Promise<void> {
  const { config } = auth;
  const upstream = config.upstream === null ? null : new URL(config.upstream);
  // The upstream's own path prefix: every target is built under it.
  const upstreamPrefix = upstream?.pathname.replace(/\/$/, '') ?? '';
  // Loaded only with an upstream: without one, the proxy (and undici) stay out of memory.
  const proxy: UpstreamProxy | null =
    upstream === null ? null : (await import('./proxy.js')).createUpstreamProxy(upstream, config, metrics);
  if (proxy !== null) app.addHook('onClose', () => proxy.close());
  const authenticateRequest = createApplicationAuthenticator(auth, metrics);

  // Bodies are not parsed here: the proxy streams the raw request.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  // Callback style: an async hook costs every request one more promise for Fastify to settle.
  app.addHook('onRequest', (request, reply, done) => {
    const queryAt = request.url.indexOf('?');
    const path = request.url.slice(config.basePath.length, queryAt === -1 ? undefined : queryAt);
    const allowed = AUTH_ENDPOINTS[path];
    if (allowed !== undefined) {
      metrics.gatewayRequests.inc({ outcome: 'method_not_allowed' });
      reply
        .code(405)
        .header('allow', allowed)
        .send({ error: 'method_not_allowed', error_description: `Use ${allowed} on this endpoint` });
      return;
    }
    const pass = (identity: GatewayIdentity | null) => {
      // Null: the challenge is answered already, and the request goes no further.
      if (identity === null) return;
      request.antpeerIdentity = identity;
      done();
    };
    let identity: MaybePromise<GatewayIdentity | null>;
    try {
      identity = authenticateRequest(request, reply);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (identity instanceof Promise) identity.then(pass, done);
    else pass(identity);
  });

  app.all('/*', (request, reply) => {
    if (proxy === null) {
      metrics.gatewayRequests.inc({ outcome: 'no_upstream' });
      reply.code(404).send({ error: 'not_found', error_description: 'No application endpoint here' });
      return;
    }
    const target = applicationTarget(request.url, config.basePath);
    if (!target.ok) {
      metrics.gatewayRequests.inc({ outcome: 'bad_path' });
      reply.send(new InvalidRequestError(target.description));
      return;
    }
    proxy
      .forward(request, reply, request.antpeerIdentity as GatewayIdentity, `${upstreamPrefix}${target.path}${target.query}`)
      .catch((error: unknown) => reply.send(error));
  });
}
