/**
 * The middleware for plain `node:http` servers and Express/Connect-style apps: every request needs a
 * valid access token unless its method and path are listed as public.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { challenge, checkRealm, DEFAULT_REALM } from './challenge.js';
import { GuardError } from './errors.js';
import { readAccessToken } from './lib/bearer.js';
import { kPeek } from './lib/internal.js';
import { boundKeyOf, type Identity, type Verifier } from './verify.js';

declare module 'node:http' {
  interface IncomingMessage {
    /** The verified identity, set by the AntPeer guard middleware on authenticated requests. */
    auth?: Identity;
  }
}

/** Options of {@link createNodeGuard}. */
export interface NodeGuardOptions {
  /** The verifier made by `createVerifier`. */
  verifier: Verifier;
  /** The `realm` of `WWW-Authenticate` challenges. Default `AntPeer`. */
  realm?: string;
  /**
   * The public routes, as `"GET /healthz"` or `"/healthz"` (every method), matched exactly against
   * the request path without its query. A `GET` entry also covers `HEAD`. Everything else,
   * including any spelling of a public path that is not exact, requires a token.
   */
  public?: readonly string[];
  /**
   * The origin clients address this service by (`https://api.example`), against which the `htu` of
   * DPoP proofs is checked. Default: `http(s)://` (as the connection is) plus the `Host` header.
   * Behind a proxy that terminates TLS or rewrites the host, set it.
   */
  origin?: string;
}

/** A Connect/Express-style middleware; `next(error)` is called only on a bug, never for a bad token. */
export type NodeGuard = (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void;

function parsePublicRoutes(entries: readonly string[]): { any: Set<string>; byMethod: Set<string> } {
  if (!Array.isArray(entries)) throw new TypeError('public must be an array of "METHOD /path" or "/path" strings');
  const any = new Set<string>();
  const byMethod = new Set<string>();
  for (const entry of entries) {
    const match = typeof entry === 'string' ? /^(?:([A-Z]+) )?(\/\S*)$/.exec(entry) : null;
    if (match === null) throw new TypeError(`public route "${String(entry)}" must look like "GET /path" or "/path"`);
    const [, method, path] = match;
    if (path!.includes('?')) throw new TypeError(`public route "${entry}" must not have a query`);
    if (method === undefined) any.add(path!);
    else {
      byMethod.add(`${method} ${path}`);
      if (method === 'GET') byMethod.add(`HEAD ${path}`);
    }
  }
  return { any, byMethod };
}

function send(response: ServerResponse, error: GuardError, realm: string, verifier: Verifier): void {
  const answer = challenge(error, realm, verifier.dpopAlgorithms);
  response.writeHead(answer.status, answer.headers);
  response.end(answer.body);
}

/**
 * Creates the middleware. On success it sets `request.auth` and calls `next()`; on failure it answers
 * per RFC 6750 itself (401 with a `Bearer` challenge, 400 `invalid_request`, or 503) and does not call
 * `next`. Throws `TypeError` on bad options.
 *
 * @example
 * ```ts
 * const guard = createNodeGuard({ verifier, public: ['GET /healthz'] });
 * app.use(guard); // Express, before the routes
 * http.createServer((req, res) => guard(req, res, () => handle(req, res))); // plain node:http
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 RFC 6750 §3}
 */
export function createNodeGuard(options: NodeGuardOptions): NodeGuard {
  const verifier = options?.verifier;
  if (typeof verifier !== 'object' || verifier === null || typeof verifier[kPeek] !== 'function') {
    throw new TypeError('the guard needs a verifier made by createVerifier()');
  }
  const realm = checkRealm(options.realm ?? DEFAULT_REALM);
  const publicRoutes = parsePublicRoutes(options.public ?? []);
  const hasPublicRoutes = publicRoutes.any.size + publicRoutes.byMethod.size > 0;
  let origin: string | undefined;
  if (options.origin !== undefined) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(options.origin);
    } catch {
      // reported below
    }
    if (parsed === null || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) throw new TypeError('origin must be an http(s) URL');
    origin = parsed.origin;
  }

  function requestUri(request: IncomingMessage): string {
    const url = (request as { originalUrl?: string }).originalUrl ?? request.url ?? '/';
    if (origin !== undefined) return `${origin}${url}`;
    const encrypted = (request.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
    return `${encrypted ? 'https' : 'http'}://${request.headers.host ?? 'localhost'}${url}`;
  }

  function isPublic(request: IncomingMessage): boolean {
    // Express strips a mount path from `url`; `originalUrl` keeps the path the client asked for.
    const url = (request as { originalUrl?: string }).originalUrl ?? request.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    return publicRoutes.any.has(path) || publicRoutes.byMethod.has(`${request.method} ${path}`);
  }

  return function antpeerNodeGuard(request, response, next) {
    if (hasPublicRoutes && isPublic(request)) {
      next();
      return;
    }
    const presented = readAccessToken(request.headers.authorization);
    if (presented instanceof GuardError) {
      send(response, presented, realm, verifier);
      return;
    }
    if (presented.scheme === 'Bearer') {
      const cached = verifier[kPeek](presented.token);
      if (cached !== undefined && boundKeyOf(cached) === undefined) {
        request.auth = cached;
        next();
        return;
      }
    }
    const presentedRequest = { dpop: request.headers.dpop, method: request.method ?? 'GET', url: requestUri(request) };
    verifier.verifyPresented(presented.scheme, presented.token, presentedRequest).then(
      (identity) => {
        request.auth = identity;
        next();
      },
      (error: unknown) => {
        if (error instanceof GuardError) send(response, error, realm, verifier);
        else next(error);
      },
    );
  };
}
