/**
 * The RFC 6750 answer to a failed authentication: status, `WWW-Authenticate` challenge, JSON body.
 *
 * @module
 */
import { DEFAULT_DPOP_ALGORITHMS } from './dpop.js';
import type { GuardError } from './errors.js';

/** An HTTP answer, ready to write with any server API. */
export interface ChallengeResponse {
  readonly status: number;
  /** Lower-case header names: `content-type`, `cache-control`, and `www-authenticate` on 400/401. */
  readonly headers: Readonly<Record<string, string>>;
  /** `{"error": …, "error_description": …}`, the same text for every failure of a kind. */
  readonly body: string;
}

/** RFC 9110 §5.6.4 `qdtext` without the backslash: safe inside a quoted-string as is. */
const QUOTABLE = /^[\t !#-[\]-~]*$/;

/** Throws `TypeError` unless `realm` can be sent as an RFC 9110 quoted-string without escaping. */
export function checkRealm(realm: unknown): string {
  if (typeof realm !== 'string' || realm.length === 0 || !QUOTABLE.test(realm)) {
    throw new TypeError('realm must be a non-empty string of printable ASCII without quotes or backslashes');
  }
  return realm;
}

/** The realm used when none is configured. */
export const DEFAULT_REALM = 'AntPeer';

/** Answers depend only on the error's code and the realm: build each once. */
const responses = new Map<string, ChallengeResponse>();

/**
 * Builds the answer to a {@link GuardError}: 401 with `WWW-Authenticate: Bearer realm="…"` when no
 * token was presented, adding `error="invalid_token"` when one was and is bad; 400 `invalid_request`
 * for a malformed `Authorization` header; 503 when the verifier cannot decide. A failure of a
 * DPoP-bound token or its proof is challenged with `DPoP algs="…", error="…"` instead (RFC 9449 §7.1). The body is JSON with
 * the RFC `error` code and a fixed description, and says nothing about which check failed.
 *
 * Throws `TypeError` on a realm that cannot be quoted safely.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 RFC 6750 §3}
 * @see {@link https://www.rfc-editor.org/rfc/rfc9449#section-7.1 RFC 9449 §7.1}
 */
export function challenge(
  error: GuardError,
  realm: string = DEFAULT_REALM,
  dpopAlgorithms: readonly string[] = DEFAULT_DPOP_ALGORITHMS,
): ChallengeResponse {
  const algs = dpopAlgorithms.join(' ');
  const cacheKey = `${error.code}\n${error.scheme}\n${error.error}\n${realm}\n${algs}`;
  const known = responses.get(cacheKey);
  if (known !== undefined) return known;
  checkRealm(realm);
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  };
  if (error.scheme === 'DPoP') {
    if (!QUOTABLE.test(algs)) throw new TypeError('DPoP algorithms must be printable ASCII');
    headers['www-authenticate'] = `DPoP realm="${realm}", algs="${algs}", error="${error.error}", error_description="${error.description}"`;
  } else if (error.status === 400 || error.status === 401) {
    headers['www-authenticate'] =
      error.error === undefined
        ? `Bearer realm="${realm}"`
        : `Bearer realm="${realm}", error="${error.error}", error_description="${error.description}"`;
  }
  const response: ChallengeResponse = Object.freeze({
    status: error.status,
    headers: Object.freeze(headers),
    body: JSON.stringify({ error: error.error ?? 'unauthorized', error_description: error.description }),
  });
  // Realms come from configuration, not from requests, so this map stays small.
  responses.set(cacheKey, response);
  return response;
}
