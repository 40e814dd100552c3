import type { Clock } from '../clock.js';
import type { SigningAlgorithm } from '../config.js';
import type { Actor } from '../credentials/client-applications.js';
import type { Store } from '../store/port.js';
import type { KeyRing } from './keys.js';

/**
 * An operator rotates the signing key: a new key of `algorithm` signs from now on, the old one
 * stays published until its tokens expire. Recorded in the audit trail. Returns the new key's id.
 */
export async function rotateSigningKey(
  deps: { keys: KeyRing; store: Pick<Store, 'audit'>; clock: Clock },
  actor: Actor,
  algorithm: SigningAlgorithm,
): Promise<string> {
  const kid = await deps.keys.rotate(algorithm);
  await deps.store.audit.record({
    at: deps.clock.now(),
    type: 'key_rotated',
    userId: null,
    sessionId: null,
    sourceAddress: actor.sourceAddress,
    userAgent: actor.userAgent,
    detail: `signing key ${kid} (${algorithm}) created by ${actor.name}`,
  });
  return kid;
}
