import type { IncomingMessage } from 'node:http';

/** The part of a request target below the base, checked: a path that means one thing everywhere. */
export type ApplicationTarget =
  | { readonly ok: true; readonly path: string; readonly query: string }
  | { readonly ok: false; readonly description: string };

/** RFC 3986 `pchar`s and `/`: everything else in a path must arrive percent-encoded. */
const PATH_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
/** A query may hold any visible ASCII character but `#`. */
const QUERY_CHARACTERS = /^\?[\x21\x22\x24-\x7e]*$/;
/** `%` not followed by two hex digits. */
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
/** Encoded `/`, `\`, and control characters: each would let one server read a path differently from the next. */
const ENCODED_SEPARATOR_OR_CONTROL = /%(2f|5c|[01][0-9a-f]|7f)/i;

function refuse(description: string): ApplicationTarget {
  return { ok: false, description };
}

/**
 * Reads the path under `basePath` from an origin-form request target and refuses every form that
 * a server behind the gateway could resolve differently from the gateway (RFC 3986 §5.2.4 dot
 * segments, backslashes, encoded slashes, empty segments, invalid percent-encoding), so the path
 * the upstream sees is the path that was authorised, and it stays under the upstream's prefix.
 * Nothing of the target is repeated in the description.
 *
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-3.3
 */
export function applicationTarget(url: string, basePath: string): ApplicationTarget {
  const queryAt = url.indexOf('?');
  const fullPath = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt);
  if (fullPath !== basePath && !fullPath.startsWith(`${basePath}/`)) return refuse('The request path is not under the base path');
  const path = fullPath.slice(basePath.length) || '/';
  if (path.includes('\\')) return refuse('The request path must not contain a backslash');
  if (!PATH_CHARACTERS.test(path)) return refuse('The request path has characters that must be percent-encoded');
  if (BAD_PERCENT.test(path)) return refuse('The request path is not validly percent-encoded');
  if (ENCODED_SEPARATOR_OR_CONTROL.test(path)) return refuse('The request path must not contain an encoded slash, backslash or control character');
  const segments = path.slice(1).split('/');
  for (let index = 0; index < segments.length; index += 1) {
    const segment = segments[index] as string;
    if (segment === '' && index < segments.length - 1) return refuse('The request path must not contain an empty segment');
    // Without a `.` or a `%`, no reading of the segment is a dot segment.
    if (!segment.includes('.') && !segment.includes('%')) continue;
    // `..;x` is `..` to servers that strip path parameters (Tomcat and others).
    const name = segment.replace(/%2e/gi, '.').replace(/%3b/gi, ';').split(';')[0];
    if (name === '.' || name === '..') return refuse('The request path must not contain a dot segment');
  }
  if (query !== '' && !QUERY_CHARACTERS.test(query)) return refuse('The query has characters that must be percent-encoded');
  return { ok: true, path, query };
}

/** Request targets {@link toOriginForm} refused: absolute form for anything but our own base. */
const refusedTargets = new WeakSet<IncomingMessage>();

/** Whether {@link toOriginForm} refused the request's target. */
export function isRefusedTarget(request: IncomingMessage): boolean {
  return refusedTargets.has(request);
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?#@\s]+)(\/[^#]*|\?[^#]*)?$/i;

/**
 * Fastify's `rewriteUrl`: an absolute-form target (`GET http://host/path`, RFC 9112 §3.2.2) is
 * accepted only for a path under our own base; it becomes the origin-form path, and its authority
 * the `Host`, as the RFC says. Any other target that is not a path is marked refused (answered
 * 400 before routing) and routed nowhere.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9112#section-3.2.2
 */
export function toOriginForm(request: IncomingMessage, basePath: string): string {
  const url = request.url ?? '/';
  if (url.startsWith('/')) return url;
  const match = ABSOLUTE_FORM.exec(url);
  const rest = match?.[2] ?? '/';
  const path = rest.startsWith('?') ? `/${rest}` : rest;
  const pathOnly = path.split('?')[0] as string;
  if (match !== null && (pathOnly === basePath || pathOnly.startsWith(`${basePath}/`))) {
    request.headers.host = (match[1] as string).toLowerCase();
    return path;
  }
  refusedTargets.add(request);
  return '/';
}
