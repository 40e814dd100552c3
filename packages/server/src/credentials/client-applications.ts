import type { AuthService } from '../auth-service.js';
import { PASSWORD_RULE, USERNAME_RULE, isValidPassword, isValidUsername } from '../config.js';
import { randomId, randomSecret } from '../random.js';
import type { User } from '../store/port.js';

/** A username or password that does not meet the rules; the message says which rule. */
export class InvalidClientApplicationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidClientApplicationError';
  }
}

function checkPassword(password: string): void {
  if (!isValidPassword(password)) throw new InvalidClientApplicationError(`the password ${PASSWORD_RULE}`);
}

/**
 * Registers a client application. Without a password, one is generated (144 random bits) and
 * returned once.
 */
export async function addClientApplication(
  auth: AuthService,
  username: string,
  password?: string,
): Promise<{ user: User; generatedPassword: string | null }> {
  if (!isValidUsername(username)) throw new InvalidClientApplicationError(`the username ${USERNAME_RULE}`);
  if (password !== undefined) checkPassword(password);
  const secret = password ?? randomSecret(18);
  const user = await auth.store.createUser({
    id: randomId(),
    username,
    passwordHash: await auth.hasher.hash(secret),
    createdAt: auth.clock.now(),
  });
  return { user, generatedPassword: password === undefined ? secret : null };
}

/**
 * Sets a new password; without one, generates it (as {@link addClientApplication} does) and returns
 * it once. Existing sessions go on; use the not-before policy to end them too.
 */
export async function changePassword(auth: AuthService, user: User, password?: string): Promise<string | null> {
  if (password !== undefined) checkPassword(password);
  const secret = password ?? randomSecret(18);
  await auth.store.updateUser(user.id, { passwordHash: await auth.hasher.hash(secret), updatedAt: auth.clock.now() });
  return password === undefined ? secret : null;
}

/** Disables (ending every session at once) or enables a client application. */
export async function setEnabled(auth: AuthService, user: User, enabled: boolean): Promise<number> {
  const now = auth.clock.now();
  await auth.store.updateUser(user.id, { enabled, updatedAt: now });
  return enabled ? 0 : auth.store.endUserSessions(user.id, 'user_disabled', now);
}

/** Removes a client application with its sessions and tokens. */
export async function removeClientApplication(auth: AuthService, user: User): Promise<void> {
  await auth.store.removeUser(user.id);
}
