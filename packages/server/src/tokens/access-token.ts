import type { SigningAlgorithm } from '../config.js';
import { randomId } from '../random.js';
import type { KeyRing } from './keys.js';

export interface AccessTokenClaims {
  issuer: string;
  audience: string;
  /** The user (client application) id. */
  subject: string;
  /** The client application's username. */
  clientId: string;
  sessionId: string;
  /** Epoch seconds. */
  issuedAt: number;
  expiresAt: number;
  /** The DPoP key thumbprint the token is bound to (`cnf.jkt`, RFC 9449 §6.1); absent for a bearer token. */
  jkt?: string;
}

/** The protected header of every access token a key signs, already in base64url (it never changes). */
export function encodeProtectedHeader(alg: SigningAlgorithm, kid: string): string {
  return Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid })).toString('base64url');
}

/**
 * Signs an access token in the RFC 9068 JWT profile: header `typ: at+jwt` and `kid`; claims
 * `iss sub aud exp iat jti client_id sid`, and `cnf.jkt` when bound to a DPoP key (RFC 9449 §6.1).
 * Signed synchronously on the calling thread (about 20 µs for Ed25519, see `jws-signer.ts`): a token
 * never waits in libuv's thread pool behind password hashes or file-system work.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2
 */
export function signAccessToken(keys: KeyRing, claims: AccessTokenClaims): string {
  const key = keys.signingKey();
  const payload = Buffer.from(
    JSON.stringify({
      iss: claims.issuer,
      sub: claims.subject,
      aud: claims.audience,
      exp: claims.expiresAt,
      iat: claims.issuedAt,
      jti: randomId(),
      client_id: claims.clientId,
      sid: claims.sessionId,
      ...(claims.jkt === undefined ? {} : { cnf: { jkt: claims.jkt } }),
    }),
  ).toString('base64url');
  const input = `${key.encodedHeader}.${payload}`;
  return `${input}.${key.sign(Buffer.from(input)).toString('base64url')}`;
}
