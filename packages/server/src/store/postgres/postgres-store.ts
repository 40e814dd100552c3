import { createHash } from 'node:crypto';
import pg from 'pg';
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
import { postgresMigrations } from './migrations.js';
import { isPostgresUnavailableError } from './unavailable.js';

// node-postgres hands BIGINT back as a string (it may exceed 2^53); every time here is a
// millisecond count well inside that range, so rows are parsed back to numbers one by one.
type Bigint = string;

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  enabled: boolean;
  not_before: Bigint;
  created_at: Bigint;
  updated_at: Bigint;
}

/** A user's columns under the `u_` prefix, as a join with sessions returns them. */
interface UserColumns {
  u_username: string;
  u_password_hash: string;
  u_enabled: boolean;
  u_not_before: Bigint;
  u_created_at: Bigint;
  u_updated_at: Bigint;
}

interface SessionRow {
  id: string;
  user_id: string;
  created_at: Bigint;
  idle_expires_at: Bigint;
  max_expires_at: Bigint;
  last_refresh_at: Bigint;
  ended_at: Bigint | null;
  end_reason: string | null;
  source_address: string;
  user_agent: string;
  current_hash: string;
  previous_hash: string | null;
  rotated_at: Bigint | null;
}

interface TokenRow {
  issued_at: Bigint;
  expires_at: Bigint;
}

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: Record<string, unknown>;
  sealed_private_key: string;
  created_at: Bigint;
  retired_at: Bigint | null;
}

interface AuditRow {
  at: Bigint;
  type: string;
  user_id: string | null;
  session_id: string | null;
  source_address: string;
  user_agent: string;
  detail: string;
}

interface CounterRow {
  count: number;
  reset_at: Bigint;
}

const REALM_NOT_BEFORE = 'realm_not_before';
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const UNIQUE_VIOLATION = '23505';

function nullableNumber(value: Bigint | null): number | null {
  return value === null ? null : Number(value);
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    enabled: row.enabled,
    notBefore: Number(row.not_before),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** The user columns of a join, prefixed `u_` so they do not collide with the session's. */
const PREFIXED_USER_COLUMNS = `u.username AS u_username, u.password_hash AS u_password_hash, u.enabled AS u_enabled,
  u.not_before AS u_not_before, u.created_at AS u_created_at, u.updated_at AS u_updated_at`;

/** The user of a session row joined with {@link PREFIXED_USER_COLUMNS}. */
function toJoinedUser(row: SessionRow & UserColumns): User {
  return toUser({
    id: row.user_id,
    username: row.u_username,
    password_hash: row.u_password_hash,
    enabled: row.u_enabled,
    not_before: row.u_not_before,
    created_at: row.u_created_at,
    updated_at: row.u_updated_at,
  });
}

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    createdAt: Number(row.created_at),
    idleExpiresAt: Number(row.idle_expires_at),
    maxExpiresAt: Number(row.max_expires_at),
    lastRefreshAt: Number(row.last_refresh_at),
    endedAt: nullableNumber(row.ended_at),
    endReason: row.end_reason as SessionEndReason | null,
    sourceAddress: row.source_address,
    userAgent: row.user_agent,
  };
}

function toKey(row: KeyRow): StoredKey {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: row.public_jwk,
    sealedPrivateKey: row.sealed_private_key,
    createdAt: Number(row.created_at),
    retiredAt: nullableNumber(row.retired_at),
  };
}

function toAuditEvent(row: AuditRow): AuditEvent {
  return {
    at: Number(row.at),
    type: row.type,
    userId: row.user_id,
    sessionId: row.session_id,
    sourceAddress: row.source_address,
    userAgent: row.user_agent,
    detail: row.detail,
  };
}

/**
 * Counter keys embed whatever a client sent as a username: it may hold NUL (which PostgreSQL TEXT
 * refuses) or run to the body limit (past what a btree entry holds). Only the key's SHA-256 is
 * kept, which also keeps passwords typed into the username field out of the table.
 */
function counterKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A stable 64-bit advisory-lock key for `name` (signed, as PostgreSQL's BIGINT). */
function advisoryLockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`. */
  connectionString: string;
  /** The schema holding the tables; created by `migrate()` when absent. Default `public`. */
  schema?: string;
  /** Most connections the pool opens. Default 10. */
  poolSize?: number;
  /** How long a request waits for a connection before it fails as unavailable (ms). Default 5000. */
  connectTimeoutMs?: number;
}

/** Starts TCP keep-alive probes on a connection idle this long, so a dead peer is noticed. */
const KEEPALIVE_DELAY_MS = 10_000;

/**
 * The scale-out store: any number of server processes over one PostgreSQL (DESIGN §3). Every
 * query names its schema, so several stores (or test runs) can share one database. Cross-instance
 * exactly-once rotation comes from locking the session row (`SELECT … FOR UPDATE`) for the whole
 * check-and-rotate transaction; migrations serialise on an advisory lock.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;
  readonly #schema: string;
  /** The quoted schema name every table is qualified with. */
  readonly #s: string;
  #closed = false;

  constructor(options: PostgresStoreOptions) {
    const schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) {
      throw new TypeError(`schema must be a plain SQL identifier (letters, digits, _), got ${JSON.stringify(schema)}`);
    }
    this.#schema = schema;
    this.#s = `"${schema}"`;
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      application_name: 'antpeer-auth',
      // Without a bound, a request waits forever for a connection to a database that does not answer.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    });
    // An idle connection that dies (database restart, network cut) must not crash the process:
    // the pool drops it, and the next query that needs the database reports the failure.
    this.#pool.on('error', () => undefined);
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    // The pool listens for errors only on idle clients: a checked-out one whose connection drops
    // would emit an 'error' nobody handles and take the process down. The failing query reports it.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async migrate(): Promise<void> {
    const s = this.#s;
    await this.#transaction(async (client) => {
      // Several instances starting at once queue here; the later ones then find nothing to do.
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [
        advisoryLockKey(`antpeer-auth migrate ${this.#schema}`),
      ]);
      const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.#schema]);
      if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${s}`);
      await client.query(`SET LOCAL search_path TO ${s}`);
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
      );
      const applied = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const done = new Set(applied.rows.map((row) => row.version));
      for (const [index, sql] of postgresMigrations.entries()) {
        const version = index + 1;
        if (done.has(version)) continue;
        await client.query(sql);
        await client.query(
          'INSERT INTO schema_migrations (version, applied_at) VALUES ($1, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint)',
          [version],
        );
      }
    });
  }

  async pendingMigrations(): Promise<number> {
    const table = await this.#pool.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
      `${this.#s}.schema_migrations`,
    ]);
    if (!table.rows[0]?.found) return postgresMigrations.length;
    const { rows } = await this.#pool.query<{ n: Bigint }>(`SELECT COUNT(*) AS n FROM ${this.#s}.schema_migrations`);
    return postgresMigrations.length - Number(rows[0]?.n ?? 0);
  }

  isUnavailableError(error: unknown): boolean {
    return isPostgresUnavailableError(error);
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async createUser(user: NewUser): Promise<User> {
    try {
      await this.#pool.query(
        `INSERT INTO ${this.#s}.users (id, username, password_hash, enabled, not_before, created_at, updated_at)
         VALUES ($1, $2, $3, TRUE, 0, $4, $4)`,
        [user.id, user.username, user.passwordHash, user.createdAt],
      );
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code === UNIQUE_VIOLATION && constraint === 'users_username_key') throw new UsernameTakenError(user.username);
      throw error;
    }
    return {
      id: user.id,
      username: user.username,
      passwordHash: user.passwordHash,
      enabled: true,
      notBefore: 0,
      createdAt: user.createdAt,
      updatedAt: user.createdAt,
    };
  }

  async findUserByUsername(username: string): Promise<User | null> {
    // A client may send any string; one with NUL cannot be stored in TEXT, so no user has it.
    if (username.includes('\u0000')) return null;
    const { rows } = await this.#pool.query<UserRow>(`SELECT * FROM ${this.#s}.users WHERE username = $1`, [username]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async findUserById(id: string): Promise<User | null> {
    const { rows } = await this.#pool.query<UserRow>(`SELECT * FROM ${this.#s}.users WHERE id = $1`, [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async listUsers(): Promise<User[]> {
    const { rows } = await this.#pool.query<UserRow>(`SELECT * FROM ${this.#s}.users ORDER BY username COLLATE "C"`);
    return rows.map(toUser);
  }

  async updateUser(id: string, patch: UserPatch): Promise<boolean> {
    const result = await this.#pool.query(
      `UPDATE ${this.#s}.users SET
         password_hash = COALESCE($1::text, password_hash),
         enabled = COALESCE($2::boolean, enabled),
         not_before = COALESCE($3::bigint, not_before),
         updated_at = $4
       WHERE id = $5`,
      [patch.passwordHash ?? null, patch.enabled ?? null, patch.notBefore ?? null, patch.updatedAt, id],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async removeUser(id: string): Promise<boolean> {
    const result = await this.#pool.query(`DELETE FROM ${this.#s}.users WHERE id = $1`, [id]);
    return (result.rowCount ?? 0) > 0;
  }

  async countUsers(): Promise<number> {
    const { rows } = await this.#pool.query<{ n: Bigint }>(`SELECT COUNT(*) AS n FROM ${this.#s}.users`);
    return Number(rows[0]?.n ?? 0);
  }

  async createSession(session: NewSession): Promise<Session> {
    await this.#pool.query(
      `WITH created AS (
         INSERT INTO ${this.#s}.sessions (id, user_id, created_at, idle_expires_at, max_expires_at, last_refresh_at,
           source_address, user_agent, current_hash)
         VALUES ($1, $2, $3, $4, $5, $3, $6, $7, $8)
         RETURNING id)
       INSERT INTO ${this.#s}.refresh_tokens (hash, session_id, issued_at, expires_at)
       SELECT $8, id, $3, $4 FROM created`,
      [
        session.id,
        session.userId,
        session.createdAt,
        session.idleExpiresAt,
        session.maxExpiresAt,
        session.source.address,
        session.source.userAgent,
        session.refreshTokenHash,
      ],
    );
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

  async rotateRefreshToken(request: RotationRequest): Promise<RotationOutcome> {
    const s = this.#s;
    return this.#transaction(async (client): Promise<RotationOutcome> => {
      // The session row lock serialises every rotation of this session across all instances;
      // under READ COMMITTED the row comes back as the previous holder left it.
      const found = await client.query<SessionRow & { token_issued_at: Bigint; token_expires_at: Bigint }>(
        `SELECT s.*, t.issued_at AS token_issued_at, t.expires_at AS token_expires_at
           FROM ${s}.refresh_tokens t JOIN ${s}.sessions s ON s.id = t.session_id
          WHERE t.hash = $1
          FOR UPDATE OF s`,
        [request.presentedHash],
      );
      const sessionRow = found.rows[0];
      if (!sessionRow) return { kind: 'unknown' };
      const token: TokenRow = { issued_at: sessionRow.token_issued_at, expires_at: sessionRow.token_expires_at };
      const users = await client.query<UserRow & { realm_not_before: string | null }>(
        `SELECT u.*, (SELECT value FROM ${s}.settings WHERE name = $2) AS realm_not_before
           FROM ${s}.users u WHERE u.id = $1`,
        [sessionRow.user_id, REALM_NOT_BEFORE],
      );
      const userRow = users.rows[0];
      if (!userRow) return { kind: 'unknown' };
      const { now } = request;
      const maxExpiresAt = Number(sessionRow.max_expires_at);
      if (sessionRow.ended_at !== null || !userRow.enabled) return { kind: 'session_ended' };
      if (now >= Number(token.expires_at) || now >= maxExpiresAt) return { kind: 'expired' };
      const realmNotBefore = Number(userRow.realm_not_before ?? 0);
      const notBefore = Math.max(realmNotBefore, Number(userRow.not_before));
      if (Number(token.issued_at) < notBefore) return { kind: 'stale' };

      if (request.presentedHash === sessionRow.current_hash) {
        const expiresAt = Math.min(now + request.idleMs, maxExpiresAt);
        await client.query(
          `WITH successor AS (
             INSERT INTO ${s}.refresh_tokens (hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4))
           UPDATE ${s}.sessions
              SET current_hash = $1, previous_hash = $5, rotated_at = $3, idle_expires_at = $4, last_refresh_at = $3
            WHERE id = $2`,
          [request.successorHash, sessionRow.id, now, expiresAt, request.presentedHash],
        );
        const session = toSession({ ...sessionRow, idle_expires_at: String(expiresAt), last_refresh_at: String(now) });
        return {
          kind: 'rotated',
          session,
          user: toUser(userRow),
          tokenIssuedAt: now,
          tokenExpiresAt: expiresAt,
          realmNotBefore,
        };
      }

      const rotatedAt = nullableNumber(sessionRow.rotated_at);
      const withinGrace =
        request.graceMs > 0 &&
        request.presentedHash === sessionRow.previous_hash &&
        rotatedAt !== null &&
        now - rotatedAt <= request.graceMs &&
        sessionRow.current_hash === request.successorHash;
      if (withinGrace) {
        return {
          kind: 'replayed',
          session: toSession(sessionRow),
          user: toUser(userRow),
          tokenIssuedAt: rotatedAt,
          tokenExpiresAt: Number(sessionRow.idle_expires_at),
          realmNotBefore,
        };
      }

      await client.query(
        `WITH ended AS (UPDATE ${s}.sessions SET ended_at = $1, end_reason = 'reuse' WHERE id = $2)
         INSERT INTO ${s}.audit_events (at, type, user_id, session_id, source_address, user_agent, detail)
         VALUES ($1, 'refresh_token_reuse', $3, $2, $4, $5, $6)`,
        [
          now,
          sessionRow.id,
          userRow.id,
          request.source.address,
          request.source.userAgent,
          'a refresh token that was already rotated was presented again; session revoked',
        ],
      );
      return { kind: 'reused', session: toSession({ ...sessionRow, ended_at: String(now), end_reason: 'reuse' }) };
    });
  }

  async findRefreshToken(hash: string): Promise<RefreshTokenRecord | null> {
    const s = this.#s;
    const { rows } = await this.#pool.query<
      SessionRow & TokenRow & UserColumns
    >(
      `SELECT s.*, t.issued_at, t.expires_at, ${PREFIXED_USER_COLUMNS}
         FROM ${s}.refresh_tokens t
         JOIN ${s}.sessions s ON s.id = t.session_id
         JOIN ${s}.users u ON u.id = s.user_id
        WHERE t.hash = $1`,
      [hash],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      session: toSession(row),
      user: toJoinedUser(row),
      issuedAt: Number(row.issued_at),
      expiresAt: Number(row.expires_at),
      live: row.current_hash === hash,
    };
  }

  async getSession(id: string): Promise<Session | null> {
    const { rows } = await this.#pool.query<SessionRow>(`SELECT * FROM ${this.#s}.sessions WHERE id = $1`, [id]);
    return rows[0] ? toSession(rows[0]) : null;
  }

  async getSessionContext(id: string): Promise<SessionContext | null> {
    const { rows } = await this.#pool.query<SessionRow & UserColumns & { realm_not_before: string | null }>(
      `SELECT s.*, ${PREFIXED_USER_COLUMNS},
         (SELECT value FROM ${this.#s}.settings WHERE name = $2) AS realm_not_before
       FROM ${this.#s}.sessions s JOIN ${this.#s}.users u ON u.id = s.user_id WHERE s.id = $1`,
      [id, REALM_NOT_BEFORE],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      session: toSession(row),
      user: toJoinedUser(row),
      realmNotBefore: Number(row.realm_not_before ?? 0),
    };
  }

  async listActiveSessions(now: number, userId?: string): Promise<Session[]> {
    const { rows } = await this.#pool.query<SessionRow>(
      `SELECT * FROM ${this.#s}.sessions
        WHERE ended_at IS NULL AND idle_expires_at > $1 AND max_expires_at > $1
          AND ($2::text IS NULL OR user_id = $2)
        ORDER BY created_at DESC, id COLLATE "C"`,
      [now, userId ?? null],
    );
    return rows.map(toSession);
  }

  async endSession(id: string, reason: SessionEndReason, at: number): Promise<boolean> {
    const result = await this.#pool.query(
      `UPDATE ${this.#s}.sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL`,
      [at, reason, id],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async endUserSessions(userId: string, reason: SessionEndReason, at: number): Promise<number> {
    const result = await this.#pool.query(
      `UPDATE ${this.#s}.sessions SET ended_at = $1, end_reason = $2 WHERE user_id = $3 AND ended_at IS NULL`,
      [at, reason, userId],
    );
    return result.rowCount ?? 0;
  }

  async getRealmNotBefore(): Promise<number> {
    const { rows } = await this.#pool.query<{ value: string }>(`SELECT value FROM ${this.#s}.settings WHERE name = $1`, [
      REALM_NOT_BEFORE,
    ]);
    return rows[0] ? Number(rows[0].value) : 0;
  }

  async setRealmNotBefore(at: number): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#s}.settings (name, value) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
      [REALM_NOT_BEFORE, String(at)],
    );
  }

  async listKeys(): Promise<StoredKey[]> {
    const { rows } = await this.#pool.query<KeyRow>(
      `SELECT * FROM ${this.#s}.signing_keys ORDER BY created_at DESC, kid COLLATE "C"`,
    );
    return rows.map(toKey);
  }

  async addKeyRetiringOthers(key: StoredKey): Promise<void> {
    const s = this.#s;
    await this.#transaction(async (client) => {
      // Two rotations at once must not both leave their key unretired: this mode conflicts with
      // itself (one adder at a time) but not with readers.
      await client.query(`LOCK TABLE ${s}.signing_keys IN SHARE ROW EXCLUSIVE MODE`);
      await client.query(`UPDATE ${s}.signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, [key.createdAt]);
      await client.query(
        `INSERT INTO ${s}.signing_keys (kid, alg, public_jwk, sealed_private_key, created_at, retired_at)
         VALUES ($1, $2, $3::jsonb, $4, $5, $6)`,
        [key.kid, key.alg, JSON.stringify(key.publicJwk), key.sealedPrivateKey, key.createdAt, key.retiredAt],
      );
    });
  }

  async getOrCreateSecret(name: string, value: string): Promise<string> {
    // Two statements on purpose: the SELECT takes a fresh snapshot, so it sees a concurrent
    // first writer whose INSERT made ours a no-op.
    await this.#pool.query(`INSERT INTO ${this.#s}.settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [
      `secret:${name}`,
      value,
    ]);
    const { rows } = await this.#pool.query<{ value: string }>(`SELECT value FROM ${this.#s}.settings WHERE name = $1`, [
      `secret:${name}`,
    ]);
    const stored = rows[0];
    if (!stored) throw new Error(`secret "${name}" vanished between insert and read`);
    return stored.value;
  }

  async recordAudit(event: AuditEvent): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#s}.audit_events (at, type, user_id, session_id, source_address, user_agent, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [event.at, event.type, event.userId, event.sessionId, event.sourceAddress, event.userAgent, event.detail],
    );
  }

  async listAudit(limit: number): Promise<AuditEvent[]> {
    const { rows } = await this.#pool.query<AuditRow>(
      `SELECT * FROM ${this.#s}.audit_events ORDER BY at DESC, id DESC LIMIT $1`,
      [limit],
    );
    return rows.map(toAuditEvent);
  }

  async recordFailure(key: string, now: number, windowMs: number): Promise<FailureCount> {
    const { rows } = await this.#pool.query<CounterRow>(
      `INSERT INTO ${this.#s}.failure_counters AS f (key, count, reset_at) VALUES ($1, 1, $2)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN f.reset_at > $3 THEN f.count + 1 ELSE 1 END,
         reset_at = CASE WHEN f.reset_at > $3 THEN f.reset_at ELSE EXCLUDED.reset_at END
       RETURNING count, reset_at`,
      [counterKey(key), now + windowMs, now],
    );
    const row = rows[0] as CounterRow;
    return { count: row.count, resetAt: Number(row.reset_at) };
  }

  async getFailures(key: string, now: number): Promise<FailureCount> {
    const { rows } = await this.#pool.query<CounterRow>(
      `SELECT count, reset_at FROM ${this.#s}.failure_counters WHERE key = $1`,
      [counterKey(key)],
    );
    const row = rows[0];
    if (!row || Number(row.reset_at) <= now) return { count: 0, resetAt: now };
    return { count: row.count, resetAt: Number(row.reset_at) };
  }

  async clearFailures(key: string): Promise<void> {
    await this.#pool.query(`DELETE FROM ${this.#s}.failure_counters WHERE key = $1`, [counterKey(key)]);
  }

  async purgeExpired(before: number, limit: number): Promise<number> {
    const s = this.#s;
    // Bounded batches, one short statement each, skipping rows a rotation holds right now: the
    // purge never waits on (or makes wait) a live request.
    const sessions = await this.#pool.query(
      `DELETE FROM ${s}.sessions WHERE id IN (
         SELECT id FROM ${s}.sessions
          WHERE COALESCE(ended_at, LEAST(idle_expires_at, max_expires_at)) < $1
          LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    const tokens = await this.#pool.query(
      `DELETE FROM ${s}.refresh_tokens WHERE hash IN (
         SELECT hash FROM ${s}.refresh_tokens WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    const counters = await this.#pool.query(
      `DELETE FROM ${s}.failure_counters WHERE key IN (
         SELECT key FROM ${s}.failure_counters WHERE reset_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    return (sessions.rowCount ?? 0) + (tokens.rowCount ?? 0) + (counters.rowCount ?? 0);
  }

  async purgeAudit(before: number, limit: number): Promise<number> {
    const s = this.#s;
    const result = await this.#pool.query(
      `DELETE FROM ${s}.audit_events WHERE id IN (
         SELECT id FROM ${s}.audit_events WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    return result.rowCount ?? 0;
  }
}
