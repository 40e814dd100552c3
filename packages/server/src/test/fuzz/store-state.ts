/**
 * What a request could have changed in the store, read with plain SQL beside the server (its
 * own connection, never the server's): a few aggregates that move whenever a user, a session, a
 * key or a setting changes, and the audit events recorded since a given one.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import pg from 'pg';
import { SQLITE_FILENAME } from '../../store/open.js';

export interface Snapshot {
  users: number;
  enabledUsers: number;
  userNotBefore: number;
  usersUpdatedAt: number;
  sessions: number;
  endedSessions: number;
  generations: number;
  /** A sum beyond 2^53, so kept exact as text. */
  idleExpiry: string;
  settings: number;
  keys: number;
  retiredKeys: number;
  administrators: number;
  consoleSessions: number;
  /** The id of the latest audit event (0: none). */
  lastAuditId: number;
}

export interface AuditRow {
  id: number;
  type: string;
  sessionId: string | null;
}

export interface StoreState {
  snapshot(): Promise<Snapshot>;
  auditAfter(id: number): Promise<AuditRow[]>;
  close(): Promise<void>;
}

/** The aggregates, in SQL both stores understand; `t` qualifies a table name. */
function snapshotSql(t: (table: string) => string): string {
  return `SELECT
    (SELECT count(*) FROM ${t('users')}) AS users,
    (SELECT coalesce(sum(CASE WHEN enabled THEN 1 ELSE 0 END), 0) FROM ${t('users')}) AS enabled_users,
    (SELECT coalesce(sum(not_before), 0) FROM ${t('users')}) AS user_not_before,
    (SELECT coalesce(max(updated_at), 0) FROM ${t('users')}) AS users_updated_at,
    (SELECT count(*) FROM ${t('sessions')}) AS sessions,
    (SELECT count(ended_at) FROM ${t('sessions')}) AS ended_sessions,
    (SELECT coalesce(sum(generation), 0) FROM ${t('sessions')}) AS generations,
    (SELECT CAST(coalesce(sum(idle_expires_at), 0) AS TEXT) FROM ${t('sessions')}) AS idle_expiry,
    (SELECT count(*) FROM ${t('settings')}) AS settings,
    (SELECT count(*) FROM ${t('signing_keys')}) AS keys,
    (SELECT count(retired_at) FROM ${t('signing_keys')}) AS retired_keys,
    (SELECT count(*) FROM ${t('administrators')}) AS administrators,
    (SELECT count(*) FROM ${t('console_sessions')}) AS console_sessions,
    (SELECT coalesce(max(id), 0) FROM ${t('audit_events')}) AS last_audit_id`;
}

function toSnapshot(row: Record<string, unknown>): Snapshot {
  const n = (name: string) => Number(row[name]);
  return {
    users: n('users'),
    enabledUsers: n('enabled_users'),
    userNotBefore: n('user_not_before'),
    usersUpdatedAt: n('users_updated_at'),
    sessions: n('sessions'),
    endedSessions: n('ended_sessions'),
    generations: n('generations'),
    idleExpiry: String(row.idle_expiry),
    settings: n('settings'),
    keys: n('keys'),
    retiredKeys: n('retired_keys'),
    administrators: n('administrators'),
    consoleSessions: n('console_sessions'),
    lastAuditId: n('last_audit_id'),
  };
}

interface RawAuditRow {
  id: number | string;
  type: string;
  session_id: string | null;
}

const toAuditRow = (row: RawAuditRow): AuditRow => ({ id: Number(row.id), type: row.type, sessionId: row.session_id });

/** A read-only connection to the SQLite file of a server's data directory. */
export function sqliteState(dataDir: string): StoreState {
  const db = new Database(join(dataDir, SQLITE_FILENAME), { readonly: true });
  const snapshot = db.prepare(snapshotSql((table) => table));
  const audit = db.prepare('SELECT id, type, session_id FROM audit_events WHERE id > ? ORDER BY id');
  return {
    snapshot: async () => toSnapshot(snapshot.get() as Record<string, unknown>),
    auditAfter: async (id) => (audit.all(id) as RawAuditRow[]).map(toAuditRow),
    close: async () => {
      db.close();
    },
  };
}

/**
 * A connection of its own to the PostgreSQL schema a server uses. A round trip that scans every
 * session costs more than the request it checks, so a statement trigger counts the writes to the
 * tables the snapshot sums, and the sums are read again only when that count moved.
 */
export async function postgresState(databaseUrl: string, schema: string): Promise<StoreState> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const s = `"${schema}"`;
  await client.query(`
    CREATE TABLE ${s}.fuzz_writes (n BIGINT NOT NULL);
    INSERT INTO ${s}.fuzz_writes VALUES (0);
    CREATE FUNCTION ${s}.fuzz_count_write() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN UPDATE ${s}.fuzz_writes SET n = n + 1; RETURN NULL; END $$;
    ${['users', 'sessions', 'settings', 'signing_keys', 'administrators', 'console_sessions']
      .map((table) => `CREATE TRIGGER fuzz_count_write AFTER INSERT OR UPDATE OR DELETE ON ${s}.${table} FOR EACH STATEMENT EXECUTE FUNCTION ${s}.fuzz_count_write();`)
      .join('\n')}
  `);
  const text = snapshotSql((table) => `${s}.${table}`);
  let sums: Snapshot | null = null;
  let writes = -1;
  return {
    async snapshot() {
      const row = (await client.query<{ n: string; last_audit_id: string }>(
        `SELECT n, (SELECT coalesce(max(id), 0) FROM ${s}.audit_events) AS last_audit_id FROM ${s}.fuzz_writes`,
      )).rows[0] as { n: string; last_audit_id: string };
      if (sums === null || Number(row.n) !== writes) {
        sums = toSnapshot((await client.query(text)).rows[0] as Record<string, unknown>);
        writes = Number(row.n);
      }
      return { ...sums, lastAuditId: Number(row.last_audit_id) };
    },
    auditAfter: async (id) =>
      (await client.query<RawAuditRow>(`SELECT id, type, session_id FROM ${s}.audit_events WHERE id > $1 ORDER BY id`, [id])).rows.map(toAuditRow),
    close: () => client.end(),
  };
}
