import type { Logger } from 'pino';
import type { Session, Source, Store } from '../store/port.js';
import type { RefreshTokens } from '../tokens/refresh-token.js';
import { endSessionAudited, findSessionOfRefreshToken } from './sessions.js';
import { verifyAccessToken, type AccessTokenCheckDeps } from './verify-access-token.js';

/** What revocation uses. */
export type RevokeDeps = AccessTokenCheckDeps & {
  store: Pick<Store, 'sessions' | 'audit'>;
  logger: Logger;
  refreshTokens: RefreshTokens;
};

/**
 * RFC 7009 revocation: a refresh token (live or an older one of the chain) or an access token ends
 * the session it belongs to, so the refresh token and every access token of that grant stop
 * working (§2.1); the ending is audited. An unknown or invalid token is not an error (§2.2).
 * Returns whether a session was ended.
 */
export async function revokeToken(deps: RevokeDeps, token: string, hint: string | undefined, source: Source): Promise<boolean> {
  const lookups = hint === 'access_token' ? [findByAccessToken, findByRefreshToken] : [findByRefreshToken, findByAccessToken];
  for (const lookup of lookups) {
    const found = await lookup(deps, token);
    if (found) return endSessionAudited(deps, { ...found, reason: 'revoked', source });
  }
  return false;
}

type Found = { session: Session; generation: number | null } | null;

async function findByRefreshToken(deps: RevokeDeps, token: string): Promise<Found> {
  const found = await findSessionOfRefreshToken(deps, token);
  return found && { session: found.context.session, generation: found.generation };
}

async function findByAccessToken(deps: RevokeDeps, token: string): Promise<Found> {
  const identity = await verifyAccessToken(deps, token);
  return identity && { session: identity.session, generation: null };
}
