import type { AuthService } from '../auth-service.js';
import { InvalidGrantError } from '../errors.js';
import { randomId } from '../random.js';
import type { Session, Source, User } from '../store/port.js';

/** Starts a session for an authenticated user; returns it with its first refresh token. */
export async function startSession(
  auth: AuthService,
  user: User,
  source: Source,
): Promise<{ session: Session; refreshToken: string }> {
  const now = auth.clock.now();
  const refreshToken = auth.refreshTokens.issue();
  const maxExpiresAt = now + auth.config.sessionMax * 1000;
  const session = await auth.store.createSession({
    id: randomId(),
    userId: user.id,
    createdAt: now,
    idleExpiresAt: Math.min(now + auth.config.sessionIdle * 1000, maxExpiresAt),
    maxExpiresAt,
    source,
    refreshTokenHash: auth.refreshTokens.hash(refreshToken),
  });
  return { session, refreshToken };
}

/**
 * Ends the session a refresh token belongs to (`POST {base}/auth/logout`).
 * @throws {InvalidGrantError} for an unknown token or a session that has already ended.
 */
export async function logout(auth: AuthService, refreshToken: string): Promise<void> {
  const record = auth.refreshTokens.isWellFormed(refreshToken)
    ? await auth.store.findRefreshToken(auth.refreshTokens.hash(refreshToken))
    : null;
  if (!record) throw new InvalidGrantError('Invalid refresh token');
  if (!(await auth.store.endSession(record.session.id, 'logout', auth.clock.now()))) {
    throw new InvalidGrantError('Session not active');
  }
  auth.logger.info({ sessionId: record.session.id, userId: record.user.id }, 'session ended by logout');
}

/** Whether a session can still be used at `now`: not ended, not idle, not past its max lifetime. */
export function isSessionActive(session: Session, now: number): boolean {
  return session.endedAt === null && session.idleExpiresAt > now && session.maxExpiresAt > now;
}
