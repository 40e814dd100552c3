import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService } from '../auth-service.js';
import { createBruteForceGuard, openServerKey } from '../auth-service.js';
import type { AdminConsoleSettings } from '../config.js';
import { OAuthError, OverloadedError, TooManyRequestsError } from '../errors.js';
import type { Metrics } from '../http/metrics.js';
import type { Source } from '../store/port.js';
import { loadServerSecret } from '../tokens/server-secret.js';
import { registerApplicationPages } from './applications.js';
import { registerAuditPages } from './audit.js';
import { isValidCsrfToken, resumeSession, type ConsoleSessionDeps, type SignedIn } from './console-sessions.js';
import { registerDashboard } from './dashboard.js';
import { GrantRates } from './grant-rates.js';
import { html, type Html } from './html.js';
import { registerKeyPages } from './keys.js';
import { plainPage, type PageContext } from './layout.js';
import { registerLoginPages } from './login.js';
import { registerPolicyPages } from './policy.js';
import { registerSessionPages } from './sessions.js';

/** The console's cookie: its value is the session's only secret (the store keeps a hash). */
export const COOKIE_NAME = 'antpeer_console';

/**
 * Every console answer: a strict policy (no inline script or style, nothing from elsewhere, never
 * framed), no caching of pages that show secrets, no referrer leaking the console's URLs to
 * other sites (same-origin, so that a form post carries its real Origin).
 */
export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;

/** Host names a plain-HTTP console may set its cookie for without `Secure`. */
const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/** A form body: every field a string; a repeated field keeps its first value. */
export type Form = Record<string, string>;

/** What the console's pages share. */
export interface ConsoleContext {
  auth: Pick<AuthService, 'config' | 'store' | 'clock' | 'logger' | 'hasher' | 'keys'>;
  settings: AdminConsoleSettings;
  sessions: ConsoleSessionDeps;
  grantRates: GrantRates;
  /** The console's path prefix. */
  base: string;
  /** The signed-in administrator of a request that passed the session check. */
  signedIn(request: FastifyRequest): SignedIn & { cookieValue: string };
  pageContext(request: FastifyRequest, section: string): PageContext;
  source(request: FastifyRequest): Source;
  setCookie(request: FastifyRequest, reply: FastifyReply, value: string | null): void;
  cookieValue(request: FastifyRequest): string | null;
  /** Sends a page (200 unless given). */
  send(reply: FastifyReply, body: Html, status?: number): FastifyReply;
}

/** A route the console serves without a session (sign-in, assets). */
export const PUBLIC_ROUTE = { config: { consolePublic: true } } as const;

/** A route a page polls by itself: it needs a session but does not keep it from idling out. */
export const PASSIVE_ROUTE = { config: { consolePassive: true } } as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without a console session (sign-in page, assets). */
    consolePublic?: boolean;
    /** Needs a session but does not count as activity (a page refreshing itself). */
    consolePassive?: boolean;
  }
}

/** A console refusal with a status and a message for the page (never internal detail). */
export class ConsoleError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ConsoleError';
  }
}

function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim() || null;
  }
  return null;
}

/**
 * A query with every parameter a string, as the pages read it: a repeated parameter keeps its first
 * value, like a form field (`?q=a&q=b` would otherwise be an array no page expects).
 */
function firstValues(query: unknown): Record<string, string> {
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    const first: unknown = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') result[name] = first;
  }
  return result;
}

function assets(): Map<string, { type: string; body: Buffer }> {
  const require = createRequire(import.meta.url);
  const own = (name: string) => new URL(`../../assets/console/${name}`, import.meta.url);
  return new Map([
    ['console.css', { type: 'text/css; charset=utf-8', body: readFileSync(own('console.css')) }],
    ['dashboard.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(own('dashboard.js')) }],
    ['uPlot.iife.min.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) }],
    ['uPlot.min.css', { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) }],
  ]);
}

/**
 * Whether a state-changing request comes from the console's own pages: a browser says where a
 * request comes from (`Sec-Fetch-Site`, `Origin`); one that says another site is refused before
 * its CSRF token is even looked at.
 */
function isCrossSite(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    // Read under the origin's scheme, so that a Host naming its default port (a proxy that sets
    // `Host: $host:$server_port`) is the same host as an Origin that leaves it out.
    const { protocol, host } = new URL(origin);
    const defaultPort = protocol === 'https:' ? ':443' : protocol === 'http:' ? ':80' : null;
    const requestHost = request.host.toLowerCase();
    return (defaultPort !== null && requestHost.endsWith(defaultPort) ? requestHost.slice(0, -defaultPort.length) : requestHost) !== host;
  } catch {
    return true;
  }
}

/**
 * Registers the web console (DESIGN: operate the service from a browser) in `scope`, which is
 * prefixed with its path. Every change goes through the same domain functions as the CLI and
 * records the same audit events, naming the administrator.
 */
export async function registerConsole(scope: FastifyInstance, auth: AuthService, metrics: Metrics, settings: AdminConsoleSettings): Promise<void> {
  const base = settings.path;
  const serverKey = await openServerKey(auth.store.settings, loadServerSecret(auth.config));
  const sessions: ConsoleSessionDeps = {
    store: auth.store,
    clock: auth.clock,
    logger: auth.logger,
    hasher: auth.hasher,
    // The token endpoint's rules over counters of their own: a flood against the console does not
    // lock client applications out, nor the reverse.
    bruteForce: createBruteForceGuard(auth.store, auth.clock, auth.config, serverKey, 'antpeer console counter keys'),
    settings,
  };
  const grantRates = new GrantRates(metrics.grants, auth.clock);
  grantRates.start();
  scope.addHook('onClose', async () => grantRates.stop());
  const signedInOf = new WeakMap<FastifyRequest, SignedIn & { cookieValue: string }>();

  const context: ConsoleContext = {
    auth,
    settings,
    sessions,
    grantRates,
    base,
    signedIn(request) {
      const found = signedInOf.get(request);
      if (!found) throw new Error('a console route that needs a session ran without one');
      return found;
    },
    pageContext(request, section) {
      const { admin, csrfToken } = context.signedIn(request);
      return { base, adminName: admin.name, csrfToken, section };
    },
    source: (request) => ({ address: request.ip, userAgent: request.headers['user-agent'] ?? '' }),
    cookieValue: (request) => readCookie(request.headers.cookie, COOKIE_NAME),
    setCookie(request, reply, value) {
      // Secure always, except over plain HTTP to a loopback name (a console reached by an SSH
      // tunnel, or a developer's machine), where a browser would have nothing to send it over.
      const secure = request.protocol === 'https' || !LOOPBACK.test(request.hostname) ? '; Secure' : '';
      const attributes = `; Path=${base}; HttpOnly; SameSite=Strict${secure}`;
      reply.header('set-cookie', value === null ? `${COOKIE_NAME}=${attributes}; Max-Age=0` : `${COOKIE_NAME}=${value}${attributes}`);
    },
    send(reply, body, status = 200) {
      return reply.code(status).type('text/html; charset=utf-8').send(body.value);
    },
  };

  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const form: Form = Object.create(null) as Form;
    for (const [name, value] of new URLSearchParams(body as string)) if (!Object.hasOwn(form, name)) form[name] = value;
    done(null, form);
  });
  scope.addContentTypeParser('*', (_request, _payload, done) => done(new ConsoleError(415, 'Forms are sent as application/x-www-form-urlencoded.')));

  scope.addHook('onRequest', async (request, reply) => {
    reply.headers(SECURITY_HEADERS);
    request.query = firstValues(request.query);
  });
  scope.addHook('preHandler', async (request, reply) => {
    const isChange = request.method !== 'GET' && request.method !== 'HEAD';
    if (isChange && isCrossSite(request)) throw new ConsoleError(403, 'This request came from another site and was refused.');
    if (request.routeOptions.config.consolePublic) return;
    const cookieValue = context.cookieValue(request);
    const passive = request.routeOptions.config.consolePassive === true;
    const found = cookieValue === null ? null : await resumeSession(sessions, cookieValue, { passive });
    if (!found || cookieValue === null) {
      if (cookieValue !== null) context.setCookie(request, reply, null);
      return reply.redirect(`${base}/login${cookieValue !== null ? '?expired=1' : ''}`, 303);
    }
    if (isChange && !isValidCsrfToken(cookieValue, (request.body as Form | undefined)?._csrf)) {
      throw new ConsoleError(403, 'The form was missing its security token, or it was from an old page. Reload the page and try again.');
    }
    signedInOf.set(request, { ...found, cookieValue });
  });

  scope.setErrorHandler((error: FastifyError, request, reply) => {
    let status = 500;
    let message = 'Something went wrong; the change was not made. The server log has the details.';
    if (error instanceof ConsoleError) {
      status = error.status;
      message = error.message;
    } else if (error instanceof TooManyRequestsError || error instanceof OverloadedError) {
      status = error.status;
      message = 'Too many attempts or too busy right now: wait a moment and try again.';
      reply.header('retry-after', String(error.retryAfter));
    } else if (error instanceof OAuthError) {
      status = error.status;
      message = error.description;
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode;
      message = 'The request was malformed.';
    } else if (auth.store.isUnavailableError(error)) {
      status = 503;
      message = 'The database cannot be reached right now; try again shortly.';
      reply.header('retry-after', '5');
    } else {
      request.log.error({ err: error }, 'console: unexpected error');
    }
    const back = signedInOf.has(request) ? html`<p><a href="${base}/">Back to the console</a></p>` : html`<p><a href="${base}/login">Sign in</a></p>`;
    context.send(reply, plainPage(base, 'Refused', html`<h1>${status === 500 ? 'Error' : 'Refused'}</h1><p class="error" role="alert">${message}</p>${back}`), status);
  });
  scope.setNotFoundHandler((_request, reply) => {
    context.send(reply, plainPage(base, 'Not found', html`<h1>Not found</h1><p>No such page. <a href="${base}/">Go to the console</a></p>`), 404);
  });

  const files = assets();
  scope.get<{ Params: { name: string } }>('/assets/:name', PUBLIC_ROUTE, async (request, reply) => {
    const file = files.get(request.params.name);
    if (!file) throw new ConsoleError(404, 'No such file.');
    return reply.header('cache-control', 'no-cache').type(file.type).send(file.body);
  });

  registerLoginPages(scope, context);
  registerDashboard(scope, context);
  registerApplicationPages(scope, context);
  registerSessionPages(scope, context);
  registerPolicyPages(scope, context);
  registerKeyPages(scope, context);
  registerAuditPages(scope, context);
}
