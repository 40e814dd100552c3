/**
 * The Fastify plugin: every route of the instance it is registered on requires a valid access token,
 * unless the route says `config: { auth: false }`; any other value of `auth` throws when the route is
 * registered. Requests that match no route need a token too (401 before 404).
 *
 * Register it on the root instance before any route, as `@fastify/rate-limit` is registered.
 *
 * @module
 */
import type {
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  RouteOptions,
} from 'fastify';
import { cachedBearerIdentity } from './authenticate.js';
import { challenge, checkRealm, DEFAULT_REALM } from './challenge.js';
import { GuardError, VerifierUnavailableError } from './errors.js';
import { readAccessToken } from './lib/bearer.js';
import { kPeek } from './lib/internal.js';
import type { Identity, Verifier } from './verify.js';

/** A route the guard knows about. */
export interface GuardedRoute {
  readonly method: string;
  readonly url: string;
  /** Whether the route opted out with `config: { auth: false }`. */
  readonly public: boolean;
}

/** What the plugin decorates the instance with, as `app.authGuard`. */
export interface AuthGuard {
  readonly verifier: Verifier;
  readonly realm: string;
  /** Every route registered after the guard, with whether it is public. */
  routes(): readonly GuardedRoute[];
  /** The routes that opted out (`config: { auth: false }`); logged at `info` when the app is ready. */
  publicRoutes(): readonly GuardedRoute[];
}

/** Options of {@link antpeerGuard}. */
export interface GuardPluginOptions {
  /** The verifier made by `createVerifier`. */
  verifier: Verifier;
  /** The `realm` of `WWW-Authenticate` challenges. Default `AntPeer`. */
  realm?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The verified identity of the request's access token. Throws when read on a public route
     * (`config: { auth: false }`), where there is none.
     */
    readonly auth: Identity;
  }
  interface FastifyContextConfig {
    /** `false` makes the route public; leave it out otherwise (every route is protected by default). */
    auth?: false;
  }
  interface FastifyInstance {
    /** The AntPeer guard registered on this instance. */
    readonly authGuard: AuthGuard;
  }
}

const kIdentity = Symbol('antpeer.guard.identity');
const kPublic = Symbol('antpeer.guard.public');

/** The name of the guard's `onRequest` hook, by which the test helper recognises it in the route table. */
export const GUARD_HOOK_NAME = 'antpeerGuardOnRequest';

type IdentityHolder = { [kIdentity]: Identity | null };

function refuse(request: FastifyRequest, reply: FastifyReply, error: GuardError, realm: string, verifier: Verifier): void {
  if (error instanceof VerifierUnavailableError) request.log.warn({ err: error }, 'access token verification unavailable');
  else request.log.debug({ code: error.code, reason: (error as { reason?: string }).reason }, 'authentication failed');
  const response = challenge(error, realm, verifier.dpopAlgorithms);
  reply.code(response.status).headers(response.headers).send(response.body);
}

function routeMethods(route: RouteOptions): string[] {
  return Array.isArray(route.method) ? [...route.method] : [route.method as string];
}

function installGuard(fastify: Parameters<FastifyPluginCallback<GuardPluginOptions>>[0], options: GuardPluginOptions): void {
  const verifier = options?.verifier;
  if (typeof verifier !== 'object' || verifier === null || typeof verifier[kPeek] !== 'function') {
    throw new TypeError('the guard needs a verifier made by createVerifier()');
  }
  const realm = checkRealm(options.realm ?? DEFAULT_REALM);
  if (fastify.hasDecorator('authGuard')) throw new TypeError('the AntPeer guard is already registered on this instance');
  const routes: GuardedRoute[] = [];

  fastify.decorateRequest(kIdentity, null);
  fastify.decorateRequest('auth', {
    getter(this: FastifyRequest) {
      const identity = (this as unknown as IdentityHolder)[kIdentity];
      if (identity === null) throw new Error(`request.auth read on a public route (${this.method} ${this.url})`);
      return identity;
    },
  });
  const publicRoutes = (): readonly GuardedRoute[] => {
    const publicOnes = routes.filter((route) => route.public);
    // Fastify adds a HEAD route beside every GET; list the pair once.
    return publicOnes.filter(
      (route) => route.method !== 'HEAD' || !publicOnes.some((other) => other.method === 'GET' && other.url === route.url),
    );
  };
  const guard: AuthGuard = Object.freeze({ verifier, realm, routes: () => [...routes], publicRoutes });
  fastify.decorate('authGuard', guard);

  fastify.addHook('onRoute', (route) => {
    const auth: unknown = route.config?.auth;
    if (auth !== undefined && auth !== false) {
      throw new TypeError(
        `route ${routeMethods(route).join(',')} ${route.url}: config.auth must be false (public) or absent (protected), got ${String(auth)}`,
      );
    }
    const isPublic = auth === false;
    // The mark, not `auth`, makes a route public: only routes the guard has checked can opt out.
    if (isPublic) route.config = { ...route.config, [kPublic]: true } as typeof route.config;
    for (const method of routeMethods(route)) routes.push(Object.freeze({ method, url: route.url, public: isPublic }));
  });

  fastify.addHook('onRequest', function antpeerGuardOnRequest(request, reply, next: HookHandlerDoneFunction) {
    const config = request.routeOptions.config as unknown as Record<PropertyKey, unknown> | undefined;
    if (config?.[kPublic] === true) {
      next();
      return;
    }
    const presented = readAccessToken(request.headers.authorization);
    if (presented instanceof GuardError) {
      refuse(request, reply, presented, realm, verifier);
      return;
    }
    const cached = cachedBearerIdentity(verifier, presented);
    if (cached !== undefined) {
      (request as unknown as IdentityHolder)[kIdentity] = cached;
      next();
      return;
    }
    // The URI as the client addressed it: Fastify's `protocol` and `host` honour its `trustProxy`.
    const presentedRequest = { dpop: request.headers.dpop, method: request.method, url: `${request.protocol}://${request.host}${request.url}` };
    verifier.verifyPresented(presented.scheme, presented.token, presentedRequest).then(
      (identity) => {
        (request as unknown as IdentityHolder)[kIdentity] = identity;
        next();
      },
      (error: unknown) => {
        if (error instanceof GuardError) refuse(request, reply, error, realm, verifier);
        else next(error as Error);
      },
    );
  });

  fastify.addHook('onReady', function logPublicRoutes(ready) {
    const list = publicRoutes().map((route) => `${route.method} ${route.url}`);
    fastify.log.info({ publicRoutes: list }, `AntPeer guard: ${list.length} public route(s), every other route requires a token`);
    ready();
  });
}

const plugin: FastifyPluginCallback<GuardPluginOptions> = (fastify, options, done) => {
  try {
    installGuard(fastify, options);
  } catch (error) {
    done(error as Error);
    return;
  }
  done();
};

// Like fastify-plugin: apply to the instance it is registered on, not to an encapsulated child.
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@antpeer/guard',
  [Symbol.for('plugin-meta')]: { name: '@antpeer/guard', fastify: '5.x' },
});

/**
 * The Fastify plugin that makes every route authenticated unless it is explicitly public
 * (`config: { auth: false }`). The verified identity is `request.auth`.
 *
 * @example
 * ```ts
 * await app.register(antpeerGuard, { verifier: createVerifier({ issuer, audience: 'accounts' }) });
 * app.get('/healthz', { config: { auth: false } }, () => 'ok');
 * app.post('/user/addAccount', (request) => addAccount(request.auth.subject));
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750 RFC 6750}
 */
export const antpeerGuard: FastifyPluginCallback<GuardPluginOptions> = plugin;
