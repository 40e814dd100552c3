import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { AuthService } from '../auth-service.js';
import type { Session, User } from '../store/port.js';
import type { JsonWebKeySet } from '../tokens/keys.js';
import { isSessionActive } from './sessions.js';

/** The identity behind an access token that checked out against the signature and the store. */
export interface AccessTokenIdentity {
  claims: JWTPayload & { client_id: string; sid: string; sub: string; jti: string; exp: number; iat: number };
  user: User;
  session: Session;
}

const localKeySets = new WeakMap<JsonWebKeySet, ReturnType<typeof createLocalJWKSet>>();

function keySetOf(jwks: JsonWebKeySet) {
  let keySet = localKeySets.get(jwks);
  if (!keySet) {
    keySet = createLocalJWKSet(jwks);
    localKeySets.set(jwks, keySet);
  }
  return keySet;
}

function hasIdentityClaims(payload: JWTPayload): payload is AccessTokenIdentity['claims'] {
  return (
    typeof payload.client_id === 'string' &&
    typeof payload.sid === 'string' &&
    typeof payload.sub === 'string' &&
    typeof payload.jti === 'string' &&
    typeof payload.exp === 'number' &&
    typeof payload.iat === 'number'
  );
}

/**
 * Verifies an access token as only the server can: signature, `typ`, issuer, audience and expiry
 * (RFC 9068 §4), and then against the store — the session is still active, the user enabled, and
 * the token not older than the not-before policy. A revoked session stops passing at once, not
 * at token expiry. Returns null for any token that does not pass.
 */
export async function verifyAccessToken(auth: AuthService, token: string): Promise<AccessTokenIdentity | null> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keySetOf(auth.keys.jwks()), {
      issuer: auth.config.issuer,
      audience: auth.config.audience,
      typ: 'at+jwt',
      algorithms: ['EdDSA', 'ES256', 'RS256'],
      currentDate: new Date(auth.clock.now()),
    }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError || error instanceof TypeError) return null;
    throw error;
  }
  if (!hasIdentityClaims(payload)) return null;
  const [session, realmNotBefore] = await Promise.all([
    auth.store.getSession(payload.sid),
    auth.store.getRealmNotBefore(),
  ]);
  if (!session || session.userId !== payload.sub || !isSessionActive(session, auth.clock.now())) return null;
  const user = await auth.store.findUserById(session.userId);
  if (!user || !user.enabled) return null;
  if (payload.iat < Math.floor(Math.max(realmNotBefore, user.notBefore) / 1000)) return null;
  return { claims: payload, user, session };
}
