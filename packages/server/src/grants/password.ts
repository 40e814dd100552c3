import type { AuthService } from '../auth-service.js';
import { INVALID_CREDENTIALS, InvalidGrantError } from '../errors.js';
import { issueTokens, type TokenGrant } from '../sessions/issue-tokens.js';
import { startSession } from '../sessions/sessions.js';
import type { Source, User } from '../store/port.js';

/** RFC 6749 §4.3 resource owner password credentials grant, as the AntPeer page describes it. */
export interface PasswordGrantRequest {
  username: string;
  password: string;
  source: Source;
}

async function checkSourceRate(auth: AuthService, request: PasswordGrantRequest): Promise<void> {
  await auth.bruteForce.assertSourceAllowed(request.source.address);
}

/**
 * Verifies the password; unknown user, wrong password and locked account fail identically
 * (same error, one hash verification each).
 */
async function authenticate(auth: AuthService, request: PasswordGrantRequest): Promise<User> {
  const [user, locked] = await Promise.all([
    auth.store.findUserByUsername(request.username),
    auth.bruteForce.isLocked(request.username),
  ]);
  const check = await auth.hasher.check(user?.passwordHash ?? null, request.password);
  if (!user || !check.valid || locked) {
    await auth.bruteForce.recordFailure(request.source.address, request.username);
    auth.logger.info({ source: request.source.address, locked }, 'password grant refused');
    throw new InvalidGrantError(INVALID_CREDENTIALS, 401);
  }
  if (check.upgradedHash) {
    await auth.store.updateUser(user.id, { passwordHash: check.upgradedHash, updatedAt: auth.clock.now() });
  }
  return user;
}

function checkAccountEnabled(user: User): void {
  if (!user.enabled) throw new InvalidGrantError('Account disabled');
}

/** Authenticates a client application and starts a session. */
export async function passwordGrant(auth: AuthService, request: PasswordGrantRequest): Promise<TokenGrant> {
  await checkSourceRate(auth, request);
  const user = await authenticate(auth, request);
  checkAccountEnabled(user);
  await auth.bruteForce.recordSuccess(user.username);
  const { session, refreshToken } = await startSession(auth, user, request.source);
  return issueTokens(auth, { user, session, refreshToken, refreshExpiresAt: session.idleExpiresAt });
}
