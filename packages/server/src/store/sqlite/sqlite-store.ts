import { UsernameTakenError, type AdminStore, type AuditEvent, type AuditFilter, type AuditHistogramCount, type AuditHistogramQuery, type AuditRecord, type AuditStore, type KeyStore, type NewUser, type SettingsStore, type Store, type StoredKey, type User, type UserPatch, type UserStore } from '../port.js';
import { REALM_NOT_BEFORE, secretName, toAuditRecord, toKey, toUser, type AuditRow, type KeyRow, type UserRow } from '../rows.js';
import { SqliteAdminStore } from './admins.js';
import { SqliteCounterStore } from './counters.js';
import { Checkpointer, DEFAULT_AUTOCHECKPOINT_PAGES, FALLBACK_AUTOCHECKPOINT_PAGES } from './checkpointer.js';
import { SqliteDatabase, WritesStoppedError } from './database.js';
import { sqliteMigrations } from './migrations.js';
import { SqliteSessionStore } from './sessions.js';
import type { WalSyncOptions } from './wal-sync.js';

export interface SqliteStoreOptions {
  /** Path of the database file, or `:memory:`. */
  filename: string;
  /**
   * Checkpoint the write-ahead log from a thread of its own every this many ms, instead of inside
   * the commit that fills it (see {@link Checkpointer}). For a server; a short CLI command leaves it unset.
   */
  checkpointIntervalMs?: number;
  /** Fault injection for tests: the `fdatasync` that puts the sessions' group commits on disk. */
  fdatasync?: WalSyncOptions['fdatasync'];
}

class SqliteUserStore implements UserStore {
  constructor(private readonly d: SqliteDatabase) {}

  async create(user: NewUser): Promise<User> {
    try {
      this.d
        .sql(
          'INSERT INTO users (id, username, password_hash, enabled, not_before, created_at, updated_at) VALUES (?, ?, ?, 1, 0, ?, ?)',
        )
        .run(user.id, user.username, user.passwordHash, user.createdAt, user.createdAt);
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new UsernameTakenError(user.username);
      throw error;
    }
    return { ...user, enabled: true, notBefore: 0, canIntrospect: false, requireDpop: false, updatedAt: user.createdAt };
  }

  async findByUsername(username: string): Promise<User | null> {
    const row = this.d.sql('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async findById(id: string): Promise<User | null> {
    const row = this.d.sql('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async list(): Promise<User[]> {
    return (this.d.sql('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toUser);
  }

  async count(): Promise<number> {
    return (this.d.sql('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }

  async update(id: string, patch: UserPatch): Promise<boolean> {
    const result = this.d
      .sql(
        `UPDATE users SET
           password_hash = COALESCE(?, password_hash),
           enabled = COALESCE(?, enabled),
           not_before = COALESCE(?, not_before),
           can_introspect = COALESCE(?, can_introspect),
           require_dpop = COALESCE(?, require_dpop),
           updated_at = ?
         WHERE id = ?`,
      )
      .run(
        patch.passwordHash ?? null,
        patch.enabled === undefined ? null : patch.enabled ? 1 : 0,
        patch.notBefore ?? null,
        patch.canIntrospect === undefined ? null : patch.canIntrospect ? 1 : 0,
        patch.requireDpop === undefined ? null : patch.requireDpop ? 1 : 0,
        patch.updatedAt,
        id,
      );
    return result.changes > 0;
  }

  async remove(id: string): Promise<boolean> {
    return this.d.sql('DELETE FROM users WHERE id = ?').run(id).changes > 0;
  }
}

class SqliteKeyStore implements KeyStore {
  constructor(private readonly d: SqliteDatabase) {}

  async list(): Promise<StoredKey[]> {
    return (this.d.sql('SELECT * FROM signing_keys ORDER BY created_at DESC, kid').all() as KeyRow[]).map(toKey);
  }

  async addRetiringOthers(key: StoredKey): Promise<void> {
    this.d.write(() => {
      this.d.sql('UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL').run(key.createdAt);
      this.d
        .sql('INSERT INTO signing_keys (kid, alg, public_jwk, sealed_private_key, created_at, retired_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(key.kid, key.alg, JSON.stringify(key.publicJwk), key.sealedPrivateKey, key.createdAt, key.retiredAt);
    });
  }
}

class SqliteSettingsStore implements SettingsStore {
  constructor(private readonly d: SqliteDatabase) {}

  async getRealmNotBefore(): Promise<number> {
    const row = this.d.sql('SELECT value FROM settings WHERE name = ?').get(REALM_NOT_BEFORE) as { value: string } | undefined;
    return row ? Number(row.value) : 0;
  }

  async setRealmNotBefore(at: number): Promise<void> {
    this.d
      .sql('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value')
      .run(REALM_NOT_BEFORE, String(at));
  }

  async getOrCreateSecret(name: string, value: string): Promise<string> {
    return this.d.write(() => {
      this.d.sql('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(secretName(name), value);
      return (this.d.sql('SELECT value FROM settings WHERE name = ?').get(secretName(name)) as { value: string }).value;
    });
  }
}

class SqliteAuditStore implements AuditStore {
  constructor(private readonly d: SqliteDatabase) {}

  async record(event: AuditEvent): Promise<void> {
    this.d.write(() => this.d.insertAudit(event), 'relaxed');
  }

  async list(filter: AuditFilter): Promise<AuditRecord[]> {
    const rows = this.d
      .sql(
        `SELECT * FROM audit_events
          WHERE (@since IS NULL OR at >= @since) AND (@until IS NULL OR at < @until)
            AND (@userId IS NULL OR user_id = @userId) AND (@type IS NULL OR type = @type)
            AND (@afterAt IS NULL OR at < @afterAt OR (at = @afterAt AND id < @afterId))
          ORDER BY at DESC, id DESC LIMIT @limit`,
      )
      .all({
        since: filter.since ?? null,
        until: filter.until ?? null,
        userId: filter.userId ?? null,
        type: filter.type ?? null,
        afterAt: filter.after?.at ?? null,
        afterId: filter.after?.id ?? null,
        limit: filter.limit,
      }) as AuditRow[];
    return rows.map(toAuditRecord);
  }

  async histogram(query: AuditHistogramQuery): Promise<AuditHistogramCount[]> {
    if (query.types.length === 0) return [];
    return this.d
      .sql(
        `SELECT type, CAST((at - @since) / @bucketMs AS INTEGER) AS bucket, COUNT(*) AS count FROM audit_events
          WHERE at >= @since AND at < @until AND type IN (SELECT value FROM json_each(@types))
          GROUP BY type, bucket ORDER BY bucket, type`,
      )
      .all({ since: query.since, until: query.until, bucketMs: query.bucketMs, types: JSON.stringify(query.types) }) as AuditHistogramCount[];
  }
}

/** Pages handed back to the file system after each purge batch (a few ms of work at most). */
const VACUUM_PAGES_PER_BATCH = 1024;

/** The embedded default store: one SQLite file (see {@link SqliteDatabase}). */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly #d: SqliteDatabase;
  readonly users: UserStore;
  readonly sessions: SqliteSessionStore;
  readonly keys: KeyStore;
  readonly settings: SettingsStore;
  readonly counters: SqliteCounterStore;
  readonly audit: AuditStore;
  readonly admins: AdminStore;
  readonly #checkpointer: Checkpointer | undefined;

  constructor(options: SqliteStoreOptions) {
    this.#d = new SqliteDatabase(options.filename);
    this.users = new SqliteUserStore(this.#d);
    this.sessions = new SqliteSessionStore(this.#d, { fdatasync: options.fdatasync });
    this.keys = new SqliteKeyStore(this.#d);
    this.settings = new SqliteSettingsStore(this.#d);
    this.counters = new SqliteCounterStore(this.#d);
    this.audit = new SqliteAuditStore(this.#d);
    this.admins = new SqliteAdminStore(this.#d);
    if (options.checkpointIntervalMs !== undefined && options.filename !== ':memory:') {
      this.#setAutocheckpoint(FALLBACK_AUTOCHECKPOINT_PAGES);
      this.#checkpointer = new Checkpointer(options.filename, options.checkpointIntervalMs, () =>
        this.#setAutocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES),
      );
    }
  }

  #setAutocheckpoint(pages: number): void {
    if (this.#d.db.open) this.#d.db.pragma(`wal_autocheckpoint = ${pages}`);
  }

  async migrate(): Promise<void> {
    const { db } = this.#d;
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    sqliteMigrations.forEach((sql, index) => {
      const version = index + 1;
      this.#d.write(() => {
        if (db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(version)) return;
        db.exec(sql);
        db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, Date.now());
      });
    });
  }

  async pendingMigrations(): Promise<number> {
    const { db } = this.#d;
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!table) return sqliteMigrations.length;
    const { n } = db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number };
    return sqliteMigrations.length - n;
  }

  /** Another process held the write lock past `busy_timeout`: worth a retry, not a bug. */
  isUnavailableError(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    if (error instanceof WritesStoppedError) return true;
    return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
  }

  async ping(): Promise<void> {
    if (this.#d.stopped) throw this.#d.stopped;
    this.#d.sql('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.sessions.flush();
    this.sessions.close();
    await this.#checkpointer?.stop();
    this.#d.close();
  }

  // Purges commit relaxed: a purge lost to a power cut deletes the same rows again next time, and
  // an fsync per batch would hold the event loop (SQLite runs on it) for as long as the disk takes.
  async purgeExpired(before: number, limit: number): Promise<number> {
    const purger = this.#d;
    const deleted = purger.write(() => {
      const sessions = purger
        .sql(
          `DELETE FROM sessions WHERE id IN (
             SELECT id FROM sessions WHERE COALESCE(ended_at, MIN(idle_expires_at, max_expires_at)) < ? LIMIT ?)`,
        )
        .run(before, limit).changes;
      const counters = purger
        .sql('DELETE FROM failure_counters WHERE key IN (SELECT key FROM failure_counters WHERE reset_at < ? LIMIT ?)')
        .run(before, limit).changes;
      if (counters > 0) this.counters.forgetKept();
      return sessions + counters;
    }, 'relaxed');
    if (deleted > 0) purger.db.pragma(`incremental_vacuum(${VACUUM_PAGES_PER_BATCH})`);
    return deleted;
  }

  async purgeAudit(before: number, limit: number): Promise<number> {
    const purger = this.#d;
    return purger.write(
      () => purger.sql('DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)').run(before, limit).changes,
      'relaxed',
    );
  }
}
