import { InvalidRequestError, TokenMissingError, type GuardError } from '../errors.js';

/** RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`, the scheme matched case-insensitively. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const SCHEME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?: |$)/;

/**
 * Reads the bearer token from an `Authorization` header value, or returns the error to answer with:
 * no header or another scheme → {@link TokenMissingError}; `Bearer` that is malformed, or more than
 * one `Authorization` header → {@link InvalidRequestError}. Returns the error instead of throwing,
 * because this runs on every request.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-2.1 RFC 6750 §2.1}
 */
export function readBearerToken(authorization: string | readonly string[] | undefined): string | GuardError {
  if (authorization === undefined) return new TokenMissingError();
  if (typeof authorization !== 'string') {
    return authorization.length === 1 && typeof authorization[0] === 'string'
      ? readBearerToken(authorization[0])
      : new InvalidRequestError('more than one Authorization header');
  }
  const match = BEARER.exec(authorization);
  if (match !== null) return match[1] as string;
  if (authorization.length >= 6 && authorization.slice(0, 6).toLowerCase() === 'bearer') {
    return new InvalidRequestError('malformed Bearer credentials');
  }
  if (authorization.trim() === '') return new TokenMissingError();
  // Another well-formed scheme (Basic, DPoP, ...) is not a bearer token: challenge for one.
  if (SCHEME.test(authorization)) return new TokenMissingError('the Authorization header uses another scheme');
  return new InvalidRequestError('malformed Authorization header');
}

/** RFC 9449 §7.1: `Authorization: DPoP <token68>`, the scheme matched case-insensitively. */
const DPOP = /^DPoP +([A-Za-z0-9\-._~+/]+=*)$/i;

/** An access token with the scheme it was presented under. */
export interface PresentedToken {
  readonly scheme: 'Bearer' | 'DPoP';
  readonly token: string;
}

/**
 * Reads an access token presented with the `Bearer` (RFC 6750) or the `DPoP` (RFC 9449 §7.1)
 * scheme, or returns the error to answer with, as {@link readBearerToken} does.
 */
export function readAccessToken(authorization: string | readonly string[] | undefined): PresentedToken | GuardError {
  if (typeof authorization === 'string' && authorization.length >= 5 && authorization.slice(0, 5).toLowerCase() === 'dpop ') {
    const match = DPOP.exec(authorization);
    return match === null ? new InvalidRequestError('malformed DPoP credentials') : { scheme: 'DPoP', token: match[1] as string };
  }
  if (typeof authorization !== 'string' && authorization !== undefined && authorization.length === 1 && typeof authorization[0] === 'string') {
    return readAccessToken(authorization[0]);
  }
  const token = readBearerToken(authorization);
  return typeof token === 'string' ? { scheme: 'Bearer', token } : token;
}
