import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { AdminConsoleSettings } from '../config.js';
import type { BruteForceGuard } from '../credentials/brute-force.js';
import type { Actor } from '../credentials/client-applications.js';
import type { PasswordHasher } from '../credentials/password-hasher.js';
import { MAX_USERNAME_LENGTH } from '../credentials/rules.js';
import { TooManyRequestsError } from '../errors.js';
import { randomSecret } from '../random.js';
import type { Administrator, AuditEvent, ConsoleSession, Source, Store } from '../store/port.js';

/** What signing in to the console, and checking a sign-in, use. */
export interface ConsoleSessionDeps {
  store: Pick<Store, 'admins' | 'audit'>;
  clock: Clock;
  logger: Logger;
  hasher: PasswordHasher;
  /** The brute-force accounting of console sign-ins: its own counters, apart from the token endpoint's. */
  bruteForce: BruteForceGuard;
  settings: Pick<AdminConsoleSettings, 'idleMs' | 'absoluteMs'>;
}

/** A signed-in administrator, as a request sees them. */
export interface SignedIn {
  admin: Administrator;
  session: ConsoleSession;
  /** The token every change must carry (synchronizer pattern): only a page of this session knows it. */
  csrfToken: string;
}

/**
 * The store's key of a session: a hash of the cookie's value. The value is 256 random bits, so a
 * plain SHA-256 cannot be searched backwards, and a reader of the store cannot sign in.
 */
function sessionKey(cookieValue: string): string {
  return createHash('sha256').update(cookieValue).digest('base64url');
}

/** The CSRF token of a session: a MAC under the cookie's value, so it reveals nothing of it and needs no storage. */
export function csrfTokenOf(cookieValue: string): string {
  return createHmac('sha256', cookieValue).update('antpeer console csrf').digest('base64url');
}

/** Whether `given` is the CSRF token of the session whose cookie is `cookieValue` (constant time). */
export function isValidCsrfToken(cookieValue: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const expected = Buffer.from(csrfTokenOf(cookieValue));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The audit trail's name for a console administrator's changes, with where they came from. */
export function consoleActor(admin: Administrator, source: Source): Actor {
  return { name: `administrator "${admin.name}" (web console)`, sourceAddress: source.address, userAgent: source.userAgent };
}

function event(type: string, at: number, source: Source, detail: string): AuditEvent {
  return { at, type, userId: null, sessionId: null, sourceAddress: source.address, userAgent: source.userAgent, detail };
}

/**
 * Signs an administrator in: the attempt is reserved against the console's own brute-force limits
 * (the same rules as the token endpoint, DESIGN §2) before the password is hashed; a locked pair
 * answers as a wrong password without hashing; an unknown name costs a hash like a known one.
 * Returns the new session's cookie value, or null with nothing said about why. A session the
 * browser already had is ended first.
 * @throws {TooManyRequestsError} when the source is over its failure rate.
 */
export async function signIn(
  deps: ConsoleSessionDeps,
  name: string,
  password: string,
  source: Source,
  previousCookieValue: string | null = null,
): Promise<{ cookieValue: string; admin: Administrator } | null> {
  // A session that came with the attempt ends, whatever the outcome: a sign-in always starts a new
  // one, so a session id planted in a browser before sign-in is never promoted (no fixation).
  if (previousCookieValue !== null) await deps.store.admins.endSession(sessionKey(previousCookieValue));
  const login = name.length > MAX_USERNAME_LENGTH ? '' : name;
  const admission = await deps.bruteForce.admitLogin(login, source.address);
  if (admission.kind === 'throttled') throw new TooManyRequestsError(Math.max(1, Math.ceil(admission.retryAfterMs / 1000)));
  const now = deps.clock.now();
  if (admission.kind === 'locked') {
    await deps.store.audit.record(event('console_login_failed', now, source, 'console sign-in refused without a check: locked'));
    return null;
  }
  const admin = login === '' ? null : await deps.store.admins.findByName(login);
  let valid: boolean;
  try {
    valid = (await deps.hasher.check(admin?.passwordHash ?? null, password)).valid;
  } catch (error) {
    await deps.bruteForce.release(admission.attempt);
    throw error;
  }
  if (!admin || !valid) {
    deps.logger.info({ source: source.address }, 'console sign-in refused');
    await deps.store.audit.record(event('console_login_failed', now, source, 'console sign-in refused: wrong name or password'));
    if (admission.starts !== null) {
      await deps.store.audit.record(event('lockout_started', now, source, 'console lockout threshold reached'));
    }
    return null;
  }
  await deps.bruteForce.recordSuccess(admission.attempt);
  await deps.store.admins.purgeSessions(now);
  const cookieValue = randomSecret();
  await deps.store.admins.createSession({
    idHash: sessionKey(cookieValue),
    adminId: admin.id,
    createdAt: now,
    lastSeenAt: now,
    idleExpiresAt: now + deps.settings.idleMs,
    absoluteExpiresAt: now + deps.settings.absoluteMs,
  });
  await deps.store.audit.record(event('console_login_succeeded', now, source, `administrator "${admin.name}" signed in`));
  return { cookieValue, admin };
}

/**
 * The administrator signed in with `cookieValue`, sliding the session's idle expiry unless the
 * request is `passive` (a page refreshing itself is not the administrator at work: it must not keep
 * an unattended console signed in); null when there is no such session or it has expired (an
 * expired one is deleted).
 */
export async function resumeSession(
  deps: Pick<ConsoleSessionDeps, 'store' | 'clock' | 'settings'>,
  cookieValue: string,
  options: { passive?: boolean } = {},
): Promise<SignedIn | null> {
  const key = sessionKey(cookieValue);
  const found = await deps.store.admins.getSession(key);
  if (!found) return null;
  const now = deps.clock.now();
  const { session, admin } = found;
  if (now >= session.idleExpiresAt || now >= session.absoluteExpiresAt) {
    await deps.store.admins.endSession(key);
    return null;
  }
  if (options.passive) return { admin, session, csrfToken: csrfTokenOf(cookieValue) };
  const idleExpiresAt = Math.min(now + deps.settings.idleMs, session.absoluteExpiresAt);
  if (!(await deps.store.admins.touchSession(key, now, idleExpiresAt))) return null;
  return { admin, session: { ...session, lastSeenAt: now, idleExpiresAt }, csrfToken: csrfTokenOf(cookieValue) };
}

/** Signs out: the session ends in the store, so the cookie is worthless even if kept. */
export async function signOut(deps: Pick<ConsoleSessionDeps, 'store' | 'clock'>, cookieValue: string, admin: Administrator, source: Source): Promise<void> {
  if (await deps.store.admins.endSession(sessionKey(cookieValue))) {
    await deps.store.audit.record(event('console_logout', deps.clock.now(), source, `administrator "${admin.name}" signed out`));
  }
}
