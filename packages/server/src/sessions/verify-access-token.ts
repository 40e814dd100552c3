import { GuardError, type Identity } from '@antpeer/guard';
import type { AuthService } from '../auth-service.js';
import type { Session, User } from '../store/port.js';
import { isSessionActive } from './sessions.js';

/** An access token that checked out against the signature and against the store. */
export interface AccessTokenIdentity {
  identity: Identity;
  user: User;
  session: Session;
}

/**
 * What only the server can check about a token whose signature and claims the guard verified: its
 * session is still active, its user enabled, and it is not older than the not-before policy. A
 * revoked session stops passing at once, not at token expiry. Returns null when it does not pass.
 */
export async function checkIdentityInStore(
  auth: AuthService,
  identity: Identity,
): Promise<{ user: User; session: Session } | null> {
  if (identity.sessionId === undefined) return null;
  const context = await auth.store.getSessionContext(identity.sessionId);
  if (!context) return null;
  const { session, user, realmNotBefore } = context;
  if (session.userId !== identity.subject || !isSessionActive(session, auth.clock.now())) return null;
  if (!user.enabled) return null;
  if (identity.issuedAt < Math.floor(Math.max(realmNotBefore, user.notBefore) / 1000)) return null;
  return { user, session };
}

/**
 * Verifies an access token as only the server can: signature, `typ`, issuer, audience and expiry
 * (RFC 9068 §4) through the guard, then {@link checkIdentityInStore}. Returns null for any token
 * that does not pass.
 */
export async function verifyAccessToken(auth: AuthService, token: string): Promise<AccessTokenIdentity | null> {
  let identity: Identity;
  try {
    identity = await auth.accessTokens.verify(token);
  } catch (error) {
    if (error instanceof GuardError) return null;
    throw error;
  }
  const checked = await checkIdentityInStore(auth, identity);
  return checked && { identity, ...checked };
}
