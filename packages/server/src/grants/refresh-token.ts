import type { AuthService } from '../auth-service.js';
import { InvalidGrantError } from '../errors.js';
import { issueTokens, type TokenGrant } from '../sessions/issue-tokens.js';
import type { RotationOutcome, Source } from '../store/port.js';

/** RFC 6749 §6 refresh grant. */
export interface RefreshTokenGrantRequest {
  refreshToken: string;
  source: Source;
}

async function checkSourceRate(auth: AuthService, request: RefreshTokenGrantRequest): Promise<void> {
  await auth.bruteForce.assertSourceAllowed(request.source.address);
}

async function rejectUnknownToken(auth: AuthService, request: RefreshTokenGrantRequest): Promise<never> {
  await auth.bruteForce.recordFailure(request.source.address, null);
  throw new InvalidGrantError('Invalid refresh token');
}

/**
 * Checks and rotates the token in one atomic store step: the live token rotates; the previous
 * one within the grace window converges on the same successor; any other token of the session
 * revokes it (RFC 9700 §4.14.2).
 */
async function rotateRefreshToken(
  auth: AuthService,
  request: RefreshTokenGrantRequest,
  successor: string,
): Promise<RotationOutcome> {
  return auth.store.rotateRefreshToken({
    presentedHash: auth.refreshTokens.hash(request.refreshToken),
    successorHash: auth.refreshTokens.hash(successor),
    now: auth.clock.now(),
    idleMs: auth.config.sessionIdle * 1000,
    graceMs: auth.config.refreshGrace * 1000,
    source: request.source,
  });
}

/** Exchanges a refresh token for new tokens. */
export async function refreshTokenGrant(auth: AuthService, request: RefreshTokenGrantRequest): Promise<TokenGrant> {
  await checkSourceRate(auth, request);
  if (!auth.refreshTokens.isWellFormed(request.refreshToken)) return rejectUnknownToken(auth, request);
  const successor = auth.refreshTokens.successorOf(request.refreshToken);
  const outcome = await rotateRefreshToken(auth, request, successor);
  switch (outcome.kind) {
    case 'rotated':
    case 'replayed':
      return issueTokens(auth, {
        user: outcome.user,
        session: outcome.session,
        refreshToken: successor,
        refreshExpiresAt: outcome.tokenExpiresAt,
        realmNotBefore: outcome.realmNotBefore,
      });
    case 'unknown':
      return rejectUnknownToken(auth, request);
    case 'expired':
      throw new InvalidGrantError('Token is not active');
    case 'session_ended':
      throw new InvalidGrantError('Session not active');
    case 'stale':
      throw new InvalidGrantError('Stale token');
    case 'reused':
      auth.logger.warn(
        { sessionId: outcome.session.id, userId: outcome.session.userId, source: request.source.address },
        'refresh token reuse detected; session revoked',
      );
      throw new InvalidGrantError('Refresh token reuse detected');
  }
}
