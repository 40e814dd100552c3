import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Actor } from '../credentials/client-applications.js';
import type { Store } from '../store/port.js';

/**
 * The not-before policy as it is kept: a whole second, so access tokens (whose `iat` is whole
 * seconds) and refresh tokens (issued to the millisecond) are cut at the same instant, and no
 * token issued in the same second as the policy, before it, survives (DESIGN §2).
 */
export function policyTime(now: number): number {
  return Math.ceil(now / 1000) * 1000;
}

/**
 * When a token issued at `now` counts as issued: never before a policy already set, so that a
 * token issued after the policy was pushed, but within the second it rounds up to, is not refused.
 */
export function issueTime(now: number, ...policiesMs: number[]): number {
  return Math.max(now, ...policiesMs);
}

/** Whether something issued at `issuedAtMs` is older than the policies in force (ms; 0 = none). */
export function isBeforePolicy(issuedAtMs: number, ...policiesMs: number[]): boolean {
  return issuedAtMs < Math.max(0, ...policiesMs);
}

/**
 * Sets the not-before policy, realm-wide or for one user: every refresh token and access token
 * issued before it is refused from then on. The policy is the next whole second (see
 * {@link policyTime}). Returns it (ms).
 */
export async function pushNotBefore(
  deps: { store: Pick<Store, 'settings' | 'users' | 'audit'>; clock: Clock; logger: Logger },
  actor: Actor,
  userId?: string,
): Promise<number> {
  const now = deps.clock.now();
  const at = policyTime(now);
  if (userId === undefined) await deps.store.settings.setRealmNotBefore(at);
  else await deps.store.users.update(userId, { notBefore: at, updatedAt: now });
  await deps.store.audit.record({
    at: now,
    type: 'not_before_policy_set',
    userId: userId ?? null,
    sessionId: null,
    sourceAddress: actor.sourceAddress,
    userAgent: actor.userAgent,
    detail: `${userId === undefined ? 'realm-wide' : 'per-user'} not-before policy set to ${new Date(at).toISOString()} by ${actor.name}`,
  });
  deps.logger.info({ userId: userId ?? null, notBefore: at }, 'not-before policy set');
  return at;
}
