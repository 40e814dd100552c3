/**
 * A test helper that fails when a route of a Fastify app is unprotected by accident.
 *
 * @module
 */
import { AssertionError } from 'node:assert';
import type { FastifyInstance } from 'fastify';
import { GUARD_HOOK_NAME } from './fastify.js';

/** Options of {@link assertAllRoutesProtected}. */
export interface AssertAllRoutesProtectedOptions {
  /**
   * The routes meant to be public, as `"GET /healthz"` or `"/healthz"` (every method). A `GET`
   * entry also covers the `HEAD` route Fastify adds beside it.
   */
  public?: readonly string[];
}

interface TableRoute {
  readonly method: string;
  readonly path: string;
  guarded: boolean;
}

const TREE_PREFIX = /^[│├└─ ]*/u;
const ROUTE_LINE = /^(.*) \(([A-Z]+(?:, [A-Z]+)*)\)$/;

/** Reads every route and whether the guard's hook runs on it from Fastify's printed route table. */
function readRouteTable(app: FastifyInstance): TableRoute[] {
  const table = app.printRoutes({ commonPrefix: false, includeHooks: true });
  const routes: TableRoute[] = [];
  const segments: string[] = [];
  let current: TableRoute[] = [];
  for (const line of table.split('\n')) {
    const indent = TREE_PREFIX.exec(line)?.[0].length ?? 0;
    const rest = line.slice(indent);
    if (rest === '') continue;
    if (rest.startsWith('•')) {
      if (rest.includes('(onRequest)') && rest.includes(`"${GUARD_HOOK_NAME}()"`)) {
        for (const route of current) route.guarded = true;
      }
      continue;
    }
    const match = ROUTE_LINE.exec(rest);
    if (match === null) continue;
    const depth = Math.floor(indent / 4);
    segments.length = depth;
    segments[depth] = match[1] as string;
    const path = segments.join('');
    current = (match[2] as string).split(', ').map((method) => ({ method, path, guarded: false }));
    routes.push(...current);
  }
  return routes;
}

function parseExpected(entries: readonly string[]): { method: string | undefined; url: string; label: string }[] {
  return entries.map((entry) => {
    const match = typeof entry === 'string' ? /^(?:([A-Z]+) )?(\/\S*)$/.exec(entry) : null;
    if (match === null) throw new TypeError(`public route "${String(entry)}" must look like "GET /path" or "/path"`);
    return { method: match[1], url: match[2] as string, label: entry };
  });
}

function concreteUrl(url: string): string {
  return url.replace(/:[^/]+/g, 'x').replace(/\*/g, 'x');
}

/**
 * Asserts that a Fastify app denies by default: the AntPeer guard is registered on it, its hook runs
 * on every route, the public routes (`config: { auth: false }`) are exactly the expected ones, and
 * every protected route, and a path that matches no route, answers a request without a token with
 * 401 and a `Bearer` challenge. Throws an `AssertionError` listing every problem. Readies the app.
 *
 * @example
 * ```ts
 * test('only the health check is public', () => assertAllRoutesProtected(app, { public: ['GET /healthz'] }));
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 RFC 6750 §3}
 */
export async function assertAllRoutesProtected(
  app: FastifyInstance,
  options: AssertAllRoutesProtectedOptions = {},
): Promise<void> {
  const expected = parseExpected(options.public ?? []);
  if (!app.hasDecorator('authGuard')) {
    throw new AssertionError({ message: 'the AntPeer guard is not registered on this instance (register it on the root)' });
  }
  await app.ready();
  const problems: string[] = [];

  const table = readRouteTable(app);
  if (table.length === 0 && app.authGuard.routes().length > 0) problems.push('could not read the route table');
  for (const route of table) {
    if (!route.guarded) problems.push(`${route.method} ${route.path} is outside the guard (registered in another scope)`);
  }

  const publicRoutes = app.authGuard.routes().filter((route) => route.public);
  const used = new Set<string>();
  const matches = (route: { method: string; url: string }, entry: (typeof expected)[number]): boolean =>
    entry.url === route.url &&
    (entry.method === undefined || entry.method === route.method || (entry.method === 'GET' && route.method === 'HEAD'));
  for (const route of publicRoutes) {
    const entry = expected.find((candidate) => matches(route, candidate));
    if (entry === undefined) problems.push(`${route.method} ${route.url} is public (config.auth === false) but not expected to be`);
    else used.add(entry.label);
  }
  for (const entry of expected) {
    if (!used.has(entry.label)) problems.push(`"${entry.label}" is expected to be public but no such public route exists`);
  }

  const probes = app.authGuard
    .routes()
    .filter((route) => !route.public)
    .map((route) => ({ method: route.method, url: concreteUrl(route.url) }));
  probes.push({ method: 'GET', url: `/__antpeer_guard_probe_${Date.now().toString(36)}` });
  for (const probe of probes) {
    const response = await app.inject({ method: probe.method as 'GET', url: probe.url });
    const challenge = response.headers['www-authenticate'];
    if (response.statusCode !== 401 || typeof challenge !== 'string' || !challenge.startsWith('Bearer ')) {
      problems.push(`${probe.method} ${probe.url} without a token answered ${response.statusCode}, not a 401 Bearer challenge`);
    }
  }

  if (problems.length > 0) {
    throw new AssertionError({ message: `routes unprotected by accident:\n  - ${problems.join('\n  - ')}` });
  }
}
