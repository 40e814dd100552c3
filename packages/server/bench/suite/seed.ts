// Live sessions in bulk, straight into a store the server has already migrated: filler for the
// "1,000,000 sessions vs 10,000" rows. They belong to 10,000 users of their own (none of them the
// bench's client application, whose sessions the load refreshes) and stay live for a day. Seeding
// runs while the server is idle; each call adds the sessions numbered [from, to).
import Database from 'better-sqlite3';
import pg from 'pg';

const FILLER_USERS = 10_000;
const DAY_MS = 86_400_000;

/**
 * SQLite: one transaction, one INSERT … SELECT over a recursive counter (no row crosses into JS).
 * The counter's bounds are cast: better-sqlite3 binds a JS number as REAL, which would name rows
 * 'seed-user-1.0'.
 */
export function seedSqlite(filename: string, from: number, to: number): void {
  const db = new Database(filename);
  try {
    db.pragma('busy_timeout = 30000');
    const now = Date.now();
    db.transaction(() => {
      db.prepare(
        `INSERT OR IGNORE INTO users (id, username, password_hash, created_at, updated_at)
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @users)
         SELECT 'seed-user-' || i, 'seed-user-' || i, 'not-a-hash', @now, @now FROM n`,
      ).run({ users: FILLER_USERS, now });
      db.prepare(
        `INSERT INTO sessions (id, user_id, created_at, idle_expires_at, max_expires_at, last_refresh_at,
           source_address, user_agent, generation, token_issued_at, rotation_window_start)
         WITH RECURSIVE n(i) AS (SELECT CAST(@from AS INTEGER) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @to)
         SELECT 'seed-session-' || i, 'seed-user-' || (i % CAST(@users AS INTEGER)), @now, @idle, @max, @now,
                '10.0.0.1', 'seed', 0, @now, @now FROM n`,
      ).run({ from, to, users: FILLER_USERS, now, idle: now + DAY_MS, max: now + 30 * DAY_MS });
      // Each filler user's bound of its active sessions (see SessionStore.create) covers what it got here.
      db.prepare(`UPDATE users SET live_sessions_bound = live_sessions_bound + @each WHERE id LIKE 'seed-user-%'`).run({ each: Math.ceil((to - from) / FILLER_USERS) });
    }).immediate();
    // Fresh statistics, and the rows in the database file rather than a WAL of hundreds of MB
    // waiting for the server's checkpoints: as a long-running store would have them.
    db.exec('ANALYZE');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** PostgreSQL: one INSERT … SELECT over generate_series per table, then ANALYZE. */
export async function seedPostgres(connectionString: string, schema: string, from: number, to: number): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const s = `"${schema}"`;
    const now = Date.now();
    await client.query(
      `INSERT INTO ${s}.users (id, username, password_hash, created_at, updated_at)
       SELECT 'seed-user-' || i, 'seed-user-' || i, 'not-a-hash', $2, $2 FROM generate_series(0, $1 - 1) i
       ON CONFLICT DO NOTHING`,
      [FILLER_USERS, now],
    );
    await client.query(
      `INSERT INTO ${s}.sessions (id, user_id, created_at, idle_expires_at, max_expires_at, last_refresh_at,
         source_address, user_agent, generation, token_issued_at, rotation_window_start)
       SELECT 'seed-session-' || i, 'seed-user-' || (i % $3), $4, $5, $6, $4, '10.0.0.1', 'seed', 0, $4, $4
         FROM generate_series($1::bigint, $2::bigint - 1) i`,
      [from, to, FILLER_USERS, now, now + DAY_MS, now + 30 * DAY_MS],
    );
    // Each filler user's bound of its active sessions (see SessionStore.create) covers what it got here.
    await client.query(`UPDATE ${s}.users SET live_sessions_bound = live_sessions_bound + $1 WHERE id LIKE 'seed-user-%'`, [Math.ceil((to - from) / FILLER_USERS)]);
    await client.query(`ANALYZE ${s}.sessions, ${s}.users`);
  } finally {
    await client.end();
  }
}
