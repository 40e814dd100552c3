/**
 * The Store port: everything the token service keeps. One interface, one adapter per driver
 * (`sqlite/`, `postgres/`), one conformance suite (`test/conformance.ts`) that every adapter passes.
 *
 * All times are milliseconds since the epoch, given by the caller (the store never reads a clock).
 * Tokens are never stored: only their SHA-256 hashes. Key material arrives already sealed.
 */

/** A client application: the "user" of the password grant. */
export interface User {
  id: string;
  username: string;
  passwordHash: string;
  enabled: boolean;
  /** Per-user not-before policy (ms); 0 when never set. */
  notBefore: number;
  createdAt: number;
  updatedAt: number;
}

export interface NewUser {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: number;
}

export type UserPatch = Partial<Pick<User, 'passwordHash' | 'enabled' | 'notBefore'>> & { updatedAt: number };

/** Why a session ended. */
export type SessionEndReason = 'logout' | 'revoked' | 'reuse' | 'user_disabled' | 'user_removed';

export interface Session {
  id: string;
  userId: string;
  createdAt: number;
  /** Slides on every refresh, never past `maxExpiresAt`. */
  idleExpiresAt: number;
  /** Fixed at creation. */
  maxExpiresAt: number;
  lastRefreshAt: number;
  endedAt: number | null;
  endReason: SessionEndReason | null;
  sourceAddress: string;
  userAgent: string;
}

/** Where a request came from; recorded on sessions and audit events. */
export interface Source {
  address: string;
  userAgent: string;
}

export interface NewSession {
  id: string;
  userId: string;
  createdAt: number;
  idleExpiresAt: number;
  maxExpiresAt: number;
  source: Source;
  /** Hash of the session's first refresh token; it expires at `idleExpiresAt`. */
  refreshTokenHash: string;
}

/** One atomic check-and-rotate of a refresh token (DESIGN §2). */
export interface RotationRequest {
  presentedHash: string;
  /** Hash of the successor, derived from the presented token; the same on every retry. */
  successorHash: string;
  now: number;
  idleMs: number;
  graceMs: number;
  source: Source;
}

/** What the session looks like after a rotation (or a converged retry). */
export interface RotationGrant {
  session: Session;
  user: User;
  /** When the refresh token being handed out was issued and when it expires. */
  tokenIssuedAt: number;
  tokenExpiresAt: number;
  /**
   * The realm-wide not-before policy (ms, 0 when never set) as read inside the rotation, so the
   * caller need not read it again.
   */
  realmNotBefore: number;
}

export type RotationOutcome =
  | ({ kind: 'rotated' } & RotationGrant)
  /** The immediately previous token came back within the grace window: same successor again. */
  | ({ kind: 'replayed' } & RotationGrant)
  | { kind: 'unknown' }
  | { kind: 'expired' }
  | { kind: 'session_ended' }
  | { kind: 'stale' }
  /** An older token came back: the session is now revoked and an audit event recorded. */
  | { kind: 'reused'; session: Session };

/** A session, its user and the realm-wide not-before policy (ms; 0 when never set). */
export interface SessionContext {
  session: Session;
  user: User;
  realmNotBefore: number;
}

/** A refresh token looked up by hash, with its session and user. */
export interface RefreshTokenRecord {
  session: Session;
  user: User;
  issuedAt: number;
  expiresAt: number;
  /** Whether this is the session's one live token. */
  live: boolean;
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

/** A fixed-window failure counter (brute-force accounting). */
export interface FailureCount {
  count: number;
  /** When the window (and any lock it implies) ends. */
  resetAt: number;
}

export interface Store {
  /** Which adapter this is, e.g. `sqlite` or `postgres`. */
  readonly kind: string;

  /** Applies pending migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  /** How many migrations `migrate()` would apply (a server started without migrating refuses to run on a store that needs them). */
  pendingMigrations(): Promise<number>;
  /** Resolves when the store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // Users. Usernames are unique, compared exactly.
  /** @throws {UsernameTakenError} */
  createUser(user: NewUser): Promise<User>;
  findUserByUsername(username: string): Promise<User | null>;
  findUserById(id: string): Promise<User | null>;
  listUsers(): Promise<User[]>;
  /** Returns false when there is no such user. */
  updateUser(id: string, patch: UserPatch): Promise<boolean>;
  /** Removes the user, its sessions and their tokens. Returns false when there is no such user. */
  removeUser(id: string): Promise<boolean>;
  countUsers(): Promise<number>;

  // Sessions and refresh tokens.
  createSession(session: NewSession): Promise<Session>;
  /** The one atomic step of DESIGN §2: check the presented token and rotate, converge or revoke. */
  rotateRefreshToken(request: RotationRequest): Promise<RotationOutcome>;
  findRefreshToken(hash: string): Promise<RefreshTokenRecord | null>;
  getSession(id: string): Promise<Session | null>;
  /**
   * The session with its user and the realm-wide not-before policy, in one read: what every
   * request through the gateway checks. Null when there is no such session.
   */
  getSessionContext(id: string): Promise<SessionContext | null>;
  /** Sessions not ended and not past their idle or max expiry at `now`, newest first. */
  listActiveSessions(now: number, userId?: string): Promise<Session[]>;
  /** Ends the session if it has not ended; returns whether it did. */
  endSession(id: string, reason: SessionEndReason, at: number): Promise<boolean>;
  /** Ends every open session of the user; returns how many. */
  endUserSessions(userId: string, reason: SessionEndReason, at: number): Promise<number>;

  // Not-before policy (realm-wide; per user lives on User).
  getRealmNotBefore(): Promise<number>;
  setRealmNotBefore(at: number): Promise<void>;

  // Signing keys.
  listKeys(): Promise<StoredKey[]>;
  /** Adds a key and retires every other unretired key at `key.createdAt`, atomically. */
  addKeyRetiringOthers(key: StoredKey): Promise<void>;

  /** A named sealed secret, created with `value` if absent; returns the stored one (first writer wins). */
  getOrCreateSecret(name: string, value: string): Promise<string>;

  // Audit.
  recordAudit(event: AuditEvent): Promise<void>;
  listAudit(limit: number): Promise<AuditEvent[]>;

  // Brute-force counters.
  /** Counts one failure under `key` in a window of `windowMs` starting at the first failure. */
  recordFailure(key: string, now: number, windowMs: number): Promise<FailureCount>;
  /** The current count, or zero once the window has passed. */
  getFailures(key: string, now: number): Promise<FailureCount>;
  clearFailures(key: string): Promise<void>;

  /** Deletes sessions, tokens and counters that ended or expired before `before`, at most `limit` rows each. */
  purgeExpired(before: number, limit: number): Promise<number>;
  /** Deletes audit events recorded before `before`, oldest first, at most `limit` of them. */
  purgeAudit(before: number, limit: number): Promise<number>;

  /**
   * Whether `error` (thrown by one of this store's methods) means the database cannot be reached
   * right now, as opposed to a bug: the HTTP layer answers 503 with Retry-After for these. Adapters
   * that cannot be unreachable (an embedded file) may leave it out.
   */
  isUnavailableError?(error: unknown): boolean;
}

/** A username that already exists. */
export class UsernameTakenError extends Error {
  readonly code = 'USERNAME_TAKEN';
  constructor(username: string) {
    super(`a client application named "${username}" already exists`);
    this.name = 'UsernameTakenError';
  }
}
