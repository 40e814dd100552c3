import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { BASE_PATH, call, fromSource, login, refresh, type TokenResponse } from './test/http.js';
import { ISSUER, OWNER, SKIP_WITHOUT_DATABASE, TEST_DATABASE_URL, deploymentEnv, dropSchema, newSecret, sql, uniqueSchema } from './test/postgres.js';
import { GENERATED_PASSWORD, runCli, spawnAntpeer, startServe, waitFor, waitUntilServing, type ServeProcess } from './test/process.js';

/** Every instance of one deployment, with low brute-force limits to reach in a test. */
function deployment(schema: string, secret: string, extra: Record<string, string> = {}): Record<string, string> {
  return deploymentEnv(schema, secret, { ANTPEER_LOCKOUT_THRESHOLD: '3', ANTPEER_SOURCE_FAILURE_LIMIT: '5', ...extra });
}

function description(answer: { body: Record<string, unknown> }): unknown {
  return answer.body.error_description;
}

describe('several server processes over one PostgreSQL', { skip: SKIP_WITHOUT_DATABASE, concurrency: 1 }, () => {
  const schema = uniqueSchema();
  const strictSchema = uniqueSchema();
  const secret = newSecret();
  let a: ServeProcess;
  let b: ServeProcess;
  let strictA: ServeProcess;
  let strictB: ServeProcess;
  let sourceCounter = 0;
  /** A source address of its own for each test, so failure counters never leak between tests. */
  const nextSource = () => `198.51.100.${(sourceCounter += 1)}`;

  before(async () => {
    // Four instances on two fresh schemas, all starting at once: the migrations race each other.
    [a, b, strictA, strictB] = await Promise.all([
      startServe({ env: deployment(schema, secret) }),
      startServe({ env: deployment(schema, secret) }),
      // The second deployment names its schema in the URL and refreshes strictly once (grace 0).
      startServe({ env: deployment('', secret, { DATABASE_URL: `${TEST_DATABASE_URL}?schema=${strictSchema}`, ANTPEER_REFRESH_GRACE: '0' }) }),
      startServe({ env: deployment('', secret, { DATABASE_URL: `${TEST_DATABASE_URL}?schema=${strictSchema}`, ANTPEER_REFRESH_GRACE: '0' }) }),
    ]);
  });

  after(async () => {
    await Promise.all([a, b, strictA, strictB].map((instance) => instance?.stop('SIGKILL')));
    await Promise.all([dropSchema(schema), dropSchema(strictSchema)]);
  });

  test('instances started together migrate once: every migration is recorded exactly once', async () => {
    for (const name of [schema, strictSchema]) {
      const rows = await sql<{ version: number; n: string }>(
        `SELECT version, COUNT(*) AS n FROM "${name}".schema_migrations GROUP BY version ORDER BY version`,
      );
      assert.ok(rows.length >= 1);
      assert.ok(rows.every((row) => row.n === '1'), JSON.stringify(rows));
    }
    const users = await sql<{ username: string }>(`SELECT username FROM "${schema}".users`);
    assert.deepEqual(users.map((user) => user.username), [OWNER.username], 'the bootstrap application was created once');
  });

  test('antpeer-auth migrate run by several processes at once succeeds everywhere and changes nothing', async () => {
    const env = deployment(schema, secret);
    const results = await Promise.all([1, 2, 3].map(() => runCli(['migrate'], { env })));
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /migrations applied \(postgres\)/);
    }
    await login(b.tokenUrl, OWNER.username, OWNER.password, nextSource());
  });

  test('concurrent refreshes of one token split between two instances rotate once: every answer carries the same new token', async () => {
    const source = nextSource();
    const session = await login(a.tokenUrl, OWNER.username, OWNER.password, source);
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => refresh((i % 2 === 0 ? a : b).tokenUrl, session.refresh_token, source)),
    );
    assert.deepEqual(
      answers.map((answer) => answer.status),
      answers.map(() => 200),
      JSON.stringify(answers.filter((answer) => answer.status !== 200).map((answer) => answer.body)),
    );
    const successors = new Set(answers.map((answer) => answer.body.refresh_token));
    assert.equal(successors.size, 1, 'one rotation, one new token');
    const [successor] = [...successors] as [string];
    assert.notEqual(successor, session.refresh_token);
    const rows = await sql<{ generation: string }>(`SELECT generation FROM "${schema}".sessions WHERE id = $1`, [session.session_state]);
    assert.equal(Number(rows[0]?.generation), 1, 'one rotation: the session went from its first token to one successor');
    assert.equal((await refresh(b.tokenUrl, successor, source)).status, 200, 'the converged token is the live one');
  });

  test('a token consumed on one instance and replayed on the other after its successor was used is reuse: the session is revoked', async () => {
    const source = nextSource();
    const first = await login(a.tokenUrl, OWNER.username, OWNER.password, source);
    const second = (await refresh(a.tokenUrl, first.refresh_token, source)).body as unknown as TokenResponse;
    const third = (await refresh(a.tokenUrl, second.refresh_token, source)).body as unknown as TokenResponse;
    assert.ok(third.refresh_token);
    const replay = await refresh(b.tokenUrl, first.refresh_token, source);
    assert.equal(replay.status, 400);
    assert.equal(description(replay), 'Refresh token reuse detected');
    const after = await refresh(a.tokenUrl, third.refresh_token, source);
    assert.equal(description(after), 'Session not active', 'the whole session is revoked, on every instance');
    const audit = await sql<{ type: string }>(
      `SELECT type FROM "${schema}".audit_events WHERE session_id = $1 AND type <> 'login_succeeded'`,
      [first.session_state],
    );
    assert.deepEqual(audit.map((row) => row.type), ['refresh_token_reuse']);
  });

  test('with a grace of 0, a token consumed on one instance and replayed on the other is reuse; racing ones rotate once', async () => {
    const source = nextSource();
    const session = await login(strictA.tokenUrl, OWNER.username, OWNER.password, source);
    const consumed = await refresh(strictA.tokenUrl, session.refresh_token, source);
    assert.equal(consumed.status, 200);
    const replay = await refresh(strictB.tokenUrl, session.refresh_token, source);
    assert.equal(description(replay), 'Refresh token reuse detected');
    assert.equal(description(await refresh(strictA.tokenUrl, String(consumed.body.refresh_token), source)), 'Session not active');

    const raced = await login(strictB.tokenUrl, OWNER.username, OWNER.password, source);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => refresh((i % 2 === 0 ? strictA : strictB).tokenUrl, raced.refresh_token, source)),
    );
    assert.equal(answers.filter((answer) => answer.status === 200).length, 1, 'strictly single use, across instances');
    for (const answer of answers.filter((one) => one.status !== 200)) {
      assert.match(String(description(answer)), /^(Refresh token reuse detected|Session not active)$/);
    }
  });

  test('a key rotated by the CLI signs on both instances, and tokens of either key verify at the other instance', async () => {
    const source = nextSource();
    const before = await login(a.tokenUrl, OWNER.username, OWNER.password, source);
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    const rotated = await runCli(['keys', 'rotate'], { env: deployment(schema, secret) });
    assert.equal(rotated.code, 0, rotated.stderr);
    const newKid = /new signing key (\S+)/.exec(rotated.stdout)?.[1];
    assert.ok(newKid && newKid !== oldKid);

    // Each instance picks the new key up on its own schedule (a few seconds); wait for A only.
    const fresh = await waitFor('instance A to sign with the new key', async () => {
      const tokens = await login(a.tokenUrl, OWNER.username, OWNER.password, source);
      return decodeProtectedHeader(tokens.access_token).kid === newKid ? tokens : undefined;
    });
    // B re-reads the keys at most a second after its last read: it publishes both keys within
    // that, and its gateway accepts tokens of either, whether or not B signs with the new one yet.
    const jwks = await waitFor('instance B to publish both keys', async () => {
      const published = (await call('GET', `${b.origin}${BASE_PATH}/auth/certs`)).body as unknown as JSONWebKeySet;
      const kids = published.keys.map((key) => key.kid);
      return kids.includes(newKid) && kids.includes(oldKid) ? published : undefined;
    });
    for (const token of [fresh.access_token, before.access_token]) {
      await jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER });
      const gateway = await call('GET', `${b.origin}${BASE_PATH}/accounts`, undefined, { authorization: `Bearer ${token}` });
      assert.notEqual(gateway.status, 401, 'the gateway of B accepts a token A signed');
    }
    const refused = await call('GET', `${b.origin}${BASE_PATH}/accounts`, undefined, { authorization: 'Bearer not.a.token' });
    assert.equal(refused.status, 401);
  });

  test('a per-user not-before policy set by the CLI holds on both instances', async () => {
    const source = nextSource();
    const env = deployment(schema, secret);
    const added = await runCli(['users', 'add', 'policy-app'], { env });
    assert.equal(added.code, 0, added.stderr);
    const password = GENERATED_PASSWORD.exec(added.stdout)?.[1];
    assert.ok(password, added.stdout);
    const older = await login(a.tokenUrl, 'policy-app', password, source);
    const other = await login(a.tokenUrl, OWNER.username, OWNER.password, source);
    // Access tokens carry whole seconds: the policy must fall in a later second than their iat.
    const issuedAt = Math.floor(Date.now() / 1000);
    await waitFor('the next second', () => (Math.floor(Date.now() / 1000) > issuedAt ? true : undefined));

    const set = await runCli(['policy', 'not-before', '--user', 'policy-app'], { env });
    assert.equal(set.code, 0, set.stderr);

    assert.equal(description(await refresh(b.tokenUrl, older.refresh_token, source)), 'Stale token');
    for (const instance of [a, b]) {
      const gateway = await call('GET', `${instance.origin}${BASE_PATH}/accounts`, undefined, {
        authorization: `Bearer ${older.access_token}`,
      });
      assert.equal(gateway.status, 401, 'an access token older than the policy is refused everywhere');
    }
    assert.equal((await refresh(b.tokenUrl, other.refresh_token, source)).status, 200, 'other applications are unaffected');
    await login(b.tokenUrl, 'policy-app', password, source);
  });

  test('a lockout earned on one instance holds on the other', async () => {
    const source = nextSource();
    for (let i = 0; i < 3; i += 1) {
      const wrong = await call('POST', a.tokenUrl, { username: OWNER.username, password: 'wrong password!' }, fromSource(source));
      assert.equal(wrong.status, 401);
    }
    const onB = await call('POST', b.tokenUrl, OWNER, fromSource(source));
    assert.equal(onB.status, 401);
    assert.equal(description(onB), 'Invalid user credentials', 'locked on B too, answered as a wrong password');
    const elsewhere = await call('POST', b.tokenUrl, OWNER, fromSource(nextSource()));
    assert.equal(elsewhere.status, 200, 'the lock is per (username, source): another source still logs in');
  });

  test('parallel guesses spread over both instances verify at most the threshold: the right password among them is refused', async () => {
    const source = nextSource();
    const guesses = Array.from({ length: 40 }, (_, i) =>
      call('POST', (i % 2 === 0 ? a : b).tokenUrl, { username: OWNER.username, password: `wrong guess ${i}` }, fromSource(source)),
    );
    const answers = await Promise.all(guesses);
    assert.ok(answers.every((answer) => answer.status === 401 || answer.status === 429), 'refused as a wrong password or as too many');
    const failed = await sql<{ n: string }>(
      `SELECT COUNT(*) AS n FROM "${schema}".audit_events WHERE type = 'login_failed' AND source_address = $1`,
      [source],
    );
    assert.ok(Number(failed[0]?.n) <= 3, `${failed[0]?.n} passwords were checked; the threshold is 3`);
    assert.notEqual((await call('POST', a.tokenUrl, OWNER, fromSource(source))).status, 200, 'and the source stays shut out');
  });

  test('a source over its failure rate on one instance gets 429 on the other', async () => {
    const source = nextSource();
    for (let i = 0; i < 5; i += 1) {
      const unknown = await refresh((i % 2 === 0 ? a : b).tokenUrl, 'x'.repeat(43), source);
      assert.equal(unknown.status, 400);
    }
    const limited = await refresh(b.tokenUrl, 'x'.repeat(43), source);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });

  test('an instance started with a different ANTPEER_SECRET refuses to start, saying every instance must share it', async () => {
    const other = await spawnAntpeer(['serve'], { env: deployment(schema, newSecret()) });
    const exit = await other.exited;
    assert.notEqual(exit.code, 0);
    assert.match(other.stderr(), /different server secret/);
    assert.match(other.stderr(), /ANTPEER_SECRET/);
  });

  test('ANTPEER_MIGRATE_ON_START=false refuses an unmigrated schema and names the command to run; after it, the server starts', async () => {
    const fresh = uniqueSchema();
    try {
      const env = deployment(fresh, secret, { ANTPEER_MIGRATE_ON_START: 'false' });
      const refused = await spawnAntpeer(['serve'], { env });
      const exit = await refused.exited;
      assert.equal(exit.code, 1);
      assert.match(refused.stderr(), /pending migration.*antpeer-auth migrate/);
      const migrated = await runCli(['migrate'], { env });
      assert.equal(migrated.code, 0, migrated.stderr);
      const started = await waitUntilServing(await spawnAntpeer(['serve'], { env }));
      await login(started.tokenUrl, OWNER.username, OWNER.password, nextSource());
      await started.stop();
    } finally {
      await dropSchema(fresh);
    }
  });
});
