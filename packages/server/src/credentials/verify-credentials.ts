import type { AuthService } from '../auth-service.js';
import type { Source, User } from '../store/port.js';

/**
 * Checks a client application's username and password. Unknown user, wrong password and locked
 * account all return null after exactly one hash verification, and count as a failure against
 * the username and the source. A stored hash with old parameters is upgraded on success.
 * The caller decides what a disabled account means.
 */
export async function verifyCredentials(
  auth: AuthService,
  username: string,
  password: string,
  source: Source,
  signal?: AbortSignal,
): Promise<User | null> {
  const [user, locked] = await Promise.all([
    auth.store.findUserByUsername(username),
    auth.bruteForce.isLocked(username),
  ]);
  const check = await auth.hasher.check(user?.passwordHash ?? null, password, signal);
  if (!user || !check.valid || locked) {
    await auth.bruteForce.recordFailure(source.address, username);
    auth.logger.info({ source: source.address, locked }, 'client application authentication refused');
    return null;
  }
  if (check.upgradedHash) {
    await auth.store.updateUser(user.id, { passwordHash: check.upgradedHash, updatedAt: auth.clock.now() });
  }
  await auth.bruteForce.recordSuccess(username);
  return user;
}
