import { challenge, GuardError, InvalidTokenError, type ChallengeResponse, type Identity, type Verifier } from '@antpeer/guard';
import type { Clock } from '../clock.js';
import type { Session, SessionContext, SessionUser, Store } from '../store/port.js';
import { isSessionActive } from './sessions.js';

/** What checking an access token against the store uses. */
export interface AccessTokenCheckDeps {
  store: Pick<Store, 'sessions'>;
  clock: Clock;
  accessTokens: Verifier;
}

/** An access token that checked out against the signature and against the store. */
export interface AccessTokenIdentity {
  identity: Identity;
  user: SessionUser;
  session: Session;
}

/**
 * What only the server can check about a token whose signature and claims the guard verified: its
 * session is still active, its user enabled, and it is not older than the not-before policy (a
 * policy is a whole second, so `iat` compares exactly). A revoked session stops passing at once,
 * not at token expiry. Returns null when it does not pass.
 */
export async function checkIdentityInStore(
  deps: Omit<AccessTokenCheckDeps, 'accessTokens'>,
  identity: Identity,
): Promise<{ user: SessionUser; session: Session } | null> {
  if (identity.sessionId === undefined) return null;
  return checkContext(await deps.store.sessions.getContext(identity.sessionId), identity, deps.clock.now());
}

/** {@link checkIdentityInStore} on the context of the token's session, already read (null: none). */
export function checkContext(context: SessionContext | null, identity: Identity, now: number): { user: SessionUser; session: Session } | null {
  if (!context) return null;
  const { session, user, realmNotBefore } = context;
  if (session.userId !== identity.subject || !isSessionActive(session, now)) return null;
  if (!user.enabled) return null;
  if (identity.issuedAt * 1000 < Math.max(realmNotBefore, user.notBefore)) return null;
  return { user, session };
}

/**
 * Verifies an access token as only the server can: signature, `typ`, issuer, audience and expiry
 * (RFC 9068 §4) through the guard, then {@link checkIdentityInStore}. Returns null for any token
 * that does not pass.
 */
export async function verifyAccessToken(deps: AccessTokenCheckDeps, token: string): Promise<AccessTokenIdentity | null> {
  let identity: Identity;
  try {
    identity = await deps.accessTokens.verify(token);
  } catch (error) {
    if (error instanceof GuardError) return null;
    throw error;
  }
  const checked = await checkIdentityInStore(deps, identity);
  return checked && { identity, ...checked };
}

const REVOKED = {
  Bearer: new InvalidTokenError('revoked', 'the session of the token has ended'),
  DPoP: new InvalidTokenError('revoked', 'the session of the token has ended', { scheme: 'DPoP' }),
} as const;

/**
 * The 401 for a token whose session did not check out ({@link checkIdentityInStore}), in the
 * scheme it was presented with: a DPoP-bound token only passes under the DPoP scheme, so its
 * refusal is a `DPoP` challenge (RFC 9449 §7.1).
 */
export function revokedChallenge(identity: Identity, realm: string, accessTokens: Pick<Verifier, 'dpopAlgorithms'>): ChallengeResponse {
  return challenge(REVOKED[identity.claims.cnf === undefined ? 'Bearer' : 'DPoP'], realm, accessTokens.dpopAlgorithms);
}
