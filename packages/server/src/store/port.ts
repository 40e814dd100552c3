/**
 * The Store port: everything the token service keeps, split into the parts each caller needs.
 * One adapter per driver (`sqlite/`, `postgres/`) implements every part; one conformance suite per
 * part (`test/`) proves it. Adapters only read, lock and write: every rule (rotation, grace, reuse,
 * lockout) is decided by a pure function in the domain and handed to the store as the rows to write.
 *
 * All times are milliseconds since the epoch, given by the caller (the store never reads a clock).
 * No token is ever stored, not even hashed: a refresh token names its session and generation and
 * carries a MAC (see `tokens/refresh-token.ts`). Counter keys arrive already hashed; key material
 * arrives already sealed.
 */

/** A client application: the "user" of the password grant. */
export interface User {
  id: string;
  username: string;
  passwordHash: string;
  enabled: boolean;
  /** Per-user not-before policy (ms); 0 when never set. */
  notBefore: number;
  /** May introspect other client applications' tokens (RFC 7662 §4): a resource server. */
  canIntrospect: boolean;
  /** Every grant must carry a DPoP proof: its tokens are always sender-constrained (RFC 9449). */
  requireDpop: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface NewUser {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: number;
}

export type UserPatch = Partial<Pick<User, 'passwordHash' | 'enabled' | 'notBefore' | 'canIntrospect' | 'requireDpop'>> & { updatedAt: number };

/** Why a session ended. */
export type SessionEndReason = 'logout' | 'revoked' | 'reuse' | 'user_disabled' | 'user_removed';

/** Where a request came from; recorded on sessions and audit events. */
export interface Source {
  address: string;
  userAgent: string;
}

/**
 * A session and the state of its refresh-token chain: one row, however often it is refreshed. The
 * live refresh token is generation `generation`; the one before it is `generation - 1`.
 */
export interface Session {
  id: string;
  userId: string;
  createdAt: number;
  /** When the live refresh token expires; slides on every refresh, never past `maxExpiresAt`. */
  idleExpiresAt: number;
  /** Fixed at creation. */
  maxExpiresAt: number;
  lastRefreshAt: number;
  endedAt: number | null;
  endReason: SessionEndReason | null;
  sourceAddress: string;
  userAgent: string;
  /** Generation of the live refresh token: 0 for the session's first, +1 on every rotation. */
  generation: number;
  /** When the live refresh token was issued (the last rotation, or the session's start). */
  tokenIssuedAt: number;
  /** When the previous refresh token was issued; null before the first rotation. */
  previousIssuedAt: number | null;
  /** Who presented the token of the last rotation; null before the first rotation. */
  rotatedBy: Source | null;
  /** When the current refresh-rate window began, and how many rotations it has seen (rate limit). */
  rotationWindowStart: number;
  rotationsInWindow: number;
}

export type NewSession = Pick<Session, 'id' | 'userId' | 'createdAt' | 'idleExpiresAt' | 'maxExpiresAt' | 'tokenIssuedAt'> & {
  source: Source;
  /** The event that records the login, written in the same transaction: no session starts unrecorded. */
  audit?: AuditEvent;
};

/** A session, its user and the realm-wide not-before policy (ms; 0 when never set), read together. */
export interface SessionContext {
  session: Session;
  /** Without its password hash: nothing that checks a session needs it, and contexts are cached. */
  user: SessionUser;
  realmNotBefore: number;
}

/** A client application as a session check sees it. */
export type SessionUser = Omit<User, 'passwordHash'>;

/** The fields of a session a change may set. */
export type SessionPatch = Partial<
  Pick<
    Session,
    | 'generation'
    | 'tokenIssuedAt'
    | 'previousIssuedAt'
    | 'idleExpiresAt'
    | 'lastRefreshAt'
    | 'endedAt'
    | 'endReason'
    | 'rotationWindowStart'
    | 'rotationsInWindow'
  >
> & { rotatedBy?: Source };

/**
 * A change decided from a snapshot of a session: it applies only while the session is still open
 * and still at `expectedGeneration` (compare-and-set), so two decisions taken from the same
 * snapshot can never both apply. The audit event, if any, is written in the same transaction.
 */
export interface SessionChange {
  sessionId: string;
  expectedGeneration: number;
  patch: SessionPatch;
  audit?: AuditEvent;
}

/** A value, or a promise of it when it cannot be had without waiting. */
export type MaybePromise<T> = T | Promise<T>;

/** What {@link SessionStore.countActive} counts, within the bounds it was given. */
export interface ActiveSessionCount {
  /** Sessions active at the time asked about, counted up to the `total` bound. */
  total: number;
  /**
   * The most active sessions any one user holds among the `sample` that expire last (the newest
   * and the most recently refreshed): exact while `total` is below `sample`, a lower bound beyond.
   */
  busiestUser: number;
}

/** A signing key; the private half is sealed under the server secret. */
export interface StoredKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  sealedPrivateKey: string;
  createdAt: number;
  /** When it stopped signing; it stays published until every token it signed has expired. */
  retiredAt: number | null;
}

export interface AuditEvent {
  at: number;
  type: string;
  userId: string | null;
  sessionId: string | null;
  sourceAddress: string;
  userAgent: string;
  detail: string;
}

/** An audit event as the trail lists it: with its place in the trail. */
export interface AuditRecord extends AuditEvent {
  /** Increases with every event recorded by the store. */
  id: number;
}

/** Which audit events to list; every field narrows. */
export interface AuditFilter {
  /** Only events listed after this one (newest first): a cursor for paging through the trail. */
  after?: Pick<AuditRecord, 'at' | 'id'>;
  /** Recorded at or after (ms). */
  since?: number;
  /** Recorded before (ms). */
  until?: number;
  userId?: string;
  type?: string;
  /** At most this many, newest first. */
  limit: number;
}

/** A fixed-window counter (brute-force accounting). Expired counters may still be returned. */
export interface Counter {
  count: number;
  /** When the window (and any lock it implies) ends. */
  resetAt: number;
}

/** What a counter decision writes: a new value per key, or null to delete it. */
export type CounterWrites = ReadonlyMap<string, Counter | null>;

/** Client applications. Usernames are unique, compared exactly. */
export interface UserStore {
  /** @throws {UsernameTakenError} */
  create(user: NewUser): Promise<User>;
  findByUsername(username: string): Promise<User | null>;
  findById(id: string): Promise<User | null>;
  list(): Promise<User[]>;
  count(): Promise<number>;
  /** Returns false when there is no such user. */
  update(id: string, patch: UserPatch): Promise<boolean>;
  /** Removes the user and its sessions. Returns false when there is no such user. */
  remove(id: string): Promise<boolean>;
}

/** Sessions and the state of their refresh-token chains. */
export interface SessionStore {
  /**
   * Starts a session at generation 0, unless the user already has `maxActive` sessions active at
   * `createdAt` (then returns null). Counting and inserting are one atomic step. The user's row
   * keeps an upper bound of its active sessions (each start adds one; ends and expiry do not
   * lower it), so the sessions are counted only when the bound reaches `maxActive`, and then
   * as far as `maxActive`: a login costs the same however many sessions its client holds. Durable
   * before it resolves, with its audit event if it has one (nothing is written when it returns null).
   */
  create(session: NewSession, maxActive: number): Promise<Session | null>;
  get(id: string): Promise<Session | null>;
  /**
   * The session with its user and the realm-wide not-before policy, in one read: answered at once
   * when the store can tell without waiting (SQLite, unless the session's last change is not on
   * disk yet), else as a promise (PostgreSQL). The gateway checks every request with it. A change
   * through this store is seen by the very next read; one through another store on the same data
   * (another instance, the CLI), by every read from the next turn of the event loop on: by every
   * request that arrived after it.
   */
  getContext(id: string): MaybePromise<SessionContext | null>;
  /**
   * Applies a change decided from a snapshot (see {@link SessionChange}); returns false, writing
   * nothing, when the session ended or moved to another generation since. Durable before it resolves.
   */
  apply(change: SessionChange): Promise<boolean>;
  /** The newest `limit` sessions not ended and not past their idle or max expiry at `now` (all, or `userId`'s), newest first. */
  listActive(now: number, filter: { userId?: string; limit: number }): Promise<Session[]>;
  /**
   * Counts the sessions active at `now` (not ended by then, not past their idle or max expiry), for
   * the metrics: at most `bounds.total` of them, and the busiest user among at most `bounds.sample`.
   * Bounded, so that counting never walks a large table. A session ended at a time after `now` (an
   * instance whose clock runs ahead) may count as active.
   */
  countActive(now: number, bounds: { total: number; sample: number }): Promise<ActiveSessionCount>;
  /** Ends the session if it has not ended; returns whether it did. */
  end(id: string, reason: SessionEndReason, at: number): Promise<boolean>;
  /** Ends every open session of the user; returns how many. */
  endAllOfUser(userId: string, reason: SessionEndReason, at: number): Promise<number>;
}

/** Signing keys. */
export interface KeyStore {
  /** Newest first. */
  list(): Promise<StoredKey[]>;
  /** Adds a key and retires every other unretired key at `key.createdAt`, atomically. */
  addRetiringOthers(key: StoredKey): Promise<void>;
}

/** Realm-wide settings: the not-before policy and the sealed server-side secrets. */
export interface SettingsStore {
  /** The realm-wide not-before policy (ms); 0 until set. */
  getRealmNotBefore(): Promise<number>;
  setRealmNotBefore(at: number): Promise<void>;
  /** A named sealed secret, created with `value` if absent; returns the stored one (first writer wins). */
  getOrCreateSecret(name: string, value: string): Promise<string>;
}

/** Keyed fixed-window counters, shared by every instance. */
export interface CounterStore {
  /** The counters under `keys` as stored (absent keys are missing from the map). */
  read(keys: readonly string[]): Promise<ReadonlyMap<string, Counter>>;
  /**
   * Reads the counters under `keys`, lets `decide` choose what to write, and writes it, as one
   * atomic step: no concurrent update of the same keys interleaves (check-and-increment).
   */
  update<T>(
    keys: readonly string[],
    decide: (current: ReadonlyMap<string, Counter>) => { result: T; writes: CounterWrites },
  ): Promise<T>;
}

/** The audit trail. */
export interface AuditStore {
  record(event: AuditEvent): Promise<void>;
  /** Events matching `filter`, newest first (same instant: most recently recorded first). */
  list(filter: AuditFilter): Promise<AuditRecord[]>;
  /** Counts of the events of `query.types` per bucket; buckets and types with none are left out. */
  histogram(query: AuditHistogramQuery): Promise<AuditHistogramCount[]>;
}

/**
 * An administrator of the web console. A separate kind of account from client applications: the
 * credentials of one never log in as the other.
 */
export interface Administrator {
  id: string;
  name: string;
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
}

export type NewAdministrator = Pick<Administrator, 'id' | 'name' | 'passwordHash' | 'createdAt'>;

/**
 * A signed-in console session. Its key is a hash of the cookie's value: the store never holds a
 * value that would let its reader sign in.
 */
export interface ConsoleSession {
  idHash: string;
  adminId: string;
  createdAt: number;
  lastSeenAt: number;
  /** Slides on every request, never past `absoluteExpiresAt`. */
  idleExpiresAt: number;
  absoluteExpiresAt: number;
}

/** Bucketed counts of audit events, for the console's dashboard. */
export interface AuditHistogramQuery {
  /** Recorded at or after (ms); the first bucket starts here. */
  since: number;
  /** Recorded before (ms). */
  until: number;
  bucketMs: number;
  types: readonly string[];
}

/** How many events of `type` fell in the bucket starting at `since + bucket * bucketMs`. */
export interface AuditHistogramCount {
  type: string;
  bucket: number;
  count: number;
}

/** The console's administrators and their sessions. Names are unique, compared exactly. */
export interface AdminStore {
  /** @throws {AdministratorNameTakenError} */
  create(admin: NewAdministrator): Promise<Administrator>;
  findByName(name: string): Promise<Administrator | null>;
  list(): Promise<Administrator[]>;
  /** Sets a new password hash and ends every session of the administrator. Returns false when there is none. */
  setPasswordHash(id: string, passwordHash: string, at: number): Promise<boolean>;
  /** Removes the administrator with its sessions. Returns false when there is none. */
  remove(id: string): Promise<boolean>;
  createSession(session: ConsoleSession): Promise<void>;
  /** The session under `idHash` with its administrator, expired or not; null when there is none. */
  getSession(idHash: string): Promise<{ session: ConsoleSession; admin: Administrator } | null>;
  /** Records activity: sets `lastSeenAt` and `idleExpiresAt`. Returns false when the session is gone. */
  touchSession(idHash: string, lastSeenAt: number, idleExpiresAt: number): Promise<boolean>;
  /** Ends (deletes) the session; returns whether there was one. */
  endSession(idHash: string): Promise<boolean>;
  /** Deletes sessions past their idle or absolute expiry at `now`; returns how many. */
  purgeSessions(now: number): Promise<number>;
}

/** Schema, health and housekeeping. */
export interface Maintenance {
  /** Applies pending migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  /** How many migrations `migrate()` would apply (a server started without migrating refuses to run on a store that needs them). */
  pendingMigrations(): Promise<number>;
  /** Resolves when the store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Deletes sessions and counters that ended or expired before `before`, at most `limit` rows each. */
  purgeExpired(before: number, limit: number): Promise<number>;
  /** Deletes audit events recorded before `before`, oldest first, at most `limit` of them. */
  purgeAudit(before: number, limit: number): Promise<number>;
  /**
   * Whether `error` (thrown by one of this store's methods) means the database cannot be reached
   * right now, as opposed to a bug: the HTTP layer answers 503 with Retry-After for these.
   */
  isUnavailableError(error: unknown): boolean;
}

/** Every part of a store, as one adapter provides them. */
export interface Store extends Maintenance {
  /** Which adapter this is, e.g. `sqlite` or `postgres`. */
  readonly kind: string;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly keys: KeyStore;
  readonly settings: SettingsStore;
  readonly counters: CounterStore;
  readonly audit: AuditStore;
  readonly admins: AdminStore;
}

/** A username that already exists. */
export class UsernameTakenError extends Error {
  readonly code = 'USERNAME_TAKEN';
  constructor(username: string) {
    super(`a client application named "${username}" already exists`);
    this.name = 'UsernameTakenError';
  }
}

/** An administrator name that already exists. */
export class AdministratorNameTakenError extends Error {
  readonly code = 'ADMINISTRATOR_NAME_TAKEN';
  constructor(name: string) {
    super(`an administrator named "${name}" already exists`);
    this.name = 'AdministratorNameTakenError';
  }
}
