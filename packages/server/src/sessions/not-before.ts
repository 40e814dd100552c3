import type { AuthService } from '../auth-service.js';

/**
 * Sets the not-before policy to now, realm-wide or for one user: every refresh token and access
 * token issued earlier is refused from then on. Returns the policy time (ms).
 */
export async function pushNotBefore(auth: AuthService, userId?: string): Promise<number> {
  const now = auth.clock.now();
  if (userId === undefined) await auth.store.setRealmNotBefore(now);
  else await auth.store.updateUser(userId, { notBefore: now, updatedAt: now });
  auth.logger.info({ userId: userId ?? null, notBefore: now }, 'not-before policy set');
  return now;
}
