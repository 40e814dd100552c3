import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { OverloadedError, TooManyRequestsError } from '../errors.js';
import type { AuditKind } from '../audit/kinds.js';
import type { AuditEvent, Source, Store, User } from '../store/port.js';
import type { BruteForceGuard } from './brute-force.js';
import { OVERLOAD_RETRY_AFTER } from './hash-pool.js';
import type { PasswordCheck, PasswordHasher } from './password-hasher.js';
import { MAX_USERNAME_LENGTH } from './rules.js';

/** What checking a client application's credentials uses. */
export interface CredentialDeps {
  store: Pick<Store, 'users' | 'audit'>;
  clock: Clock;
  logger: Logger;
  hasher: PasswordHasher;
  bruteForce: BruteForceGuard;
}

function loginEvent(type: AuditKind, now: number, source: Source, user: User | null, detail: string): AuditEvent {
  return { at: now, type, userId: user?.id ?? null, sessionId: null, sourceAddress: source.address, userAgent: source.userAgent, detail };
}

/**
 * Checks a client application's username and password (DESIGN §2). The attempt is first reserved
 * against the brute-force limits in one atomic store step; a locked (username, source) pair, or a
 * username locked for unknown sources, returns null at once without hashing, exactly as a wrong
 * password would answer. When the hashing threads are saturated the attempt is refused first, with
 * nothing reserved or recorded. An admitted attempt costs exactly one hash verification, known user or
 * not. A stored hash with old parameters is upgraded on success. The caller decides what a
 * disabled account means.
 * @throws {TooManyRequestsError} when the source is over its failure rate.
 */
export async function verifyCredentials(
  deps: CredentialDeps,
  username: string,
  password: string,
  source: Source,
  signal?: AbortSignal,
): Promise<User | null> {
  // A login the hashing threads cannot take is refused before it costs anything else (a counter
  // reservation and its release are two store writes): under a flood, the event loop's time goes
  // to the requests it can still answer.
  if (deps.hasher.saturated) throw new OverloadedError(OVERLOAD_RETRY_AFTER);
  // No client application can have a longer name: counting such a name would only let a client
  // make the store hash and keep arbitrarily large keys for nothing.
  const name = username.length > MAX_USERNAME_LENGTH ? null : username;
  const admission = await deps.bruteForce.admitLogin(name ?? '', source.address);
  if (admission.kind === 'throttled') throw new TooManyRequestsError(Math.max(1, Math.ceil(admission.retryAfterMs / 1000)));
  const now = deps.clock.now();
  if (admission.kind === 'locked') {
    deps.logger.info({ source: source.address }, 'client application authentication refused: locked');
    await deps.store.audit.record(loginEvent('login_locked', now, source, null, 'login refused without a check: locked'));
    return null;
  }
  const user = name === null ? null : await deps.store.users.findByUsername(name);
  let check: PasswordCheck;
  try {
    check = await deps.hasher.check(user?.passwordHash ?? null, password, signal);
  } catch (error) {
    // Nothing was checked (the hashing threads are overloaded, or the caller went away): the
    // reservation is given back, so this never counts as a failed login.
    await deps.bruteForce.release(admission.attempt);
    throw error;
  }
  if (!user || !check.valid) {
    deps.logger.info({ source: source.address }, 'client application authentication refused');
    await deps.store.audit.record(loginEvent('login_failed', now, source, user, 'wrong username or password'));
    if (admission.starts !== null) {
      const what = admission.starts === 'pair' ? 'this source is locked out of the username' : 'the username is locked for unknown sources';
      await deps.store.audit.record(loginEvent('lockout_started', now, source, user, `lockout threshold reached: ${what}`));
    }
    return null;
  }
  if (check.upgradedHash) await deps.store.users.update(user.id, { passwordHash: check.upgradedHash, updatedAt: now });
  await deps.bruteForce.recordSuccess(admission.attempt);
  return user;
}
