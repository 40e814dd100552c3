import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SQLITE_FILENAME } from '../store/open.js';
import { startHarness, type Harness, type TokenBody } from '../test/harness.js';

async function refreshChain(h: Harness, token: string, times: number): Promise<{ token: string; statuses: number[] }> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++) {
    const answer = await h.refresh(token);
    statuses.push(answer.statusCode);
    if (answer.statusCode !== 200) break;
    token = answer.json<TokenBody>().refresh_token;
  }
  return { token, statuses };
}

/** Rows and pages the SQLite file holds, after a checkpoint. */
function footprint(h: Harness): { sessions: number; pages: number; tables: Record<string, number> } {
  const db = new Database(join(h.dataDir, SQLITE_FILENAME));
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>).map(
      (row) => row.name,
    );
    const tables = Object.fromEntries(names.map((name) => [name, (db.prepare(`SELECT COUNT(*) AS n FROM "${name}"`).get() as { n: number }).n]));
    return { sessions: tables.sessions ?? 0, pages: db.pragma('page_count', { simple: true }) as number, tables };
  } finally {
    db.close();
  }
}

describe('refreshes per session', () => {
  it('past ANTPEER_SESSION_REFRESH_LIMIT rotations in the window a refresh gets 429 with Retry-After and changes nothing; other sessions go on', async () => {
    const h = await startHarness({ ANTPEER_SESSION_REFRESH_LIMIT: '3', ANTPEER_SESSION_REFRESH_WINDOW: '60' });
    try {
      const busy = await h.login();
      const other = await h.login();
      const { token, statuses } = await refreshChain(h, busy.refresh_token, 4);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      const refused = await h.refresh(token);
      assert.equal(refused.statusCode, 429);
      assert.equal(refused.json<{ error: string }>().error, 'too_many_requests');
      assert.equal(refused.headers['retry-after'], '60');
      assert.equal((await h.refresh(other.refresh_token)).statusCode, 200, 'another session is not affected');
      h.clock.advance(60_000);
      assert.equal((await h.refresh(token)).statusCode, 200, 'the same live token rotates once the window has passed');
    } finally {
      await h.close();
    }
  });
});

describe('storage per session', () => {
  it('does not grow with the number of refreshes: one row per session, however often it rotates', async () => {
    const h = await startHarness({ ANTPEER_SESSION_REFRESH_LIMIT: '100000' });
    try {
      const once = await h.login();
      await refreshChain(h, once.refresh_token, 1);
      const before = footprint(h);
      const many = await h.login();
      const { statuses } = await refreshChain(h, many.refresh_token, 2000);
      assert.ok(statuses.every((status) => status === 200));
      const after = footprint(h);
      assert.equal(after.sessions, before.sessions + 1, 'one more session, one more row');
      for (const [table, rows] of Object.entries(after.tables)) {
        if (table === 'sessions' || table === 'audit_events' || table === 'failure_counters') continue;
        assert.equal(rows, before.tables[table], `${table} did not grow`);
      }
      assert.equal(after.tables.audit_events, (before.tables.audit_events ?? 0) + 1, 'the login is audited, the 2000 rotations are not');
      assert.ok(after.pages - before.pages <= 2, `the file grew by ${after.pages - before.pages} pages over 2000 refreshes`);
    } finally {
      await h.close();
    }
  });
});
