import type { AuthService } from '../auth-service.js';
import { isSessionActive } from './sessions.js';
import { verifyAccessToken } from './verify-access-token.js';

/** RFC 7662 §2.2 introspection answer, in the RFC's own names. */
export type Introspection = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE: Introspection = { active: false };

/**
 * RFC 7662 introspection of an access token (signature, claims, session, policy) or a refresh token
 * (the live token of an active session, not yet expired, not stale). Anything else is inactive.
 */
export async function introspectToken(auth: AuthService, token: string, hint: string | undefined): Promise<Introspection> {
  const order = hint === 'refresh_token' ? [introspectRefreshToken, introspectAccessToken] : [introspectAccessToken, introspectRefreshToken];
  for (const introspect of order) {
    const answer = await introspect(auth, token);
    if (answer.active) return answer;
  }
  return INACTIVE;
}

async function introspectAccessToken(auth: AuthService, token: string): Promise<Introspection> {
  const identity = await verifyAccessToken(auth, token);
  if (!identity) return INACTIVE;
  const { claims } = identity.identity;
  return {
    active: true,
    token_type: 'Bearer',
    scope: '',
    client_id: claims.client_id,
    username: identity.user.username,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    sid: claims.sid,
  };
}

async function introspectRefreshToken(auth: AuthService, token: string): Promise<Introspection> {
  if (!auth.refreshTokens.isWellFormed(token)) return INACTIVE;
  const record = await auth.store.findRefreshToken(auth.refreshTokens.hash(token));
  const now = auth.clock.now();
  if (!record || !record.live || !record.user.enabled || !isSessionActive(record.session, now) || record.expiresAt <= now) {
    return INACTIVE;
  }
  const notBefore = Math.max(await auth.store.getRealmNotBefore(), record.user.notBefore);
  if (record.issuedAt < notBefore) return INACTIVE;
  return {
    active: true,
    token_type: 'refresh_token',
    scope: '',
    client_id: record.user.username,
    username: record.user.username,
    sub: record.user.id,
    iss: auth.config.issuer,
    exp: Math.floor(record.expiresAt / 1000),
    iat: Math.floor(record.issuedAt / 1000),
    sid: record.session.id,
  };
}
