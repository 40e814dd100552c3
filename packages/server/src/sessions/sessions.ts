import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { SessionPolicy } from '../config.js';
import { InvalidGrantError, SessionLimitError } from '../errors.js';
import { randomId } from '../random.js';
import type { Session, SessionContext, Source, Store, User } from '../store/port.js';
import type { RefreshTokens } from '../tokens/refresh-token.js';
import { issueTime } from './not-before.js';

/**
 * Starts a session for an authenticated user and records the login (`login_succeeded`) in the same
 * write; returns it with its first refresh token, bound to the DPoP key of thumbprint `jkt` for the
 * life of the session when one is given (RFC 9449 §5).
 * @throws {SessionLimitError} when the user already has as many active sessions as allowed; the
 *   refusal is audited, and no live session is ended to make room.
 */
export async function startSession(
  deps: { store: Pick<Store, 'sessions' | 'audit'>; clock: Clock; refreshTokens: RefreshTokens; policy: SessionPolicy },
  user: User,
  source: Source,
  realmNotBefore: number,
  jkt: string | null = null,
): Promise<{ session: Session; refreshToken: string }> {
  const now = deps.clock.now();
  const maxExpiresAt = now + deps.policy.maxMs;
  const id = randomId();
  const session = await deps.store.sessions.create(
    {
      id,
      userId: user.id,
      createdAt: now,
      idleExpiresAt: Math.min(now + deps.policy.idleMs, maxExpiresAt),
      maxExpiresAt,
      tokenIssuedAt: issueTime(now, realmNotBefore, user.notBefore),
      source,
      audit: {
        at: now,
        type: 'login_succeeded',
        userId: user.id,
        sessionId: id,
        sourceAddress: source.address,
        userAgent: source.userAgent,
        detail: jkt === null ? 'session started by a password grant' : 'session started by a password grant, bound to a DPoP key',
      },
    },
    deps.policy.maxActivePerUser,
  );
  if (!session) {
    await deps.store.audit.record({
      at: now,
      type: 'session_limit_reached',
      userId: user.id,
      sessionId: null,
      sourceAddress: source.address,
      userAgent: source.userAgent,
      detail: `login refused: ${deps.policy.maxActivePerUser} sessions already active`,
    });
    throw new SessionLimitError();
  }
  return { session, refreshToken: deps.refreshTokens.mint(session.id, 0, jkt) };
}

/**
 * The session a refresh token belongs to, if the MAC proves it ours; live or not (logout and
 * revocation end the session whichever of its tokens is presented).
 */
export async function findSessionOfRefreshToken(
  deps: { store: Pick<Store, 'sessions'>; refreshTokens: RefreshTokens },
  token: string,
): Promise<{ context: SessionContext; generation: number } | null> {
  const presented = deps.refreshTokens.read(token);
  if (!presented) return null;
  const context = await deps.store.sessions.getContext(presented.sessionId);
  if (!context || presented.generation > context.session.generation) return null;
  return { context, generation: presented.generation };
}

/**
 * Ends the session of `sessionId` for `reason` and records who asked, with whether the token they
 * presented was the live one. Returns whether the session was still open.
 */
export async function endSessionAudited(
  deps: { store: Pick<Store, 'sessions' | 'audit'>; clock: Clock; logger: Logger },
  ended: { session: Session; generation: number | null; reason: 'logout' | 'revoked'; source: Source },
): Promise<boolean> {
  const now = deps.clock.now();
  const { session } = ended;
  const done = await deps.store.sessions.end(session.id, ended.reason, now);
  if (!done) return false;
  const stale = ended.generation !== null && ended.generation !== session.generation;
  await deps.store.audit.record({
    at: now,
    type: ended.reason === 'logout' ? 'session_logout' : 'session_revoked',
    userId: session.userId,
    sessionId: session.id,
    sourceAddress: ended.source.address,
    userAgent: ended.source.userAgent,
    detail: stale
      ? `ended with refresh token generation ${ended.generation}, which was no longer live (generation ${session.generation} is)`
      : `session ended by ${ended.reason === 'logout' ? 'logout' : 'token revocation'}`,
  });
  deps.logger.info({ sessionId: session.id, userId: session.userId, staleToken: stale }, `session ended by ${ended.reason}`);
  return true;
}

/**
 * Ends the session a refresh token belongs to (`POST {base}/auth/logout`).
 * @throws {InvalidGrantError} for an unknown token or a session that has already ended.
 */
export async function logout(
  deps: { store: Pick<Store, 'sessions' | 'audit'>; clock: Clock; logger: Logger; refreshTokens: RefreshTokens },
  refreshToken: string,
  source: Source,
): Promise<void> {
  const found = await findSessionOfRefreshToken(deps, refreshToken);
  if (!found) throw new InvalidGrantError('Invalid refresh token');
  if (!(await endSessionAudited(deps, { session: found.context.session, generation: found.generation, reason: 'logout', source }))) {
    throw new InvalidGrantError('Session not active');
  }
}

/** Whether a session can still be used at `now`: not ended, not idle, not past its max lifetime. */
export function isSessionActive(session: Session, now: number): boolean {
  return session.endedAt === null && session.idleExpiresAt > now && session.maxExpiresAt > now;
}
