import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { BruteForceGuard } from '../credentials/brute-force.js';
import { InvalidDpopProofError, InvalidGrantError, TooManyRequestsError } from '../errors.js';
import { issueTokens, type TokenGrant, type TokenIssuerDeps } from '../sessions/issue-tokens.js';
import { decideRotation, type PresentedToken, type RotationDecision } from '../sessions/rotation.js';
import type { Source, Store } from '../store/port.js';
import type { PresentedRefreshToken, RefreshTokens } from '../tokens/refresh-token.js';

/** RFC 6749 §6 refresh grant. */
export interface RefreshTokenGrantRequest {
  refreshToken: string;
  source: Source;
  /** The thumbprint of the key of the request's checked DPoP proof, if it carried one (RFC 9449 §5). */
  dpopJkt?: string | null;
}

/** What the refresh grant uses. */
export type RefreshTokenGrantDeps = TokenIssuerDeps & {
  store: Pick<Store, 'sessions' | 'audit'>;
  clock: Clock;
  logger: Logger;
  bruteForce: BruteForceGuard;
  refreshTokens: RefreshTokens;
  config: Pick<Config, 'sessions'>;
};

/** A decision whose change another request's change beat: decide again, at most this often. */
const MAX_DECISIONS = 8;

async function checkSourceRate(deps: RefreshTokenGrantDeps, request: RefreshTokenGrantRequest): Promise<void> {
  const throttle = await deps.bruteForce.checkSource(request.source.address);
  if (throttle) throw new TooManyRequestsError(Math.max(1, Math.ceil(throttle.retryAfterMs / 1000)));
}

async function rejectUnknownToken(deps: RefreshTokenGrantDeps, request: RefreshTokenGrantRequest): Promise<never> {
  await deps.bruteForce.recordSourceFailure(request.source.address);
  throw new InvalidGrantError('Invalid refresh token');
}

/**
 * Reads the session, decides (live token: rotate; previous one within the grace window: converge
 * on the same successor; any older one: revoke, RFC 9700 §4.14.2), and applies the decision with
 * compare-and-set. When a concurrent request changed the session first, the decision is taken
 * again from what it left: a burst carrying one token rotates it once and converges.
 */
async function rotateRefreshToken(
  deps: RefreshTokenGrantDeps,
  presented: PresentedToken,
  source: Source,
  jkt: string | null,
): Promise<RotationDecision> {
  const { idleMs, graceMs, refreshLimit, refreshWindowMs } = deps.config.sessions;
  for (let attempt = 1; ; attempt += 1) {
    const context = await deps.store.sessions.getContext(presented.sessionId);
    // A session started before the operator required DPoP is not bound; its refreshes now need a proof.
    if (jkt === null && context?.user.requireDpop === true) throw new InvalidDpopProofError('DPoP proof required');
    const decision = decideRotation(context, presented, deps.clock.now(), { idleMs, graceMs, refreshLimit, refreshWindowMs }, source);
    if (!('change' in decision) || (await deps.store.sessions.apply(decision.change))) return decision;
    if (attempt === MAX_DECISIONS) throw new Error(`rotation of session ${presented.sessionId} lost ${attempt} races in a row`);
  }
}

/** A converged retry is legitimate, but an operator investigating a theft wants to see it. */
function recordReplay(deps: RefreshTokenGrantDeps, sessionId: string, userId: string, source: Source): Promise<void> {
  return deps.store.audit.record({
    at: deps.clock.now(),
    type: 'refresh_token_replay',
    userId,
    sessionId,
    sourceAddress: source.address,
    userAgent: source.userAgent,
    detail: 'the previous refresh token was presented again within the grace window; the same successor was handed out',
  });
}

/**
 * A refresh token bound to a DPoP key is good only with a proof of that key (RFC 9449 §5): a thief
 * holding the token but not the key is refused, and the attempt audited. The session stays open;
 * its owner still holds the key.
 */
async function checkKeyBinding(deps: RefreshTokenGrantDeps, presented: PresentedRefreshToken, request: RefreshTokenGrantRequest): Promise<void> {
  const jkt = request.dpopJkt ?? null;
  if (presented.jkt === null || presented.jkt === jkt) return;
  const context = await deps.store.sessions.getContext(presented.sessionId);
  await deps.store.audit.record({
    at: deps.clock.now(),
    type: 'dpop_key_mismatch',
    userId: context?.user.id ?? null,
    sessionId: presented.sessionId,
    sourceAddress: request.source.address,
    userAgent: request.source.userAgent,
    detail: jkt === null ? 'DPoP-bound refresh token presented without a proof' : 'DPoP-bound refresh token presented with a proof of another key',
  });
  deps.logger.warn({ sessionId: presented.sessionId, source: request.source.address }, 'DPoP-bound refresh token presented without its key');
  throw new InvalidGrantError('DPoP key mismatch');
}

/** Exchanges a refresh token for new tokens. */
export async function refreshTokenGrant(deps: RefreshTokenGrantDeps, request: RefreshTokenGrantRequest): Promise<TokenGrant> {
  await checkSourceRate(deps, request);
  const presented = deps.refreshTokens.read(request.refreshToken);
  if (!presented) return rejectUnknownToken(deps, request);
  await checkKeyBinding(deps, presented, request);
  const decision = await rotateRefreshToken(deps, presented, request.source, request.dpopJkt ?? null);
  switch (decision.kind) {
    case 'replayed':
      await recordReplay(deps, decision.grant.context.session.id, decision.grant.context.user.id, request.source);
    // falls through: a replay hands out the same successor as the rotation did
    case 'rotated': {
      const { context, generation, tokenExpiresAt } = decision.grant;
      return issueTokens(deps, {
        user: context.user,
        session: context.session,
        refreshToken: deps.refreshTokens.mint(context.session.id, generation, presented.jkt),
        refreshExpiresAt: tokenExpiresAt,
        realmNotBefore: context.realmNotBefore,
        jkt: request.dpopJkt ?? null,
      });
    }
    case 'unknown':
      return rejectUnknownToken(deps, request);
    case 'expired':
      throw new InvalidGrantError('Token is not active');
    case 'session_ended':
      throw new InvalidGrantError('Session not active');
    case 'stale':
      throw new InvalidGrantError('Stale token');
    case 'throttled':
      throw new TooManyRequestsError(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)), 'Too many refreshes of this session; retry later');
    case 'reused':
      deps.logger.warn(
        { sessionId: presented.sessionId, source: request.source.address },
        'refresh token reuse detected; session revoked',
      );
      throw new InvalidGrantError('Refresh token reuse detected');
  }
}
