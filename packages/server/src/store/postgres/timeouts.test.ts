import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { ManualClock } from '../../clock.js';
import { loadConfig } from '../../config.js';
import { startServer, type RunningServer } from '../../server.js';
import { BASE, CLIENT, TEST_ACTOR, TEST_ARGON2 } from '../../test/harness.js';
import { addClientApplication } from '../../credentials/client-applications.js';

const databaseUrl = process.env.TEST_DATABASE_URL;
const skip = databaseUrl
  ? false
  : 'TEST_DATABASE_URL is not set: point it at a PostgreSQL database (e.g. postgres://postgres@127.0.0.1:5432/test) to run the PostgreSQL timeout tests';

describe('PostgreSQL statement and lock timeouts', { skip }, () => {
  const schema = `t_${randomUUID().replaceAll('-', '')}`;
  let server: RunningServer;
  let locker: pg.Client;

  before(async () => {
    const config = loadConfig({
      DATABASE_URL: databaseUrl as string,
      ANTPEER_DATABASE_SCHEMA: schema,
      ANTPEER_DATABASE_LOCK_TIMEOUT: '1',
      ANTPEER_DATABASE_STATEMENT_TIMEOUT: '2',
      PORT: '0',
    });
    server = await startServer(config, { clock: new ManualClock(Date.now()), logger: pino({ level: 'silent' }), argon2: TEST_ARGON2, listen: false });
    await addClientApplication(server.auth, TEST_ACTOR, CLIENT.username, CLIENT.password);
    locker = new pg.Client({ connectionString: databaseUrl });
    await locker.connect();
  });

  after(async () => {
    await locker.query('ROLLBACK').catch(() => undefined);
    await locker.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await locker.end();
    await server.close();
  });

  const token = (body: unknown) =>
    server.app.inject({
      method: 'POST',
      url: `${BASE}/auth/token`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  it('a request blocked by a table lock answers 503 with Retry-After within the lock timeout, and the service recovers when the lock goes', async () => {
    const login = (await token(CLIENT)).json<{ refresh_token: string }>();
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${schema}".sessions IN ACCESS EXCLUSIVE MODE`);
    const started = Date.now();
    const blocked = await token({ refresh_token: login.refresh_token, grant_type: 'refresh_token' });
    const waited = Date.now() - started;
    assert.equal(blocked.statusCode, 503, blocked.body);
    assert.equal(blocked.json<{ error: string }>().error, 'temporarily_unavailable');
    assert.ok(Number(blocked.headers['retry-after']) >= 1);
    assert.ok(waited < 4000, `the request waited ${waited} ms`);
    await locker.query('ROLLBACK');
    const after = await token({ refresh_token: login.refresh_token, grant_type: 'refresh_token' });
    assert.equal(after.statusCode, 200, 'the refused request changed nothing: the same token still rotates');
  });
});
