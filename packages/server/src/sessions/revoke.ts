import type { AuthService } from '../auth-service.js';
import { verifyAccessToken } from './verify-access-token.js';

/**
 * RFC 7009 revocation: a refresh token or an access token ends the session it belongs to, so the
 * refresh token and every access token of that grant stop working (§2.1). An unknown or invalid
 * token is not an error (§2.2). Returns whether a session was ended.
 */
export async function revokeToken(auth: AuthService, token: string, hint: string | undefined): Promise<boolean> {
  const lookups = hint === 'access_token' ? [revokeAccessToken, revokeRefreshToken] : [revokeRefreshToken, revokeAccessToken];
  for (const lookup of lookups) {
    const sessionId = await lookup(auth, token);
    if (sessionId !== null) {
      const ended = await auth.store.endSession(sessionId, 'revoked', auth.clock.now());
      if (ended) auth.logger.info({ sessionId }, 'session ended by token revocation');
      return ended;
    }
  }
  return false;
}

async function revokeRefreshToken(auth: AuthService, token: string): Promise<string | null> {
  if (!auth.refreshTokens.isWellFormed(token)) return null;
  const record = await auth.store.findRefreshToken(auth.refreshTokens.hash(token));
  return record?.session.id ?? null;
}

async function revokeAccessToken(auth: AuthService, token: string): Promise<string | null> {
  const identity = await verifyAccessToken(auth, token);
  return identity?.session.id ?? null;
}

