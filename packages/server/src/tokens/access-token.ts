import { SignJWT } from 'jose';
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
}

/**
 * Signs an access token in the RFC 9068 JWT profile: header `typ: at+jwt` and `kid`; claims
 * `iss sub aud exp iat jti client_id sid`.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2
 */
export async function signAccessToken(keys: KeyRing, claims: AccessTokenClaims): Promise<string> {
  const key = keys.signingKey();
  return new SignJWT({ client_id: claims.clientId, sid: claims.sessionId })
    .setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject)
    .setAudience(claims.audience)
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(claims.expiresAt)
    .setJti(randomId())
    .sign(key.privateKey);
}
