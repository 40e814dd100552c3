import { InvalidTokenError } from '../errors.js';

/** What claim validation compares against, all times in epoch seconds. */
export interface ClaimExpectations {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly now: number;
  readonly clockTolerance: number;
  /** Leeway for an `iat` ahead of `now`. */
  readonly iatTolerance: number;
  readonly notBeforePolicy: number;
}

const REQUIRED_STRINGS = ['sub', 'client_id', 'jti'] as const;

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * Checks a verified claims set against the RFC 9068 access token profile: the issuer, an audience
 * of ours, the required claims and their types, the validity window within the clock tolerance, and
 * the issuer's not-before policy (a token issued before it has been revoked).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9068#section-4 RFC 9068 §4}
 */
export function validateClaims(claims: Record<string, unknown>, expect: ClaimExpectations): void {
  if (claims.iss !== expect.issuer) throw new InvalidTokenError('issuer', 'unexpected iss');
  const aud = claims.aud;
  const audienceMatches =
    typeof aud === 'string'
      ? expect.audiences.includes(aud)
      : Array.isArray(aud) && aud.some((member) => typeof member === 'string' && expect.audiences.includes(member));
  if (!audienceMatches) throw new InvalidTokenError('audience', 'unexpected aud');
  for (const name of REQUIRED_STRINGS) {
    const value = claims[name];
    if (typeof value !== 'string' || value.length === 0) throw new InvalidTokenError('claims', `bad ${name} claim`);
  }
  if (claims.sid !== undefined && typeof claims.sid !== 'string') throw new InvalidTokenError('claims', 'bad sid');
  const { exp, iat, nbf } = claims;
  if (!isNumericDate(exp) || !isNumericDate(iat)) throw new InvalidTokenError('claims', 'bad exp or iat claim');
  if (nbf !== undefined && !isNumericDate(nbf)) throw new InvalidTokenError('claims', 'bad nbf claim');
  if (exp <= expect.now - expect.clockTolerance) throw new InvalidTokenError('expired', 'token expired');
  if (iat > expect.now + expect.iatTolerance) throw new InvalidTokenError('not_yet_valid', 'iat in the future');
  if (nbf !== undefined && nbf > expect.now + expect.clockTolerance) {
    throw new InvalidTokenError('not_yet_valid', 'nbf in the future');
  }
  if (iat < expect.notBeforePolicy) throw new InvalidTokenError('revoked', 'issued before the not-before policy');
}

/** Freezes a decoded claims set all the way down: cached identities are shared between requests. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
