import type { AuditKind } from '../audit/kinds.js';
import type { Clock } from '../clock.js';
import type { Actor } from '../credentials/client-applications.js';
import type { PasswordHasher } from '../credentials/password-hasher.js';
import { PASSWORD_RULE, USERNAME_RULE, isValidPassword, isValidUsername } from '../credentials/rules.js';
import { randomId, randomSecret } from '../random.js';
import type { Administrator, Store } from '../store/port.js';

/** An administrator name or password that does not meet the rules; the message says which. */
export class InvalidAdministratorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAdministratorError';
  }
}

/** What managing administrators uses. */
export interface AdministratorDeps {
  store: Pick<Store, 'admins' | 'audit'>;
  clock: Clock;
  hasher: PasswordHasher;
}

function record(deps: Pick<AdministratorDeps, 'store'>, at: number, type: AuditKind, actor: Actor, detail: string): Promise<void> {
  return deps.store.audit.record({
    at,
    type,
    userId: null,
    sessionId: null,
    sourceAddress: actor.sourceAddress,
    userAgent: actor.userAgent,
    detail: `${detail} by ${actor.name}`,
  });
}

/** The password given, checked against the rules, or a generated one (144 random bits). */
function passwordOrGenerated(password: string | undefined): string {
  if (password === undefined) return randomSecret(18);
  if (!isValidPassword(password)) throw new InvalidAdministratorError(`the password ${PASSWORD_RULE}`);
  return password;
}

/**
 * Adds a web console administrator (argon2id, as every password). Without a password, one is
 * generated and returned once. Names follow the client-application rules, but the two are kept
 * apart: neither kind of credential signs in as the other.
 * @throws {InvalidAdministratorError} @throws {AdministratorNameTakenError}
 */
export async function addAdministrator(
  deps: AdministratorDeps,
  actor: Actor,
  name: string,
  password?: string,
): Promise<{ admin: Administrator; generatedPassword: string | null }> {
  if (!isValidUsername(name)) throw new InvalidAdministratorError(`the name ${USERNAME_RULE}`);
  const secret = passwordOrGenerated(password);
  const now = deps.clock.now();
  const admin = await deps.store.admins.create({ id: randomId(), name, passwordHash: await deps.hasher.hash(secret), createdAt: now });
  await record(deps, now, 'admin_added', actor, `administrator "${name}" added`);
  return { admin, generatedPassword: password === undefined ? secret : null };
}

/** Sets a new password (generated and returned once when none is given); ends the administrator's console sessions. */
export async function changeAdministratorPassword(deps: AdministratorDeps, actor: Actor, admin: Administrator, password?: string): Promise<string | null> {
  const secret = passwordOrGenerated(password);
  const now = deps.clock.now();
  await deps.store.admins.setPasswordHash(admin.id, await deps.hasher.hash(secret), now);
  await record(deps, now, 'admin_password_changed', actor, `password of administrator "${admin.name}" changed`);
  return password === undefined ? secret : null;
}

/** Removes an administrator; their console sessions end with them. */
export async function removeAdministrator(deps: Pick<AdministratorDeps, 'store' | 'clock'>, actor: Actor, admin: Administrator): Promise<void> {
  await deps.store.admins.remove(admin.id);
  await record(deps, deps.clock.now(), 'admin_removed', actor, `administrator "${admin.name}" removed`);
}
