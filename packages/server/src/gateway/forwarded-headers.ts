import type { FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { plainAddress } from '../http/listener.js';

/** The verified identity a proxied request carries to the upstream. */
export const IDENTITY_HEADERS = {
  subject: 'x-auth-subject',
  username: 'x-auth-username',
  session: 'x-auth-session',
  tokenId: 'x-auth-token-id',
} as const;

export type GatewayIdentity = Readonly<Record<keyof typeof IDENTITY_HEADERS, string>>;

const IDENTITY_ENTRIES = Object.entries(IDENTITY_HEADERS) as Array<[keyof typeof IDENTITY_HEADERS, string]>;

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) and headers whose meaning the gateway decides itself:
 * framing (`content-length` is set from the body the gateway forwards), `host` (the upstream's),
 * and `expect` (the gateway answers `100-continue` itself).
 */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'host',
  'content-length',
  'expect',
]);

/**
 * Headers through which a client could tell the upstream who it is, where it came from or which
 * path it asked for. The gateway states the address itself; the rest are dropped.
 */
const CLIENT_CLAIMS = new Set([
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri',
]);

/**
 * Whether the gateway asserts a header of this name (or drops it as a client's claim), reading
 * the name as CGI, WSGI, PHP and Rack do: case-insensitively, with `_` for `-`.
 */
export function isAssertedHeader(name: string): boolean {
  return isAssertedCanonical(name.toLowerCase().replaceAll('_', '-'));
}

/** {@link isAssertedHeader} of a name already in lower case without `_` (as Node hands them over, once `_` ones are dropped). */
function isAssertedCanonical(canonical: string): boolean {
  return canonical.startsWith('x-auth-') || canonical.startsWith('x-forwarded-') || CLIENT_CLAIMS.has(canonical);
}

const NONE: ReadonlySet<string> = new Set();

/** The header names a `Connection` header lists (RFC 9110 §7.6.1): hop-by-hop too. */
function connectionOptions(headers: IncomingHttpHeaders): ReadonlySet<string> {
  const value = headers.connection;
  if (typeof value !== 'string') return NONE;
  return new Set(value.split(',').map((name) => name.trim().toLowerCase()));
}

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

export interface ForwardingOptions {
  forwardAuthorization: boolean;
  forwardCookies: boolean;
}

/**
 * The headers sent to the upstream: the client's, without hop-by-hop ones, without any header
 * whose name has an underscore (nginx's default: CGI-style servers would read `X_Auth_User` as
 * `X-Auth-User`), without every header the gateway asserts in any spelling, without
 * `Authorization` and `Cookie` unless configured; then the verified identity and the
 * `X-Forwarded-For/Proto/Host` the gateway saw, per the trusted-proxy setting.
 */
export function upstreamRequestHeaders(request: FastifyRequest, identity: GatewayIdentity, options: ForwardingOptions): Record<string, string | string[]> {
  const listed = connectionOptions(request.headers);
  const headers: Record<string, string | string[]> = {};
  const from = request.headers;
  // `for…in` over Node's header object (own properties only): no array per header, as `Object.entries` makes.
  for (const name in from) {
    const value = from[name];
    if (value === undefined || name.includes('_') || NOT_FORWARDED.has(name) || listed.has(name) || isAssertedCanonical(name)) continue;
    if (name === 'authorization' && !options.forwardAuthorization) continue;
    if (name === 'cookie' && !options.forwardCookies) continue;
    headers[name] = value;
  }
  headers['x-forwarded-for'] = plainAddress(request.ip);
  headers['x-forwarded-proto'] = request.protocol === 'https' ? 'https' : 'http';
  const host = request.host;
  if (HOST.test(host)) headers['x-forwarded-host'] = host;
  for (const [key, header] of IDENTITY_ENTRIES) headers[header] = identity[key];
  return headers;
}

/** Hop-by-hop headers of the upstream's answer, which are not passed on to the client. */
const RESPONSE_NOT_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings']);

/** The upstream's response headers without hop-by-hop ones (RFC 9110 §7.6.1). */
export function clientResponseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const listed = connectionOptions(headers);
  const result: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || RESPONSE_NOT_FORWARDED.has(name) || listed.has(name)) continue;
    result[name] = value;
  }
  return result;
}
