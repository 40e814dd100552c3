import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach } from 'node:test';
import type { AuditEvent, AuditFilter, NewSession, Session, SessionChange, Source, Store, StoredKey, User } from '../port.js';

/** What an adapter's test hands the suite: a fresh, empty store (migrated or not) and how to dispose of it. */
export interface OpenedStore {
  store: Store;
  /** Closes the store and deletes everything it kept (temp file, schema, …). */
  cleanup(): Promise<void>;
  /**
   * Opens another store on the same data (SQLite: the same file; PostgreSQL: the same schema), as a
   * restarted or second server process would. Adapters that cannot (an in-memory one) leave it out
   * and the tests that need it are skipped. The caller closes the store it gets.
   */
  reopen?(): Promise<Store>;
}

/** Called before every test: must return a fresh, empty store. */
export type OpenStore = () => Promise<OpenedStore>;

// A fixed instant far from the real clock: the store must only ever use the times it is given.
export const T0 = Date.UTC(2031, 0, 1);
export const SECOND = 1000;
export const IDLE = 1800 * SECOND;
export const MAX = 36000 * SECOND;

export const ORIGIN: Source = { address: '203.0.113.7', userAgent: 'conformance-client/1.0' };
export const REPLAYER: Source = { address: '198.51.100.23', userAgent: 'replayer/6.6 (ünïcode)' };

/** The store under test in the current test, with the helpers every part's suite uses. */
export interface StoreFixture {
  readonly store: Store;
  readonly opened: OpenedStore;
  /** Opens a second, unmigrated fresh store (for migration tests); the caller cleans it up. */
  openAnother(): Promise<OpenedStore>;
  addUser(username?: string, at?: number): Promise<User>;
  /** Starts a session (maxActive: unlimited) and asserts it was created. */
  openSession(user: User, options?: { at?: number; idleMs?: number; maxMs?: number; source?: Source }): Promise<Session>;
  /**
   * Concurrent reads first, so a pooled adapter has its connections open before a race: on a cold
   * pool, connection setup alone can serialise the racers and hide a missing lock.
   */
  warmUp(): Promise<void>;
}

/**
 * Registers hooks in the enclosing `describe` that open a fresh store before every test (and
 * migrate it) and clean it up after; returns the fixture the tests use.
 */
export function useStore(open: OpenStore): StoreFixture {
  let opened: OpenedStore | null = null;

  beforeEach(async () => {
    opened = await open();
    await opened.store.migrate();
  });

  afterEach(async () => {
    const done = opened;
    opened = null;
    await done?.cleanup();
  });

  const current = (): OpenedStore => {
    if (!opened) throw new Error('no store is open outside a test');
    return opened;
  };

  return {
    get store() {
      return current().store;
    },
    get opened() {
      return current();
    },
    openAnother: open,
    addUser(username = `app-${randomUUID()}`, at = T0) {
      return current().store.users.create({ id: randomUUID(), username, passwordHash: `$argon2id$hash-of-${username}`, createdAt: at });
    },
    async openSession(user, options = {}) {
      const session = await current().store.sessions.create(newSession(user, options.at, options), Number.MAX_SAFE_INTEGER);
      if (!session) throw new Error('a session with no limit on active sessions was refused');
      return session;
    },
    async warmUp() {
      const { store } = current();
      await Promise.all(Array.from({ length: 50 }, () => store.users.count()));
    },
  };
}

/** A new session of `user` starting at `at`, with the suite's idle timeout and max lifetime unless given. */
export function newSession(
  user: User,
  at = T0,
  options: { idleMs?: number; maxMs?: number; source?: Source } = {},
): NewSession {
  return {
    id: randomUUID(),
    userId: user.id,
    createdAt: at,
    tokenIssuedAt: at,
    idleExpiresAt: at + (options.idleMs ?? IDLE),
    maxExpiresAt: at + (options.maxMs ?? MAX),
    source: options.source ?? ORIGIN,
  };
}

/** The change a refresh from `source` decides from `session` at `now`: the next generation of its chain. */
export function rotation(session: Session, now: number, audit?: AuditEvent, source: Source = ORIGIN): SessionChange {
  return {
    sessionId: session.id,
    expectedGeneration: session.generation,
    patch: {
      generation: session.generation + 1,
      tokenIssuedAt: now,
      previousIssuedAt: session.tokenIssuedAt,
      idleExpiresAt: Math.min(now + IDLE, session.maxExpiresAt),
      lastRefreshAt: now,
      rotatedBy: source,
    },
    ...(audit ? { audit } : {}),
  };
}

/** The change a detected reuse decides from `session` at `now`: end it, and record who presented the token. */
export function revocation(session: Session, now: number, source: Source = REPLAYER, detail = 'reuse detected'): SessionChange {
  return {
    sessionId: session.id,
    expectedGeneration: session.generation,
    patch: { endedAt: now, endReason: 'reuse' },
    audit: auditEvent(now, { userId: session.userId, sessionId: session.id, source, detail }),
  };
}

/** An audit event with every field set. */
export function auditEvent(
  at: number,
  fields: { type?: string; userId?: string | null; sessionId?: string | null; source?: Source; detail?: string } = {},
): AuditEvent {
  return {
    at,
    type: fields.type ?? 'refresh_token_reuse',
    userId: fields.userId ?? null,
    sessionId: fields.sessionId ?? null,
    sourceAddress: (fields.source ?? REPLAYER).address,
    userAgent: (fields.source ?? REPLAYER).userAgent,
    detail: fields.detail ?? 'detail',
  };
}

/** The audit events `filter` selects, newest first, without the ids the store gave them. */
export async function listAudit(store: Store, filter: AuditFilter = { limit: 1000 }): Promise<AuditEvent[]> {
  return (await store.audit.list(filter)).map(({ id: _id, ...event }) => event);
}

/** A signing key as the key ring stores it (the private half already sealed). */
export function signingKey(kid: string, createdAt: number): StoredKey {
  return {
    kid,
    alg: 'EdDSA',
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: `x-${kid}`, kid, use: 'sig' },
    sealedPrivateKey: `sealed:${kid}`,
    createdAt,
    retiredAt: null,
  };
}
