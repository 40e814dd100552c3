import { createHash } from 'node:crypto';
import { UsernameTakenError, type AdminStore, type AuditEvent, type AuditFilter, type AuditHistogramCount, type AuditHistogramQuery, type AuditRecord, type AuditStore, type KeyStore, type NewUser, type SettingsStore, type Store, type StoredKey, type User, type UserPatch, type UserStore } from '../port.js';
import { REALM_NOT_BEFORE, secretName, toAuditRecord, toKey, toUser, type AuditRow, type KeyRow, type UserRow } from '../rows.js';
import { PostgresAdminStore } from './admins.js';
import { PostgresCounterStore } from './counters.js';
import { PostgresDatabase } from './database.js';
import { postgresMigrations } from './migrations.js';
import { PostgresSessionStore } from './sessions.js';
import { isPostgresUnavailableError } from './unavailable.js';

const UNIQUE_VIOLATION = '23505';

/** A stable 64-bit advisory-lock key for `name` (signed, as PostgreSQL's BIGINT). */
function advisoryLockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}

class PostgresUserStore implements UserStore {
  constructor(private readonly d: PostgresDatabase) {}

  async create(user: NewUser): Promise<User> {
    try {
      await this.d.query(
        `INSERT INTO ${this.d.s}.users (id, username, password_hash, enabled, not_before, created_at, updated_at)
         VALUES ($1, $2, $3, TRUE, 0, $4, $4)`,
        [user.id, user.username, user.passwordHash, user.createdAt],
      );
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code === UNIQUE_VIOLATION && constraint === 'users_username_key') throw new UsernameTakenError(user.username);
      throw error;
    }
    return { ...user, enabled: true, notBefore: 0, canIntrospect: false, requireDpop: false, updatedAt: user.createdAt };
  }

  async findByUsername(username: string): Promise<User | null> {
    // A client may send any string; one with NUL cannot be stored in TEXT, so no user has it.
    if (username.includes('\u0000')) return null;
    const { rows } = await this.d.query<UserRow>(`SELECT * FROM ${this.d.s}.users WHERE username = $1`, [username]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async findById(id: string): Promise<User | null> {
    // An id from a console URL may hold NUL, which TEXT cannot: no user has it.
    if (id.includes('\u0000')) return null;
    const { rows } = await this.d.query<UserRow>(`SELECT * FROM ${this.d.s}.users WHERE id = $1`, [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async list(): Promise<User[]> {
    const { rows } = await this.d.query<UserRow>(`SELECT * FROM ${this.d.s}.users ORDER BY username COLLATE "C"`);
    return rows.map(toUser);
  }

  async count(): Promise<number> {
    const { rows } = await this.d.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${this.d.s}.users`);
    return Number(rows[0]?.n ?? 0);
  }

  async update(id: string, patch: UserPatch): Promise<boolean> {
    const result = await this.d.query(
      `UPDATE ${this.d.s}.users SET
         password_hash = COALESCE($1::text, password_hash),
         enabled = COALESCE($2::boolean, enabled),
         not_before = COALESCE($3::bigint, not_before),
         can_introspect = COALESCE($6::boolean, can_introspect),
         require_dpop = COALESCE($7::boolean, require_dpop),
         updated_at = $4
       WHERE id = $5`,
      [patch.passwordHash ?? null, patch.enabled ?? null, patch.notBefore ?? null, patch.updatedAt, id, patch.canIntrospect ?? null, patch.requireDpop ?? null],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async remove(id: string): Promise<boolean> {
    const result = await this.d.query(`DELETE FROM ${this.d.s}.users WHERE id = $1`, [id]);
    return (result.rowCount ?? 0) > 0;
  }
}

class PostgresKeyStore implements KeyStore {
  constructor(private readonly d: PostgresDatabase) {}

  async list(): Promise<StoredKey[]> {
    const { rows } = await this.d.query<KeyRow>(`SELECT * FROM ${this.d.s}.signing_keys ORDER BY created_at DESC, kid COLLATE "C"`);
    return rows.map(toKey);
  }

  async addRetiringOthers(key: StoredKey): Promise<void> {
    const s = this.d.s;
    await this.d.transaction(async (client) => {
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
}

class PostgresSettingsStore implements SettingsStore {
  constructor(private readonly d: PostgresDatabase) {}

  async #get(name: string): Promise<string | null> {
    const { rows } = await this.d.query<{ value: string }>(`SELECT value FROM ${this.d.s}.settings WHERE name = $1`, [name]);
    return rows[0]?.value ?? null;
  }

  async getRealmNotBefore(): Promise<number> {
    return Number((await this.#get(REALM_NOT_BEFORE)) ?? 0);
  }

  async setRealmNotBefore(at: number): Promise<void> {
    await this.d.query(
      `INSERT INTO ${this.d.s}.settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
      [REALM_NOT_BEFORE, String(at)],
    );
  }

  async getOrCreateSecret(name: string, value: string): Promise<string> {
    // Two statements on purpose: the SELECT takes a fresh snapshot, so it sees a concurrent
    // first writer whose INSERT made ours a no-op.
    await this.d.query(`INSERT INTO ${this.d.s}.settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [
      secretName(name),
      value,
    ]);
    const stored = await this.#get(secretName(name));
    if (stored === null) throw new Error(`secret "${name}" vanished between insert and read`);
    return stored;
  }
}

class PostgresAuditStore implements AuditStore {
  constructor(private readonly d: PostgresDatabase) {}

  async record(event: AuditEvent): Promise<void> {
    await this.d.query(
      `INSERT INTO ${this.d.s}.audit_events (at, type, user_id, session_id, source_address, user_agent, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [event.at, event.type, event.userId, event.sessionId, event.sourceAddress, event.userAgent, event.detail],
    );
  }

  async list(filter: AuditFilter): Promise<AuditRecord[]> {
    if (filter.userId?.includes('\u0000')) return [];
    const { rows } = await this.d.query<AuditRow>(
      `SELECT * FROM ${this.d.s}.audit_events
        WHERE ($1::bigint IS NULL OR at >= $1) AND ($2::bigint IS NULL OR at < $2)
          AND ($3::text IS NULL OR user_id = $3) AND ($4::text IS NULL OR type = $4)
          AND ($6::bigint IS NULL OR (at, id) < ($6, $7::bigint))
        ORDER BY at DESC, id DESC LIMIT $5`,
      [
        filter.since ?? null,
        filter.until ?? null,
        filter.userId ?? null,
        filter.type ?? null,
        filter.limit,
        filter.after?.at ?? null,
        filter.after?.id ?? null,
      ],
    );
    return rows.map(toAuditRecord);
  }

  async histogram(query: AuditHistogramQuery): Promise<AuditHistogramCount[]> {
    if (query.types.length === 0) return [];
    const { rows } = await this.d.query<{ type: string; bucket: string; count: string }>(
      `SELECT type, (at - $1) / $3 AS bucket, COUNT(*) AS count FROM ${this.d.s}.audit_events
        WHERE at >= $1 AND at < $2 AND type = ANY($4::text[])
        GROUP BY type, bucket ORDER BY bucket, type`,
      [query.since, query.until, query.bucketMs, [...query.types]],
    );
    return rows.map((row) => ({ type: row.type, bucket: Number(row.bucket), count: Number(row.count) }));
  }
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
  /** Longest a statement may run before PostgreSQL cancels it (ms). Default 5000. */
  statementTimeoutMs?: number;
  /** Longest a statement may wait for a lock (ms). Default 2000. */
  lockTimeoutMs?: number;
}

/**
 * The scale-out store: any number of server processes over one PostgreSQL (DESIGN §3). Every
 * query names its schema, so several stores (or test runs) can share one database. Exactly-once
 * rotation comes from compare-and-set on the session's generation; migrations serialise on an
 * advisory lock.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly #d: PostgresDatabase;
  readonly users: UserStore;
  readonly sessions: PostgresSessionStore;
  readonly keys: KeyStore;
  readonly settings: SettingsStore;
  readonly counters: PostgresCounterStore;
  readonly audit: AuditStore;
  readonly admins: AdminStore;
  #closed = false;

  constructor(options: PostgresStoreOptions) {
    this.#d = new PostgresDatabase({
      connectionString: options.connectionString,
      schema: options.schema ?? 'public',
      poolSize: options.poolSize ?? 10,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      statementTimeoutMs: options.statementTimeoutMs ?? 5000,
      lockTimeoutMs: options.lockTimeoutMs ?? 2000,
    });
    this.users = new PostgresUserStore(this.#d);
    this.sessions = new PostgresSessionStore(this.#d);
    this.keys = new PostgresKeyStore(this.#d);
    this.settings = new PostgresSettingsStore(this.#d);
    this.counters = new PostgresCounterStore(this.#d);
    this.audit = new PostgresAuditStore(this.#d);
    this.admins = new PostgresAdminStore(this.#d);
  }

  async migrate(): Promise<void> {
    const { s, schema } = this.#d;
    await this.#d.transaction(async (client) => {
      // A migration may rewrite a large table, and instances starting together wait here for the
      // first one's: neither is a request to answer quickly.
      await client.query('SET LOCAL statement_timeout = 0');
      await client.query('SET LOCAL lock_timeout = 0');
      // Several instances starting at once queue here; the later ones then find nothing to do.
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryLockKey(`antpeer-auth migrate ${schema}`)]);
      const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${s}`);
      await client.query(`SET LOCAL search_path TO ${s}`);
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
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
    const table = await this.#d.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
      `${this.#d.s}.schema_migrations`,
    ]);
    if (!table.rows[0]?.found) return postgresMigrations.length;
    const { rows } = await this.#d.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${this.#d.s}.schema_migrations`);
    return postgresMigrations.length - Number(rows[0]?.n ?? 0);
  }

  isUnavailableError(error: unknown): boolean {
    return isPostgresUnavailableError(error);
  }

  async ping(): Promise<void> {
    await this.#d.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#d.pool.end();
  }

  async purgeExpired(before: number, limit: number): Promise<number> {
    const s = this.#d.s;
    // Bounded batches, one short statement each, skipping rows a request holds right now: the
    // purge never waits on (or makes wait) a live request.
    const sessions = await this.#d.query(
      `DELETE FROM ${s}.sessions WHERE id IN (
         SELECT id FROM ${s}.sessions
          WHERE COALESCE(ended_at, LEAST(idle_expires_at, max_expires_at)) < $1
          LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    const counters = await this.#d.query(
      `DELETE FROM ${s}.failure_counters WHERE key IN (
         SELECT key FROM ${s}.failure_counters WHERE reset_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    return (sessions.rowCount ?? 0) + (counters.rowCount ?? 0);
  }

  async purgeAudit(before: number, limit: number): Promise<number> {
    const s = this.#d.s;
    const result = await this.#d.query(
      `DELETE FROM ${s}.audit_events WHERE id IN (
         SELECT id FROM ${s}.audit_events WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    return result.rowCount ?? 0;
  }
}
