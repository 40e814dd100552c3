import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { RotationRequest, Store } from '../port.js';
import { describeStoreConformance } from '../test/conformance.js';
import { PostgresStore } from './postgres-store.js';

const databaseUrl = process.env.TEST_DATABASE_URL;
const skip = databaseUrl
  ? false
  : 'TEST_DATABASE_URL is not set: point it at a PostgreSQL database (e.g. postgres://postgres@127.0.0.1:5432/test) to run the PostgreSQL store tests';

const T0 = Date.UTC(2031, 0, 1);
const IDLE = 1_800_000;
const source = { address: '127.0.0.1', userAgent: 'postgres-store.test' };

function newHash(): string {
  return createHash('sha256').update(randomUUID()).digest('hex');
}

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

async function seedSession(store: Store): Promise<{ sessionId: string; token: string }> {
  const user = await store.createUser({ id: randomUUID(), username: `app-${randomUUID()}`, passwordHash: 'h', createdAt: T0 });
  const token = newHash();
  const session = await store.createSession({
    id: randomUUID(),
    userId: user.id,
    createdAt: T0,
    idleExpiresAt: T0 + IDLE,
    maxExpiresAt: T0 + 36_000_000,
    source,
    refreshTokenHash: token,
  });
  return { sessionId: session.id, token };
}

function rotation(presentedHash: string, successorHash: string, now: number, graceMs = 10_000): RotationRequest {
  return { presentedHash, successorHash, now, idleMs: IDLE, graceMs, source };
}

describe('PostgresStore', { skip }, () => {
  describeStoreConformance('postgres', async () => {
    const schema = uniqueSchema();
    const store = new PostgresStore({ connectionString: databaseUrl as string, schema, poolSize: 8 });
    return {
      store,
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
        await test(a, b);
      } finally {
        await a.close();
        await b.close();
        await dropSchema(schema);
      }
    }

    it('50 rotations of one token raced across two pools rotate exactly once; the rest replay', async () => {
      await withTwoInstances(async (a, b) => {
        const { sessionId, token } = await seedSession(a);
        const successor = newHash();
        const outcomes = await Promise.all(
          Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).rotateRefreshToken(rotation(token, successor, T0 + 1000))),
        );
        const kinds = outcomes.map((outcome) => outcome.kind);
        assert.equal(kinds.filter((kind) => kind === 'rotated').length, 1, kinds.join(','));
        assert.equal(kinds.filter((kind) => kind === 'replayed').length, 49, kinds.join(','));
        assert.equal((await a.findRefreshToken(successor))?.live, true);
        assert.equal((await b.findRefreshToken(token))?.live, false);
        assert.equal((await b.getSession(sessionId))?.endedAt, null);
      });
    });

    it('with a grace of 0, 50 raced rotations across two pools still rotate exactly once', async () => {
      await withTwoInstances(async (a, b) => {
        const { sessionId, token } = await seedSession(a);
        const successor = newHash();
        const outcomes = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            (i % 2 === 0 ? a : b).rotateRefreshToken(rotation(token, successor, T0 + 1000, 0)),
          ),
        );
        const kinds = outcomes.map((outcome) => outcome.kind);
        assert.equal(kinds.filter((kind) => kind === 'rotated').length, 1, kinds.join(','));
        assert.equal(kinds.filter((kind) => kind === 'rotated' || kind === 'reused' || kind === 'session_ended').length, 50);
        assert.equal((await b.getSession(sessionId))?.endReason, 'reuse');
      });
    });

    it('a token consumed on one instance and replayed on the other after the grace window is reuse', async () => {
      await withTwoInstances(async (a, b) => {
        const { sessionId, token } = await seedSession(a);
        const successor = newHash();
        assert.equal((await a.rotateRefreshToken(rotation(token, successor, T0 + 1000))).kind, 'rotated');
        assert.equal((await b.rotateRefreshToken(rotation(token, successor, T0 + 60_000))).kind, 'reused');
        assert.equal((await a.getSession(sessionId))?.endReason, 'reuse');
        assert.equal((await a.rotateRefreshToken(rotation(successor, newHash(), T0 + 61_000))).kind, 'session_ended');
        assert.equal((await a.listAudit(1))[0]?.sessionId, sessionId);
      });
    });

    it('policy, keys, secrets and failure counters written by one instance hold on the other', async () => {
      await withTwoInstances(async (a, b) => {
        await a.setRealmNotBefore(T0);
        assert.equal(await b.getRealmNotBefore(), T0);
        assert.equal(await a.getOrCreateSecret('server', 'from-a'), 'from-a');
        assert.equal(await b.getOrCreateSecret('server', 'from-b'), 'from-a');
        await b.recordFailure('user:alice', T0, 60_000);
        await a.recordFailure('user:alice', T0 + 1, 60_000);
        assert.equal((await b.getFailures('user:alice', T0 + 2)).count, 2);
      });
    });
  });

  it('rejects a schema name that is not a plain identifier', () => {
    assert.throws(
      () => new PostgresStore({ connectionString: databaseUrl as string, schema: 'x"; DROP TABLE users; --' }),
      TypeError,
    );
  });
});
