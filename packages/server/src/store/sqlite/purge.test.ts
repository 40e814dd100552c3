import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { purgeStore } from '../purge.js';
import { SqliteStore } from './sqlite-store.js';

const T0 = Date.UTC(2031, 0, 1);
const SESSIONS = 20_000;

describe('purging a SQLite store', () => {
  it('deletes in bounded batches through indexes and hands the space back, so the file shrinks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'antpeer-purge-'));
    const filename = join(dir, 'antpeer.sqlite');
    try {
      const store = new SqliteStore({ filename });
      await store.migrate();
      await store.users.create({ id: 'u1', username: 'app', passwordHash: 'h', createdAt: T0 });
      const seed = new Database(filename);
      const insert = seed.prepare(
        `INSERT INTO sessions (id, user_id, created_at, idle_expires_at, max_expires_at, last_refresh_at, ended_at, end_reason,
           source_address, user_agent, generation, token_issued_at)
         VALUES (?, 'u1', ?, ?, ?, ?, ?, 'logout', '203.0.113.1', ?, 7, ?)`,
      );
      seed.transaction(() => {
        for (let i = 0; i < SESSIONS; i++) insert.run(randomUUID(), T0, T0 + 1000, T0 + 2000, T0, T0 + 10, 'agent '.repeat(20), T0);
      })();
      const plan = seed.prepare(
        'EXPLAIN QUERY PLAN SELECT id FROM sessions WHERE COALESCE(ended_at, MIN(idle_expires_at, max_expires_at)) < ? LIMIT ?',
      ).all(T0, 10) as Array<{ detail: string }>;
      seed.close();
      assert.match(plan.map((row) => row.detail).join(' '), /USING INDEX sessions_purge/, 'the purge query uses its index');
      await store.close();
      const before = statSync(filename).size;

      const reopened = new SqliteStore({ filename });
      let batches = 0;
      const purge = reopened.purgeExpired.bind(reopened);
      reopened.purgeExpired = async (cutoff, limit) => {
        batches += 1;
        return purge(cutoff, limit);
      };
      const result = await purgeStore(reopened, { now: T0 + 3000, auditRetentionMs: 0, batchSize: 500, maxBatches: 1000 });
      assert.equal(result.expired, SESSIONS);
      assert.equal(batches, SESSIONS / 500 + 1, 'one bounded batch at a time, and one that finds nothing left');
      await reopened.close();
      const db = new Database(filename);
      db.pragma('wal_checkpoint(TRUNCATE)');
      const freelist = db.pragma('freelist_count', { simple: true }) as number;
      db.close();
      assert.ok(freelist < 64, `${freelist} free pages left in the file`);
      const afterSize = statSync(filename).size;
      assert.ok(afterSize < before / 2, `the file went from ${before} to ${afterSize} bytes`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
