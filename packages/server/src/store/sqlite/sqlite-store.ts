import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  UsernameTakenError,
  type AuditEvent,
  type FailureCount,
  type NewSession,
  type NewUser,
  type RefreshTokenRecord,
  type RotationOutcome,
  type RotationRequest,
  type Session,
  type SessionContext,
  type SessionEndReason,
  type Store,
  type StoredKey,
  type User,
  type UserPatch,
} from '../port.js';
import { sqliteMigrations } from './migrations.js';

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  enabled: number;
  not_before: number;
  created_at: number;
  updated_at: number;
}

/** A user's columns under the `u_` prefix, as a join with sessions returns them. */
interface UserColumns {
  u_username: string;
  u_password_hash: string;
  u_enabled: number;
  u_not_before: number;
  u_created_at: number;
  u_updated_at: number;
}

interface SessionRow {
  id: string;
  user_id: string;
  created_at: number;
  idle_expires_at: number;
  max_expires_at: number;
  last_refresh_at: number;
  ended_at: number | null;
  end_reason: string | null;
  source_address: string;
  user_agent: string;
  current_hash: string;
  previous_hash: string | null;
  rotated_at: number | null;
}

interface TokenRow {
  hash: string;
  session_id: string;
  issued_at: number;
  expires_at: number;
}

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  sealed_private_key: string;
  created_at: number;
  retired_at: number | null;
}

interface AuditRow {
  at: number;
  type: string;
  user_id: string | null;
  session_id: string | null;
  source_address: string;
  user_agent: string;
  detail: string;
}

const REALM_NOT_BEFORE = 'realm_not_before';

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    enabled: row.enabled === 1,
    notBefore: row.not_before,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    createdAt: row.created_at,
    idleExpiresAt: row.idle_expires_at,
    maxExpiresAt: row.max_expires_at,
    lastRefreshAt: row.last_refresh_at,
    endedAt: row.ended_at,
    endReason: row.end_reason as SessionEndReason | null,
    sourceAddress: row.source_address,
    userAgent: row.user_agent,
  };
}

function toKey(row: KeyRow): StoredKey {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>,
    sealedPrivateKey: row.sealed_private_key,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  };
}

export interface SqliteStoreOptions {
  /** Path of the database file, or `:memory:`. */
  filename: string;
}

/**
 * The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit
 * (and therefore every token a response carries) is fsync'd before the call returns. Writes take
 * the database lock up front (`BEGIN IMMEDIATE`), so several processes on one file serialise
 * cleanly instead of failing on lock upgrades.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  readonly #pendingRotations: Array<{
    request: RotationRequest;
    resolve: (outcome: RotationOutcome) => void;
    reject: (error: unknown) => void;
  }> = [];

  constructor(options: SqliteStoreOptions) {
    if (options.filename !== ':memory:') mkdirSync(dirname(options.filename), { recursive: true });
    this.#db = new Database(options.filename);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('foreign_keys = ON');
    if (options.filename !== ':memory:') {
      // It holds password hashes and sealed keys: owner only. SQLite gives later -wal and -shm
      // files the database file's mode.
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(options.filename + suffix)) chmodSync(options.filename + suffix, 0o600);
      }
    }
  }

  #sql(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #write<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  async migrate(): Promise<void> {
    this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    sqliteMigrations.forEach((sql, index) => {
      const version = index + 1;
      this.#write(() => {
        const applied = this.#db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(version);
        if (applied) return;
        this.#db.exec(sql);
        this.#db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, Date.now());
      });
    });
  }

  async pendingMigrations(): Promise<number> {
    const table = this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!table) return sqliteMigrations.length;
    const { n } = this.#db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number };
    return sqliteMigrations.length - n;
  }

  /** Another process held the write lock past `busy_timeout`: worth a retry, not a bug. */
  isUnavailableError(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
  }

  async ping(): Promise<void> {
    this.#sql('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  async createUser(user: NewUser): Promise<User> {
    try {
      this.#sql(
        'INSERT INTO users (id, username, password_hash, enabled, not_before, created_at, updated_at) VALUES (?, ?, ?, 1, 0, ?, ?)',
      ).run(user.id, user.username, user.passwordHash, user.createdAt, user.createdAt);
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new UsernameTakenError(user.username);
      throw error;
    }
    return { ...user, enabled: true, notBefore: 0, updatedAt: user.createdAt };
  }

  async findUserByUsername(username: string): Promise<User | null> {
    const row = this.#sql('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async findUserById(id: string): Promise<User | null> {
    const row = this.#sql('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async listUsers(): Promise<User[]> {
    return (this.#sql('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toUser);
  }

  async updateUser(id: string, patch: UserPatch): Promise<boolean> {
    const result = this.#sql(
      `UPDATE users SET
         password_hash = COALESCE(?, password_hash),
         enabled = COALESCE(?, enabled),
         not_before = COALESCE(?, not_before),
         updated_at = ?
       WHERE id = ?`,
    ).run(
      patch.passwordHash ?? null,
      patch.enabled === undefined ? null : patch.enabled ? 1 : 0,
      patch.notBefore ?? null,
      patch.updatedAt,
      id,
    );
    return result.changes > 0;
  }

  async removeUser(id: string): Promise<boolean> {
    return this.#sql('DELETE FROM users WHERE id = ?').run(id).changes > 0;
  }

  async countUsers(): Promise<number> {
    return (this.#sql('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }

  async createSession(session: NewSession): Promise<Session> {
    this.#write(() => {
      this.#sql(
        `INSERT INTO sessions (id, user_id, created_at, idle_expires_at, max_expires_at, last_refresh_at,
           source_address, user_agent, current_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        session.id,
        session.userId,
        session.createdAt,
        session.idleExpiresAt,
        session.maxExpiresAt,
        session.createdAt,
        session.source.address,
        session.source.userAgent,
        session.refreshTokenHash,
      );
      this.#sql('INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)').run(
        session.refreshTokenHash,
        session.id,
        session.createdAt,
        session.idleExpiresAt,
      );
    });
    return {
      id: session.id,
      userId: session.userId,
      createdAt: session.createdAt,
      idleExpiresAt: session.idleExpiresAt,
      maxExpiresAt: session.maxExpiresAt,
      lastRefreshAt: session.createdAt,
      endedAt: null,
      endReason: null,
      sourceAddress: session.source.address,
      userAgent: session.source.userAgent,
    };
  }

  /**
   * Rotations wait for the end of the current event-loop turn and then commit together, in one
   * transaction and one fsync (group commit): a response still leaves only once its token is on
   * disk, but a burst of refreshes pays for one disk flush instead of one each. Each rotation runs
   * in its own savepoint, in arrival order, so concurrent requests for one token still see each
   * other and rotate it once.
   */
  rotateRefreshToken(request: RotationRequest): Promise<RotationOutcome> {
    return new Promise((resolve, reject) => {
      this.#pendingRotations.push({ request, resolve, reject });
      if (this.#pendingRotations.length === 1) setImmediate(() => this.#commitRotations());
    });
  }

  #commitRotations(): void {
    const batch = this.#pendingRotations.splice(0);
    let outcomes: Array<{ outcome: RotationOutcome } | { error: unknown }>;
    try {
      outcomes = this.#write(() =>
        batch.map(({ request }) => {
          try {
            return { outcome: this.#db.transaction(() => this.#rotate(request))() };
          } catch (error) {
            return { error };
          }
        }),
      );
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, index) => {
      const result = outcomes[index] as { outcome: RotationOutcome } | { error: unknown };
      if ('outcome' in result) pending.resolve(result.outcome);
      else pending.reject(result.error);
    });
  }

  #rotate(request: RotationRequest): RotationOutcome {
    const token = this.#sql('SELECT * FROM refresh_tokens WHERE hash = ?').get(request.presentedHash) as
      | TokenRow
      | undefined;
    if (!token) return { kind: 'unknown' };
    const sessionRow = this.#sql('SELECT * FROM sessions WHERE id = ?').get(token.session_id) as SessionRow;
    const userRow = this.#sql('SELECT * FROM users WHERE id = ?').get(sessionRow.user_id) as UserRow;
    const { now } = request;
    if (sessionRow.ended_at !== null || userRow.enabled !== 1) return { kind: 'session_ended' };
    if (now >= token.expires_at || now >= sessionRow.max_expires_at) return { kind: 'expired' };
    const realmNotBefore = this.#realmNotBefore();
    if (token.issued_at < Math.max(realmNotBefore, userRow.not_before)) return { kind: 'stale' };

    if (request.presentedHash === sessionRow.current_hash) {
      const expiresAt = Math.min(now + request.idleMs, sessionRow.max_expires_at);
      this.#sql('INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)').run(
        request.successorHash,
        sessionRow.id,
        now,
        expiresAt,
      );
      this.#sql(
        `UPDATE sessions SET current_hash = ?, previous_hash = ?, rotated_at = ?, idle_expires_at = ?, last_refresh_at = ?
         WHERE id = ?`,
      ).run(request.successorHash, request.presentedHash, now, expiresAt, now, sessionRow.id);
      const session = toSession({ ...sessionRow, idle_expires_at: expiresAt, last_refresh_at: now });
      return {
        kind: 'rotated',
        session,
        user: toUser(userRow),
        tokenIssuedAt: now,
        tokenExpiresAt: expiresAt,
        realmNotBefore,
      };
    }

    const withinGrace =
      request.graceMs > 0 &&
      request.presentedHash === sessionRow.previous_hash &&
      sessionRow.rotated_at !== null &&
      now - sessionRow.rotated_at <= request.graceMs &&
      sessionRow.current_hash === request.successorHash;
    if (withinGrace) {
      return {
        kind: 'replayed',
        session: toSession(sessionRow),
        user: toUser(userRow),
        tokenIssuedAt: sessionRow.rotated_at as number,
        tokenExpiresAt: sessionRow.idle_expires_at,
        realmNotBefore,
      };
    }

    this.#sql('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ?').run(now, 'reuse', sessionRow.id);
    this.#insertAudit({
      at: now,
      type: 'refresh_token_reuse',
      userId: userRow.id,
      sessionId: sessionRow.id,
      sourceAddress: request.source.address,
      userAgent: request.source.userAgent,
      detail: 'a refresh token that was already rotated was presented again; session revoked',
    });
    return { kind: 'reused', session: toSession({ ...sessionRow, ended_at: now, end_reason: 'reuse' }) };
  }

  async findRefreshToken(hash: string): Promise<RefreshTokenRecord | null> {
    const token = this.#sql('SELECT * FROM refresh_tokens WHERE hash = ?').get(hash) as TokenRow | undefined;
    if (!token) return null;
    const sessionRow = this.#sql('SELECT * FROM sessions WHERE id = ?').get(token.session_id) as SessionRow;
    const userRow = this.#sql('SELECT * FROM users WHERE id = ?').get(sessionRow.user_id) as UserRow;
    return {
      session: toSession(sessionRow),
      user: toUser(userRow),
      issuedAt: token.issued_at,
      expiresAt: token.expires_at,
      live: sessionRow.current_hash === hash,
    };
  }

  async getSession(id: string): Promise<Session | null> {
    const row = this.#sql('SELECT * FROM sessions WHERE id = ?').get(id) as SessionRow | undefined;
    return row ? toSession(row) : null;
  }

  async getSessionContext(id: string): Promise<SessionContext | null> {
    const row = this.#sql(
      `SELECT s.*, u.username AS u_username, u.password_hash AS u_password_hash, u.enabled AS u_enabled,
         u.not_before AS u_not_before, u.created_at AS u_created_at, u.updated_at AS u_updated_at,
         (SELECT value FROM settings WHERE name = ?) AS realm_not_before
       FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`,
    ).get(REALM_NOT_BEFORE, id) as (SessionRow & UserColumns & { realm_not_before: string | null }) | undefined;
    if (!row) return null;
    return {
      session: toSession(row),
      user: toUser({
        id: row.user_id,
        username: row.u_username,
        password_hash: row.u_password_hash,
        enabled: row.u_enabled,
        not_before: row.u_not_before,
        created_at: row.u_created_at,
        updated_at: row.u_updated_at,
      }),
      realmNotBefore: row.realm_not_before === null ? 0 : Number(row.realm_not_before),
    };
  }

  async listActiveSessions(now: number, userId?: string): Promise<Session[]> {
    const rows = this.#sql(
      `SELECT * FROM sessions WHERE ended_at IS NULL AND idle_expires_at > ? AND max_expires_at > ?
         AND (? IS NULL OR user_id = ?) ORDER BY created_at DESC, id`,
    ).all(now, now, userId ?? null, userId ?? null) as SessionRow[];
    return rows.map(toSession);
  }

  async endSession(id: string, reason: SessionEndReason, at: number): Promise<boolean> {
    return (
      this.#sql('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(at, reason, id)
        .changes > 0
    );
  }

  async endUserSessions(userId: string, reason: SessionEndReason, at: number): Promise<number> {
    return this.#sql('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL').run(
      at,
      reason,
      userId,
    ).changes;
  }

  #realmNotBefore(): number {
    const row = this.#sql('SELECT value FROM settings WHERE name = ?').get(REALM_NOT_BEFORE) as
      | { value: string }
      | undefined;
    return row ? Number(row.value) : 0;
  }

  async getRealmNotBefore(): Promise<number> {
    return this.#realmNotBefore();
  }

  async setRealmNotBefore(at: number): Promise<void> {
    this.#sql(
      'INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    ).run(REALM_NOT_BEFORE, String(at));
  }

  async listKeys(): Promise<StoredKey[]> {
    return (this.#sql('SELECT * FROM signing_keys ORDER BY created_at DESC, kid').all() as KeyRow[]).map(toKey);
  }

  async addKeyRetiringOthers(key: StoredKey): Promise<void> {
    this.#write(() => {
      this.#sql('UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL').run(key.createdAt);
      this.#sql(
        'INSERT INTO signing_keys (kid, alg, public_jwk, sealed_private_key, created_at, retired_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(key.kid, key.alg, JSON.stringify(key.publicJwk), key.sealedPrivateKey, key.createdAt, key.retiredAt);
    });
  }

  async getOrCreateSecret(name: string, value: string): Promise<string> {
    return this.#write(() => {
      this.#sql('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(
        `secret:${name}`,
        value,
      );
      return (this.#sql('SELECT value FROM settings WHERE name = ?').get(`secret:${name}`) as { value: string }).value;
    });
  }

  #insertAudit(event: AuditEvent): void {
    this.#sql(
      `INSERT INTO audit_events (at, type, user_id, session_id, source_address, user_agent, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(event.at, event.type, event.userId, event.sessionId, event.sourceAddress, event.userAgent, event.detail);
  }

  async recordAudit(event: AuditEvent): Promise<void> {
    this.#insertAudit(event);
  }

  async listAudit(limit: number): Promise<AuditEvent[]> {
    const rows = this.#sql('SELECT * FROM audit_events ORDER BY at DESC, id DESC LIMIT ?').all(limit) as AuditRow[];
    return rows.map((row) => ({
      at: row.at,
      type: row.type,
      userId: row.user_id,
      sessionId: row.session_id,
      sourceAddress: row.source_address,
      userAgent: row.user_agent,
      detail: row.detail,
    }));
  }

  async recordFailure(key: string, now: number, windowMs: number): Promise<FailureCount> {
    const row = this.#sql(
      `INSERT INTO failure_counters (key, count, reset_at) VALUES (?, 1, ?)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN failure_counters.reset_at > ? THEN failure_counters.count + 1 ELSE 1 END,
         reset_at = CASE WHEN failure_counters.reset_at > ? THEN failure_counters.reset_at ELSE excluded.reset_at END
       RETURNING count, reset_at`,
    ).get(key, now + windowMs, now, now) as { count: number; reset_at: number };
    return { count: row.count, resetAt: row.reset_at };
  }

  async getFailures(key: string, now: number): Promise<FailureCount> {
    const row = this.#sql('SELECT count, reset_at FROM failure_counters WHERE key = ?').get(key) as
      | { count: number; reset_at: number }
      | undefined;
    if (!row || row.reset_at <= now) return { count: 0, resetAt: now };
    return { count: row.count, resetAt: row.reset_at };
  }

  async clearFailures(key: string): Promise<void> {
    this.#sql('DELETE FROM failure_counters WHERE key = ?').run(key);
  }

  async purgeExpired(before: number, limit: number): Promise<number> {
    return this.#write(() => {
      const sessions = this.#sql(
        `DELETE FROM sessions WHERE id IN (
           SELECT id FROM sessions WHERE COALESCE(ended_at, MIN(idle_expires_at, max_expires_at)) < ? LIMIT ?)`,
      ).run(before, limit).changes;
      const tokens = this.#sql(
        'DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM refresh_tokens WHERE expires_at < ? LIMIT ?)',
      ).run(before, limit).changes;
      const counters = this.#sql(
        'DELETE FROM failure_counters WHERE key IN (SELECT key FROM failure_counters WHERE reset_at < ? LIMIT ?)',
      ).run(before, limit).changes;
      return sessions + tokens + counters;
    });
  }

  async purgeAudit(before: number, limit: number): Promise<number> {
    return this.#write(
      () =>
        this.#sql('DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)').run(
          before,
          limit,
        ).changes,
    );
  }
}
