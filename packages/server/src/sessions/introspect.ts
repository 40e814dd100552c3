import type { Config } from '../config.js';
import type { SessionUser, Store } from '../store/port.js';
import type { RefreshTokens } from '../tokens/refresh-token.js';
import { isBeforePolicy } from './not-before.js';
import { isSessionActive } from './sessions.js';
import { verifyAccessToken, type AccessTokenCheckDeps } from './verify-access-token.js';

/** RFC 7662 §2.2 introspection answer, in the RFC's own names. */
export type Introspection = { active: false } | ({ active: true } & Record<string, unknown>);

/** What introspection uses. */
export type IntrospectDeps = AccessTokenCheckDeps & {
  store: Pick<Store, 'sessions'>;
  refreshTokens: RefreshTokens;
  config: Pick<Config, 'issuer'>;
};

const INACTIVE: Introspection = { active: false };

/** A caller sees its own tokens; another client application's only with the introspection permission (RFC 7662 §4). */
function maySee(caller: SessionUser, ownerId: string): boolean {
  return caller.canIntrospect || caller.id === ownerId;
}

/**
 * RFC 7662 introspection of an access token (signature, claims, session, policy) or a refresh token
 * (the live token of an active session, not yet expired, not stale), on behalf of `caller`.
 * Anything else, and any token the caller may not see, is inactive.
 */
export async function introspectToken(
  deps: IntrospectDeps,
  caller: SessionUser,
  token: string,
  hint: string | undefined,
): Promise<Introspection> {
  const order = hint === 'refresh_token' ? [introspectRefreshToken, introspectAccessToken] : [introspectAccessToken, introspectRefreshToken];
  for (const introspect of order) {
    const answer = await introspect(deps, caller, token);
    if (answer.active) return answer;
  }
  return INACTIVE;
}

async function introspectAccessToken(deps: IntrospectDeps, caller: SessionUser, token: string): Promise<Introspection> {
  const identity = await verifyAccessToken(deps, token);
  if (!identity || !maySee(caller, identity.user.id)) return INACTIVE;
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

async function introspectRefreshToken(deps: IntrospectDeps, caller: SessionUser, token: string): Promise<Introspection> {
  const presented = deps.refreshTokens.read(token);
  if (!presented) return INACTIVE;
  const context = await deps.store.sessions.getContext(presented.sessionId);
  const now = deps.clock.now();
  if (!context || !maySee(caller, context.user.id)) return INACTIVE;
  const { session, user, realmNotBefore } = context;
  const live = presented.generation === session.generation;
  if (!live || !user.enabled || !isSessionActive(session, now)) return INACTIVE;
  if (isBeforePolicy(session.tokenIssuedAt, realmNotBefore, user.notBefore)) return INACTIVE;
  return {
    active: true,
    token_type: 'refresh_token',
    scope: '',
    client_id: user.username,
    username: user.username,
    sub: user.id,
    iss: deps.config.issuer,
    exp: Math.floor(session.idleExpiresAt / 1000),
    iat: Math.floor(session.tokenIssuedAt / 1000),
    sid: session.id,
  };
}
