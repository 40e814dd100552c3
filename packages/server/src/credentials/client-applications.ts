import type { Clock } from '../clock.js';
import { randomId, randomSecret } from '../random.js';
import type { AuditEvent, Store, User } from '../store/port.js';
import type { PasswordHasher } from './password-hasher.js';
import { PASSWORD_RULE, USERNAME_RULE, isValidPassword, isValidUsername } from './rules.js';

/** A username or password that does not meet the rules; the message says which rule. */
export class InvalidClientApplicationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidClientApplicationError';
  }
}

/** What managing client applications uses. */
export interface ClientApplicationDeps {
  store: Pick<Store, 'users' | 'sessions' | 'audit'>;
  clock: Clock;
  hasher: PasswordHasher;
}

/** Who made a change, for the audit trail: an operator's name and where the change came from. */
export interface Actor {
  name: string;
  sourceAddress: string;
  userAgent: string;
}

function checkPassword(password: string): void {
  if (!isValidPassword(password)) throw new InvalidClientApplicationError(`the password ${PASSWORD_RULE}`);
}

function record(deps: Pick<ClientApplicationDeps, 'store'>, at: number, type: string, user: User, actor: Actor, detail: string): Promise<void> {
  const event: AuditEvent = {
    at,
    type,
    userId: user.id,
    sessionId: null,
    sourceAddress: actor.sourceAddress,
    userAgent: actor.userAgent,
    detail: `${detail} by ${actor.name}`,
  };
  return deps.store.audit.record(event);
}

/**
 * Registers a client application. Without a password, one is generated (144 random bits) and
 * returned once.
 */
export async function addClientApplication(
  deps: ClientApplicationDeps,
  actor: Actor,
  username: string,
  password?: string,
): Promise<{ user: User; generatedPassword: string | null }> {
  if (!isValidUsername(username)) throw new InvalidClientApplicationError(`the username ${USERNAME_RULE}`);
  if (password !== undefined) checkPassword(password);
  const secret = password ?? randomSecret(18);
  const now = deps.clock.now();
  const user = await deps.store.users.create({ id: randomId(), username, passwordHash: await deps.hasher.hash(secret), createdAt: now });
  await record(deps, now, 'user_added', user, actor, `client application "${username}" added`);
  return { user, generatedPassword: password === undefined ? secret : null };
}

/**
 * Sets a new password; without one, generates it (as {@link addClientApplication} does) and returns
 * it once. Existing sessions go on; use the not-before policy to end them too.
 */
export async function changePassword(deps: ClientApplicationDeps, actor: Actor, user: User, password?: string): Promise<string | null> {
  if (password !== undefined) checkPassword(password);
  const secret = password ?? randomSecret(18);
  const now = deps.clock.now();
  await deps.store.users.update(user.id, { passwordHash: await deps.hasher.hash(secret), updatedAt: now });
  await record(deps, now, 'user_password_changed', user, actor, 'password changed');
  return password === undefined ? secret : null;
}

/** Disables (ending every session at once) or enables a client application. */
export async function setEnabled(
  deps: Pick<ClientApplicationDeps, 'store' | 'clock'>,
  actor: Actor,
  user: User,
  enabled: boolean,
): Promise<number> {
  const now = deps.clock.now();
  await deps.store.users.update(user.id, { enabled, updatedAt: now });
  const ended = enabled ? 0 : await deps.store.sessions.endAllOfUser(user.id, 'user_disabled', now);
  await record(deps, now, enabled ? 'user_enabled' : 'user_disabled', user, actor, enabled ? 'enabled' : `disabled, ${ended} session(s) ended`);
  return ended;
}

/** Grants or withdraws the permission to introspect other client applications' tokens (RFC 7662 §4). */
export async function setIntrospection(
  deps: Pick<ClientApplicationDeps, 'store' | 'clock'>,
  actor: Actor,
  user: User,
  allowed: boolean,
): Promise<void> {
  const now = deps.clock.now();
  await deps.store.users.update(user.id, { canIntrospect: allowed, updatedAt: now });
  await record(deps, now, allowed ? 'introspection_granted' : 'introspection_withdrawn', user, actor, `introspection permission ${allowed ? 'granted' : 'withdrawn'}`);
}

/**
 * Requires (or stops requiring) a DPoP proof on every grant of the client application (RFC 9449):
 * from then on its logins and refreshes without a proof are refused. Sessions already bound stay bound.
 */
export async function setDpopRequired(
  deps: Pick<ClientApplicationDeps, 'store' | 'clock'>,
  actor: Actor,
  user: User,
  required: boolean,
): Promise<void> {
  const now = deps.clock.now();
  await deps.store.users.update(user.id, { requireDpop: required, updatedAt: now });
  await record(deps, now, required ? 'dpop_required' : 'dpop_not_required', user, actor, required ? 'DPoP required on every grant' : 'bearer tokens allowed again');
}

/** Removes a client application with its sessions. */
export async function removeClientApplication(deps: Pick<ClientApplicationDeps, 'store' | 'clock'>, actor: Actor, user: User): Promise<void> {
  await deps.store.users.remove(user.id);
  await record(deps, deps.clock.now(), 'user_removed', user, actor, `client application "${user.username}" removed`);
}
