import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { NewSession, Session, SessionChange, Store } from '../port.js';
import { describeStoreConformance } from '../test/conformance.js';
import { listAudit, revocation, rotation, signingKey } from '../test/harness.js';
import { PostgresStore } from './postgres-store.js';

const databaseUrl = process.env.TEST_DATABASE_URL;
const skip = databaseUrl
  ? false
  : 'TEST_DATABASE_URL is not set: point it at a PostgreSQL database (e.g. postgres://postgres@127.0.0.1:5432/test) to run the PostgreSQL store tests';

const T0 = Date.UTC(2031, 0, 1);
const IDLE = 1_800_000;
const source = { address: '127.0.0.1', userAgent: 'postgres-store.test' };

/** A schema of its own for each store under test, so runs (and parallel test files) never collide. */
function uniqueSchema(): string {
  return `antpeer_test_${randomBytes(6).toString('hex')}`;
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

function newSession(userId: string, at = T0): NewSession {
  return { id: randomUUID(), userId, createdAt: at, tokenIssuedAt: at, idleExpiresAt: at + IDLE, maxExpiresAt: at + 36_000_000, source };
}

async function seedSession(store: Store): Promise<Session> {
  const user = await store.users.create({ id: randomUUID(), username: `app-${randomUUID()}`, passwordHash: 'h', createdAt: T0 });
  const session = await store.sessions.create(newSession(user.id), 10);
  assert.ok(session);
  return session;
}

describe('PostgresStore', { skip }, () => {
  describeStoreConformance('postgres', async () => {
    const schema = uniqueSchema();
    const store = new PostgresStore({ connectionString: databaseUrl as string, schema, poolSize: 8 });
    return {
      store,
      reopen: async () => new PostgresStore({ connectionString: databaseUrl as string, schema, poolSize: 2 }),
      async cleanup() {
        await store.close();
        await dropSchema(schema);
      },
    };
  });

  describe('two instances on one schema', () => {
    async function withTwoInstances(test: (a: PostgresStore, b: PostgresStore) => Promise<void>): Promise<void> {
      const schema = uniqueSchema();
      const a = new PostgresStore({ connectionString: databaseUrl as string, schema, poolSize: 10 });
      const b = new PostgresStore({ connectionString: databaseUrl as string, schema, poolSize: 10 });
      try {
        // Both start at once, as several servers booting together would.
        await Promise.all([a.migrate(), b.migrate(), a.migrate(), b.migrate()]);
        // Open every connection first, so the races below are not serialised by connection setup.
        await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).users.count()));
        await test(a, b);
      } finally {
        await a.close();
        await b.close();
        await dropSchema(schema);
      }
    }

    it('50 refreshes decided from one snapshot, raced across two pools, apply exactly once', async () => {
      await withTwoInstances(async (a, b) => {
        const session = await seedSession(a);
        const changes = Array.from({ length: 50 }, (_, i) => rotation(session, T0 + 1000 + i));
        const applied = await Promise.all(changes.map((change, i) => (i % 2 === 0 ? a : b).sessions.apply(change)));
        assert.equal(applied.filter(Boolean).length, 1, applied.map(Number).join(''));
        const winner = changes[applied.indexOf(true)] as SessionChange;
        assert.deepEqual(await b.sessions.get(session.id), { ...session, ...winner.patch });
      });
    });

    it('refreshes and reuse detections raced across two pools: one applies, with an audit event only if it is a revocation', async () => {
      await withTwoInstances(async (a, b) => {
        const session = await seedSession(a);
        const changes = Array.from({ length: 50 }, (_, i) =>
          i % 2 === 0 ? rotation(session, T0 + 1000 + i) : revocation(session, T0 + 1000 + i, source, `racer ${i}`),
        );
        const applied = await Promise.all(changes.map((change, i) => (i % 4 < 2 ? a : b).sessions.apply(change)));
        assert.equal(applied.filter(Boolean).length, 1, applied.map(Number).join(''));
        const winner = changes[applied.indexOf(true)] as SessionChange;
        assert.deepEqual(await a.sessions.get(session.id), { ...session, ...winner.patch });
        assert.deepEqual(await listAudit(b), winner.audit ? [winner.audit] : []);
      });
    });

    it('a change applied on one instance makes the same decision on the other miss', async () => {
      await withTwoInstances(async (a, b) => {
        const session = await seedSession(a);
        assert.equal(await a.sessions.apply(rotation(session, T0 + 1000)), true);
        assert.equal(await b.sessions.apply(revocation(session, T0 + 60_000)), false);
        assert.equal((await b.sessions.getContext(session.id))?.session.endedAt, null);
        assert.deepEqual(await a.audit.list({ limit: 10 }), []);
      });
    });

    it('20 logins of one user raced across two pools with a limit of 5 active sessions start exactly 5', async () => {
      await withTwoInstances(async (a, b) => {
        const user = await a.users.create({ id: randomUUID(), username: 'limited', passwordHash: 'h', createdAt: T0 });
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).sessions.create(newSession(user.id, T0 + i), 5)),
        );
        assert.equal(results.filter((session) => session !== null).length, 5);
        assert.equal((await b.sessions.listActive(T0 + 20, { userId: user.id, limit: 1000 })).length, 5);
      });
    });

    it('counter updates raced across two pools, over overlapping keys in any order, are all counted', async () => {
      await withTwoInstances(async (a, b) => {
        const increment = (store: Store, keys: string[]) =>
          store.counters.update(keys, (current) => ({
            result: undefined,
            writes: new Map(keys.map((key) => [key, { count: (current.get(key)?.count ?? 0) + 1, resetAt: T0 + 60_000 }])),
          }));
        await Promise.all(Array.from({ length: 50 }, (_, i) => increment(i % 2 === 0 ? a : b, i % 4 < 2 ? ['x', 'y'] : ['y', 'x'])));
        assert.deepEqual(
          await b.counters.read(['x', 'y']),
          new Map([
            ['x', { count: 50, resetAt: T0 + 60_000 }],
            ['y', { count: 50, resetAt: T0 + 60_000 }],
          ]),
        );
      });
    });

    it('policy, keys and secrets written by one instance hold on the other', async () => {
      await withTwoInstances(async (a, b) => {
        await a.settings.setRealmNotBefore(T0);
        assert.equal(await b.settings.getRealmNotBefore(), T0);
        assert.equal(await a.settings.getOrCreateSecret('server', 'from-a'), 'from-a');
        assert.equal(await b.settings.getOrCreateSecret('server', 'from-b'), 'from-a');
        await Promise.all([a.keys.addRetiringOthers(signingKey('from-a', T0)), b.keys.addRetiringOthers(signingKey('from-b', T0))]);
        const keys = await b.keys.list();
        assert.equal(keys.length, 2);
        assert.equal(keys.filter((key) => key.retiredAt === null).length, 1, 'one signer, whichever instance added last');
      });
    });
  });

  it('rejects a schema name that is not a plain identifier', () => {
    assert.throws(() => new PostgresStore({ connectionString: databaseUrl as string, schema: 'x"; DROP TABLE users; --' }), TypeError);
  });
});

describe('PostgresStore without a database', () => {
  it('a database that refuses connections is reported as unavailable, not as a bug', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const store = new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 2000 });
    try {
      const error = await store.ping().then(
        () => assert.fail('ping must fail'),
        (thrown: unknown) => thrown,
      );
      assert.equal(store.isUnavailableError(error), true, String(error));
      const lookup = await store.users.findByUsername('anyone').then(
        () => assert.fail('a lookup must fail'),
        (thrown: unknown) => thrown,
      );
      assert.equal(store.isUnavailableError(lookup), true, String(lookup));
    } finally {
      await store.close();
    }
  });
});
