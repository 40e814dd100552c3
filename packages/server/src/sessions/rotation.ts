import type { SessionChange, SessionContext, Source } from '../store/port.js';
import { issueTime } from './not-before.js';

/** The rules of DESIGN §2 that a rotation applies; durations in milliseconds. */
export interface RotationPolicy {
  /** How long a refresh token lives after it is issued (the session's idle timeout). */
  idleMs: number;
  /**
   * How long after a rotation the previous token converges on the same successor, from any source;
   * 0 is strict single use. From the source that made the rotation, the previous token converges
   * for as long as the successor is unused (a client's retry of a rotation whose answer it never
   * got, however slow the server was); grace 0 turns that off too.
   */
  graceMs: number;
  /** Most rotations of one session within `refreshWindowMs`; past it, a rotation is throttled. */
  refreshLimit: number;
  refreshWindowMs: number;
}

/** A refresh token as the MAC proved it: which session and which generation of its chain. */
export interface PresentedToken {
  sessionId: string;
  generation: number;
}

/** What the session looks like after a rotation or a converged replay. */
export interface RotationGrant {
  context: SessionContext;
  /** Generation of the refresh token to hand out. */
  generation: number;
  /** When that refresh token was issued and when it expires. */
  tokenIssuedAt: number;
  tokenExpiresAt: number;
}

/** The outcome of presenting a refresh token, and what must be written for it. */
export type RotationDecision =
  /** The live token: rotate to the next generation (apply `change`). */
  | { kind: 'rotated'; grant: RotationGrant; change: SessionChange }
  /** The previous token within the grace window: hand out the live token again, write nothing. */
  | { kind: 'replayed'; grant: RotationGrant }
  | { kind: 'unknown' }
  | { kind: 'expired' }
  | { kind: 'session_ended' }
  | { kind: 'stale' }
  /** An older token (RFC 9700 §4.14.2): revoke the session and record who presented it (apply `change`). */
  | { kind: 'reused'; change: SessionChange }
  /** The live token, but the session rotated its limit within the window: try again later, nothing written. */
  | { kind: 'throttled'; retryAfterMs: number };

function isSameSource(a: Source | null, b: Source): boolean {
  return a !== null && a.address === b.address && a.userAgent === b.userAgent;
}

/** The audit event type of a detected refresh-token reuse. */
export const REUSE_AUDIT_TYPE = 'refresh_token_reuse';

/**
 * Decides what presenting `token` at `now` does to the session in `context` (null: no such
 * session). Pure: the caller reads the snapshot and applies the change with compare-and-set on the
 * generation it was decided from, so a concurrent rotation makes the change miss and the caller
 * decides again from the new snapshot.
 */
export function decideRotation(
  context: SessionContext | null,
  token: PresentedToken,
  now: number,
  policy: RotationPolicy,
  source: Source,
): RotationDecision {
  if (context === null) return { kind: 'unknown' };
  const { session, user, realmNotBefore } = context;
  const age = session.generation - token.generation;
  // A generation the session never reached: the MAC is ours, but the store does not know it
  // (restored from an older backup). Nothing to converge on and nothing to revoke.
  if (age < 0) return { kind: 'unknown' };
  if (session.endedAt !== null || !user.enabled) return { kind: 'session_ended' };
  // Every token of the chain expires no later than the live one.
  if (now >= session.idleExpiresAt || now >= session.maxExpiresAt) return { kind: 'expired' };

  const issuedAt = age === 0 ? session.tokenIssuedAt : age === 1 ? session.previousIssuedAt : null;
  if (issuedAt !== null) {
    const expiresAt = age === 0 ? session.idleExpiresAt : Math.min(issuedAt + policy.idleMs, session.maxExpiresAt);
    if (now >= expiresAt) return { kind: 'expired' };
    if (issuedAt < Math.max(realmNotBefore, user.notBefore)) return { kind: 'stale' };
  }

  if (age === 0) {
    const windowOpen = now - session.rotationWindowStart < policy.refreshWindowMs;
    if (windowOpen && session.rotationsInWindow >= policy.refreshLimit) {
      return { kind: 'throttled', retryAfterMs: session.rotationWindowStart + policy.refreshWindowMs - now };
    }
    const idleExpiresAt = Math.min(now + policy.idleMs, session.maxExpiresAt);
    const patch = {
      generation: session.generation + 1,
      tokenIssuedAt: issueTime(now, realmNotBefore, user.notBefore),
      previousIssuedAt: session.tokenIssuedAt,
      idleExpiresAt,
      lastRefreshAt: now,
      rotatedBy: source,
      rotationWindowStart: windowOpen ? session.rotationWindowStart : now,
      rotationsInWindow: windowOpen ? session.rotationsInWindow + 1 : 1,
    };
    return {
      kind: 'rotated',
      grant: {
        context: { ...context, session: { ...session, ...patch } },
        generation: patch.generation,
        tokenIssuedAt: patch.tokenIssuedAt,
        tokenExpiresAt: idleExpiresAt,
      },
      change: { sessionId: session.id, expectedGeneration: session.generation, patch },
    };
  }

  if (age === 1 && policy.graceMs > 0 && (now - session.tokenIssuedAt <= policy.graceMs || isSameSource(session.rotatedBy, source))) {
    return {
      kind: 'replayed',
      grant: {
        context,
        generation: session.generation,
        tokenIssuedAt: session.tokenIssuedAt,
        tokenExpiresAt: session.idleExpiresAt,
      },
    };
  }

  return {
    kind: 'reused',
    change: {
      sessionId: session.id,
      expectedGeneration: session.generation,
      patch: { endedAt: now, endReason: 'reuse' },
      audit: {
        at: now,
        type: REUSE_AUDIT_TYPE,
        userId: user.id,
        sessionId: session.id,
        sourceAddress: source.address,
        userAgent: source.userAgent,
        detail: `refresh token generation ${token.generation} presented after generation ${session.generation} was issued; session revoked`,
      },
    },
  };
}
