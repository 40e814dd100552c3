import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SQLITE_FILENAME } from '../store/open.js';
import type { Store } from '../store/port.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { SKIP_WITHOUT_DATABASE, TEST_DATABASE_URL, dropSchema, newSecret, uniqueSchema } from '../test/postgres.js';
import { makeDataDir, runCli, startServe, waitFor } from '../test/process.js';

const DAY = 86_400_000;

interface Seeded {
  expiredSession: string;
  liveSession: string;
}

/** Rows due for purging (an expired session, a lapsed counter, a 100-day-old audit event) beside rows that are not. */
async function seed(store: Store): Promise<Seeded> {
  // The purge command reads the real clock, so the rows are placed around it.
  const now = Date.now();
  const user = await store.users.create({ id: randomUUID(), username: `app-${randomUUID()}`, passwordHash: 'h', createdAt: now - 2 * DAY });
  const session = async (at: number, idle: number) => {
    const created = await store.sessions.create(
      {
        id: randomUUID(),
        userId: user.id,
        createdAt: at,
        tokenIssuedAt: at,
        idleExpiresAt: at + idle,
        maxExpiresAt: at + 10 * idle,
        source: { address: '192.0.2.9', userAgent: 'purge.test' },
      },
      10,
    );
    assert.ok(created);
    return created;
  };
  const expired = await session(now - DAY, 60_000);
  const live = await session(now, DAY);
  await store.counters.update(['lapsed', 'counting'], () => ({
    result: undefined,
    writes: new Map([
      ['lapsed', { count: 1, resetAt: now - DAY + 1000 }],
      ['counting', { count: 1, resetAt: now + DAY }],
    ]),
  }));
  // Of type "test", so they can be told from the events the server records itself (its first client application).
  const audit = (at: number, detail: string) =>
    store.audit.record({ at, type: 'test', userId: null, sessionId: null, sourceAddress: '', userAgent: '', detail });
  await audit(now - 100 * DAY, 'old');
  await audit(now - 10 * DAY, 'recent');
  return { expiredSession: expired.id, liveSession: live.id };
}

async function assertPurged(store: Store, seeded: Seeded): Promise<void> {
  assert.equal(await store.sessions.get(seeded.expiredSession), null);
  assert.ok(await store.sessions.get(seeded.liveSession));
  assert.deepEqual([...(await store.counters.read(['lapsed', 'counting'])).keys()], ['counting']);
  assert.deepEqual((await store.audit.list({ type: 'test', limit: 10 })).map((event) => event.detail), ['recent']);
}

describe('purging expired rows and old audit events', { concurrency: 2 }, () => {
  test('antpeer-auth purge on PostgreSQL deletes what is due, in batches, and keeps the rest', { skip: SKIP_WITHOUT_DATABASE }, async () => {
    const schema = uniqueSchema();
    const store = new PostgresStore({ connectionString: TEST_DATABASE_URL as string, schema, poolSize: 2 });
    try {
      await store.migrate();
      const seeded = await seed(store);
      const env = { DATABASE_URL: TEST_DATABASE_URL as string, ANTPEER_DATABASE_SCHEMA: schema, ANTPEER_SECRET: newSecret() };
      const result = await runCli(['purge', '--batch', '1'], { env });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /purged 2 expired .* and 1 audit event\(s\) \(postgres\)/);
      await assertPurged(store, seeded);
      const again = await runCli(['purge'], { env });
      assert.match(again.stdout, /purged 0 .* and 0 audit/);
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  test('antpeer-auth purge on SQLite honours ANTPEER_AUDIT_RETENTION, and 0 keeps audit events forever', async () => {
    const data = makeDataDir();
    try {
      const store = new SqliteStore({ filename: join(data.dir, SQLITE_FILENAME) });
      await store.migrate();
      const seeded = await seed(store);
      const kept = await runCli(['purge'], { dataDir: data.dir, env: { ANTPEER_AUDIT_RETENTION: '0' } });
      assert.equal(kept.code, 0, kept.stderr);
      assert.equal((await store.audit.list({ type: 'test', limit: 10 })).length, 2);
      const result = await runCli(['purge'], { dataDir: data.dir, env: { ANTPEER_AUDIT_RETENTION: '30' } });
      assert.equal(result.code, 0, result.stderr);
      await assertPurged(store, seeded);
      await store.close();
    } finally {
      data.cleanup();
    }
  });

  test('a running server purges in the background every ANTPEER_PURGE_INTERVAL seconds', { skip: SKIP_WITHOUT_DATABASE }, async () => {
    const schema = uniqueSchema();
    const store = new PostgresStore({ connectionString: TEST_DATABASE_URL as string, schema, poolSize: 2 });
    const server = await startServe({
      env: {
        DATABASE_URL: TEST_DATABASE_URL as string,
        ANTPEER_DATABASE_SCHEMA: schema,
        ANTPEER_SECRET: newSecret(),
        ANTPEER_PURGE_INTERVAL: '1',
      },
    });
    try {
      const seeded = await seed(store);
      await waitFor('the background purge', async () => ((await store.audit.list({ type: 'test', limit: 10 })).length === 1 ? true : undefined), { timeoutMs: 10_000 });
      await waitFor('the expired session to go', async () => ((await store.sessions.get(seeded.expiredSession)) === null ? true : undefined));
      await assertPurged(store, seeded);
    } finally {
      await server.stop('SIGKILL');
      await store.close();
      await dropSchema(schema);
    }
  });
});
