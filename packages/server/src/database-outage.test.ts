import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { PostgresStore } from './store/postgres/postgres-store.js';
import { isPostgresUnavailableError } from './store/postgres/unavailable.js';
import { call, login, refresh, type Answer } from './test/http.js';
import {
  ISSUER,
  OWNER,
  SKIP_WITHOUT_DATABASE,
  TEST_DATABASE_URL,
  dropSchema,
  newSecret,
  sql,
  startDatabaseProxy,
  uniqueSchema,
  type DatabaseProxy,
} from './test/postgres.js';
import { startServe, waitFor, type ServeProcess } from './test/process.js';

describe('isPostgresUnavailableError', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  test('connection failures, shutdowns, class 08 and pool connect timeouts are unavailability', () => {
    const refused = Object.assign(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], ''), {
      code: 'ECONNREFUSED',
    });
    for (const error of [
      refused,
      new AggregateError([withCode('ECONNREFUSED')], ''),
      withCode('ECONNRESET'),
      withCode('57P01', 'terminating connection due to administrator command'),
      withCode('57P03', 'the database system is starting up'),
      withCode('08006'),
      withCode('08001'),
      withCode('53300'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('wrapped', { cause: withCode('ECONNRESET') }),
    ]) {
      assert.equal(isPostgresUnavailableError(error), true, String((error as Error).message || (error as { code?: string }).code));
    }
  });

  test('bugs and data errors are not', () => {
    for (const error of [
      withCode('23505', 'duplicate key value violates unique constraint'),
      withCode('42P01', 'relation does not exist'),
      withCode('22P02'),
      new TypeError('x is not a function'),
      null,
      'ECONNREFUSED',
    ]) {
      assert.equal(isPostgresUnavailableError(error), false, String(error));
    }
  });
});

describe('PostgresStore when the database goes away', { skip: SKIP_WITHOUT_DATABASE, concurrency: 1 }, () => {
  let proxy: DatabaseProxy;
  before(async () => {
    proxy = await startDatabaseProxy();
  });
  after(async () => {
    await proxy?.close();
  });

  test('a database that accepts connections but never answers fails a request within the connect timeout, as unavailable', async () => {
    const schema = uniqueSchema();
    const store = new PostgresStore({ connectionString: proxy.url, schema, connectTimeoutMs: 300 });
    try {
      await proxy.cut('hang');
      const started = Date.now();
      const error = await store.ping().then(
        () => assert.fail('ping must fail'),
        (thrown: unknown) => thrown,
      );
      assert.ok(Date.now() - started < 3000);
      assert.equal(store.isUnavailableError(error), true, String(error));
    } finally {
      await proxy.restore();
      await store.close();
    }
  });

  test('a connection terminated in the middle of a rotation fails it as unavailable, crashes nothing, and the store recovers', async () => {
    const schema = uniqueSchema();
    const store = new PostgresStore({ connectionString: TEST_DATABASE_URL as string, schema, poolSize: 2 });
    const locker = new pg.Client({ connectionString: TEST_DATABASE_URL });
    try {
      await store.migrate();
      await store.users.create({ id: 'u1', username: 'u1', passwordHash: 'h', createdAt: 1 });
      await store.sessions.create(
        { id: 's1', userId: 'u1', createdAt: 1, tokenIssuedAt: 1, idleExpiresAt: 10_000, maxExpiresAt: 20_000, source: { address: '', userAgent: '' } },
        10,
      );
      // Hold the session row so the rotation waits inside its transaction, then kill its backend.
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${schema}".sessions WHERE id = 's1' FOR UPDATE`);
      const rotation = store.sessions.apply({
        sessionId: 's1',
        expectedGeneration: 0,
        patch: { generation: 1, tokenIssuedAt: 100, previousIssuedAt: 1, idleExpiresAt: 1100, lastRefreshAt: 100 },
      });
      const outcome = rotation.then(
        () => null,
        (error: unknown) => error,
      );
      await waitFor('the rotation to wait on the row lock', async () => {
        const rows = await sql<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE application_name = 'antpeer-auth' AND wait_event_type = 'Lock' AND query LIKE $1`,
          [`%"${schema}".sessions%`],
        );
        return rows[0];
      });
      await sql(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'antpeer-auth' AND query LIKE $1`,
        [`%"${schema}"%`],
      );
      const error = await outcome;
      assert.ok(error, 'the rotation failed');
      assert.equal(store.isUnavailableError(error), true, String(error));
      await locker.query('ROLLBACK');
      // Nothing rotated, nothing revoked; the pool replaced the dead connection.
      const session = await waitFor('the store to answer again', () => store.sessions.get('s1').catch(() => undefined));
      assert.equal(session?.generation, 0);
      assert.equal(session?.endedAt, null);
    } finally {
      await locker.end().catch(() => undefined);
      await store.close();
      await dropSchema(schema);
    }
  });
});

describe('a server whose database goes away and comes back', { skip: SKIP_WITHOUT_DATABASE, concurrency: 1 }, () => {
  const schema = uniqueSchema();
  let proxy: DatabaseProxy;
  let server: ServeProcess;

  before(async () => {
    proxy = await startDatabaseProxy();
    server = await startServe({
      env: {
        DATABASE_URL: proxy.url,
        ANTPEER_DATABASE_SCHEMA: schema,
        ANTPEER_SECRET: newSecret(),
        ANTPEER_ISSUER: ISSUER,
        ANTPEER_BOOTSTRAP_USERNAME: OWNER.username,
        ANTPEER_BOOTSTRAP_PASSWORD: OWNER.password,
        ANTPEER_SOURCE_FAILURE_LIMIT: '100000',
      },
    });
  });

  after(async () => {
    await server?.stop('SIGKILL');
    await proxy?.close();
    await dropSchema(schema);
  });

  function assertUnavailable(answer: Answer): void {
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'temporarily_unavailable');
    assert.ok(Number(answer.headers.get('retry-after')) >= 1, 'Retry-After says when to come back');
  }

  for (const mode of ['reset', 'refuse'] as const) {
    test(`while the database is cut (${mode}) requests get 503 + Retry-After and /readyz says unavailable; refreshing clients lose nothing`, async () => {
      // Clients refreshing in a loop all along, retrying the same token on a 503 as the client library does.
      const sessions = await Promise.all(Array.from({ length: 6 }, () => login(server.tokenUrl, OWNER.username, OWNER.password)));
      const statuses = new Map<number, number>();
      let running = true;
      const clients = sessions.map(async (session) => {
        let token = session.refresh_token;
        while (running) {
          const answer = await refresh(server.tokenUrl, token);
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          if (answer.status === 200) token = String(answer.body.refresh_token);
          else if (answer.status === 503) assertUnavailable(answer);
          else assert.fail(`refresh answered ${answer.status} ${JSON.stringify(answer.body)}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return token;
      });

      await waitFor('some refreshes to succeed first', () => ((statuses.get(200) ?? 0) >= 12 ? true : undefined));
      await proxy.cut(mode);
      await waitFor('/readyz to say unavailable', async () => {
        const ready = await call('GET', `${server.origin}/readyz`);
        return ready.status === 503 ? ready : undefined;
      });
      assertUnavailable(await call('POST', server.tokenUrl, OWNER));
      await waitFor('refreshes to get 503', () => ((statuses.get(503) ?? 0) >= 3 ? true : undefined));
      assert.equal((await call('GET', `${server.origin}/healthz`)).status, 200, 'the process itself is alive');

      await proxy.restore();
      await waitFor('/readyz to recover by itself', async () => {
        const ready = await call('GET', `${server.origin}/readyz`);
        return ready.status === 200 ? true : undefined;
      });
      const afterRecovery = statuses.get(200) ?? 0;
      await waitFor('refreshes to succeed again', () => ((statuses.get(200) ?? 0) >= afterRecovery + 12 ? true : undefined));
      running = false;
      const finalTokens = await Promise.all(clients);

      assert.deepEqual([...statuses.keys()].sort(), [200, 503], `only successes and 503s: ${JSON.stringify([...statuses])}`);
      for (const token of finalTokens) assert.equal((await refresh(server.tokenUrl, token)).status, 200, 'every session is alive');
      const ended = await sql<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}".sessions WHERE ended_at IS NOT NULL`);
      assert.equal(ended[0]?.n, '0', 'no session was revoked');
      assert.equal(server.child.exitCode, null, 'the server never crashed');
      assert.doesNotMatch(server.stderr(), /uncaught|unhandled/i);
    });
  }
});
