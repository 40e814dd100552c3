import { InvalidTokenError, authenticate, challenge, type ChallengeResponse } from '@antpeer/guard';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { AuthService } from '../auth-service.js';
import { checkIdentityInStore } from '../sessions/verify-access-token.js';

/** The verified identity a proxied request carries to the upstream. */
export const IDENTITY_HEADERS = {
  subject: 'x-auth-subject',
  username: 'x-auth-username',
  session: 'x-auth-session',
  tokenId: 'x-auth-token-id',
} as const;

/** The auth endpoints and the methods they answer; any other method on them is a 405, not a 401. */
const AUTH_ENDPOINTS: Record<string, string> = {
  '/auth/token': 'POST',
  '/auth/logout': 'POST',
  '/auth/revoke': 'POST',
  '/auth/introspect': 'POST',
  '/auth/certs': 'GET, HEAD',
};

const REVOKED = new InvalidTokenError('revoked', 'the session of the token has ended');

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the gateway once the access token checked out. */
    antpeerIdentity?: Readonly<Record<keyof typeof IDENTITY_HEADERS, string>>;
  }
}

function send(reply: FastifyReply, response: ChallengeResponse): void {
  reply.code(response.status).headers(response.headers).send(response.body);
}

/** Removes every client-sent `X-Auth-*` header, then adds the verified identity. */
function identityHeaders(request: FastifyRequest, headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const result: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.toLowerCase().startsWith('x-auth-')) result[name] = value;
  }
  const identity = request.antpeerIdentity;
  if (identity) {
    for (const [key, header] of Object.entries(IDENTITY_HEADERS)) {
      result[header] = identity[key as keyof typeof IDENTITY_HEADERS];
    }
  }
  return result;
}

/**
 * Every path under the base that is not an auth endpoint is an application endpoint: it requires
 * a valid access token before anything else is said about it (401 before 404, any method). With
 * an upstream, an authenticated request is proxied there (method, path, query, streamed body,
 * headers without hop-by-hop ones) carrying the verified identity; without one, it is a 404.
 */
export async function registerGateway(app: FastifyInstance, auth: AuthService): Promise<void> {
  const { config } = auth;
  const realm = new URL(config.issuer).host;
  const upstream = config.upstream === null ? null : new URL(config.upstream);
  // reply-from keeps only the origin of its base; the upstream's own path prefix is added here.
  const upstreamPrefix = upstream?.pathname.replace(/\/$/, '') ?? '';

  // Bodies stream through to the upstream untouched.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  if (upstream !== null) {
    // Loaded only with an upstream: without one, the proxy (and undici) stay out of memory.
    const { default: replyFrom } = await import('@fastify/reply-from');
    await app.register(replyFrom, {
      base: upstream.origin,
      retryMethods: [],
      undici: {
        headersTimeout: config.upstreamTimeout * 1000,
        bodyTimeout: config.upstreamTimeout * 1000,
        // reply-from turns certificate checks off unless told otherwise (its types omit the option):
        // an https upstream must prove who it is before it is sent the caller's identity.
        ...({ tls: { rejectUnauthorized: true } } as object),
      },
    });
  }

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.slice(config.basePath.length).split('?')[0] ?? '';
    const allowed = AUTH_ENDPOINTS[path];
    if (allowed !== undefined) {
      reply
        .code(405)
        .header('allow', allowed)
        .send({ error: 'method_not_allowed', error_description: `Use ${allowed} on this endpoint` });
      return reply;
    }
    const result = await authenticate(auth.accessTokens, request.headers.authorization, { realm });
    if (!result.ok) {
      send(reply, result.response);
      return reply;
    }
    const checked = await checkIdentityInStore(auth, result.identity);
    if (!checked) {
      send(reply, challenge(REVOKED, realm));
      return reply;
    }
    request.antpeerIdentity = Object.freeze({
      subject: result.identity.subject,
      username: checked.user.username,
      session: checked.session.id,
      tokenId: result.identity.tokenId,
    });
    return undefined;
  });

  app.all('/*', async (request, reply) => {
    if (upstream === null) {
      return reply.code(404).send({ error: 'not_found', error_description: 'No application endpoint here' });
    }
    const target = `${upstreamPrefix}${request.url.slice(config.basePath.length) || '/'}`;
    return reply.from(target, {
      rewriteRequestHeaders: (req, headers) => identityHeaders(req as FastifyRequest, headers),
      onError: (res, { error }) => {
        const status = (error as { statusCode?: number }).statusCode === 504 ? 504 : 502;
        request.log.warn({ err: error, status }, 'upstream request failed');
        res
          .code(status)
          .header('cache-control', 'no-store')
          .send({
            error: status === 504 ? 'gateway_timeout' : 'bad_gateway',
            error_description: status === 504 ? 'The upstream service did not answer in time' : 'The upstream service could not be reached',
          });
      },
    });
  });
}
