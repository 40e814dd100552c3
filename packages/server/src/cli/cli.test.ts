import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { BASE_PATH, login, postToken, refresh } from '../test/http.js';
import { GENERATED_PASSWORD, makeDataDir, runCli, startServe, type CliResult, type ServeProcess } from '../test/process.js';

interface ListedUser {
  username: string;
  id: string;
  enabled: boolean;
  createdAt: string;
  notBefore: string | null;
}

interface ListedSession {
  id: string;
  username: string;
  createdAt: string;
  lastRefreshAt: string;
  idleExpiresAt: string;
  maxExpiresAt: string;
  sourceAddress: string;
}

function assertSucceeded(result: CliResult): void {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
}

function assertFailed(result: CliResult, message: RegExp): void {
  assert.equal(result.code, 1, `expected exit 1, got ${result.code}; stdout: ${result.stdout}`);
  assert.match(result.stderr, message);
}

function generatedPassword(result: CliResult): string {
  const password = GENERATED_PASSWORD.exec(result.stdout)?.[1];
  assert.ok(password, `no generated password in: ${result.stdout}`);
  return password;
}

// The two groups use separate data directories: they run side by side, each in order.
describe('antpeer-auth commands', { concurrency: 2 }, () => {
  describe('antpeer-auth users, without a running server', { concurrency: 1 }, () => {
    const data = makeDataDir();
    const cli = (args: string[], input?: string) => runCli(args, { dataDir: data.dir, input });
    after(() => data.cleanup());

    test('users add without a password prints a generated one, exactly once', async () => {
      const result = await cli(['users', 'add', 'alpha']);
      assertSucceeded(result);
      assert.match(result.stdout, /added client application "alpha"/);
      const password = generatedPassword(result);
      assert.ok(password.length >= 16);
      assert.equal(result.stdout.split(password).length - 1, 1);
      assert.equal(result.stderr.includes(password), false);
    });

    test('users add --password-stdin takes the password from standard input and prints none', async () => {
      const result = await cli(['users', 'add', 'bravo', '--password-stdin'], 'a password from stdin\n');
      assertSucceeded(result);
      assert.match(result.stdout, /added client application "bravo"/);
      assert.doesNotMatch(result.stdout, /password/);
    });

    test('users add of an existing name exits 1 saying it already exists', async () => {
      assertFailed(await cli(['users', 'add', 'alpha']), /"alpha" already exists/);
    });

    test('users add with a password shorter than 12 characters exits 1 stating the rule', async () => {
      assertFailed(await cli(['users', 'add', 'charlie', '--password-stdin'], 'short\n'), /12 to 1024 characters/);
    });

    test('users add --password-stdin with nothing on standard input exits 1', async () => {
      assertFailed(await cli(['users', 'add', 'delta', '--password-stdin'], ''), /nothing was read/);
    });

    test('users list prints a table of every client application', async () => {
      const result = await cli(['users', 'list']);
      assertSucceeded(result);
      const lines = result.stdout.trimEnd().split('\n');
      assert.match(lines[0] ?? '', /^USERNAME\s+ID\s+ENABLED\s+INTROSPECTION\s+DPOP\s+CREATED\s+NOT BEFORE$/);
      assert.equal(lines.length, 3, 'a header and the two applications added; the refused ones are absent');
      assert.match(result.stdout, /^alpha\s+\S+\s+yes\s/m);
      assert.match(result.stdout, /^bravo\s+\S+\s+yes\s/m);
    });

    test('users list --json prints the client applications as JSON', async () => {
      const result = await cli(['users', 'list', '--json']);
      assertSucceeded(result);
      const users = JSON.parse(result.stdout) as ListedUser[];
      assert.deepEqual(users.map((user) => user.username).sort(), ['alpha', 'bravo']);
      for (const user of users) {
        assert.equal(typeof user.id, 'string');
        assert.equal(user.enabled, true);
        assert.ok(!Number.isNaN(Date.parse(user.createdAt)));
        assert.equal(user.notBefore, null);
      }
    });

    test('a command naming an unknown client application exits 1 saying there is none', async () => {
      const results = await Promise.all(['disable', 'enable', 'remove'].map((command) => cli(['users', command, 'nobody'])));
      for (const result of results) assertFailed(result, /no client application named "nobody"/);
    });

    test('migrate on an empty data directory creates the store, exits 0, and running it again changes nothing', async () => {
      const fresh = makeDataDir();
      try {
        const first = await runCli(['migrate'], { dataDir: fresh.dir });
        assertSucceeded(first);
        assert.match(first.stdout, /migrations applied \(sqlite\)/);
        assertSucceeded(await runCli(['migrate'], { dataDir: fresh.dir }));
      } finally {
        fresh.cleanup();
      }
    });

    test('an unknown command exits non-zero', async () => {
      const [result, sub] = await Promise.all([cli(['frobnicate']), cli(['users', 'frobnicate'])]);
      assert.notEqual(result.code, 0);
      assert.notEqual(result.stderr, '');
      assert.notEqual(sub.code, 0);
      assert.match(sub.stderr, /unknown command 'frobnicate'/);
    });

    test('sessions revoke with neither an id nor --user exits 1', async () => {
      assertFailed(await cli(['sessions', 'revoke']), /session id or --user/);
    });

    test('a bad environment value makes a command exit non-zero naming the variable', async () => {
      const result = await runCli(['users', 'list'], { dataDir: data.dir, env: { ANTPEER_SESSION_IDLE: 'soon' } });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /ANTPEER_SESSION_IDLE/);
    });
  });

  describe('antpeer-auth administration against a running server over the same data directory', { concurrency: 1 }, () => {
    const data = makeDataDir();
    const owner = { username: 'merchant-app', password: 'merchant password 1' };
    const cli = (args: string[], input?: string) => runCli(args, { dataDir: data.dir, input });
    let serve: ServeProcess;
    let betaPassword = '';

    const startOverData = () =>
      startServe({
        dataDir: data.dir,
        env: { ANTPEER_BOOTSTRAP_USERNAME: owner.username, ANTPEER_BOOTSTRAP_PASSWORD: owner.password },
      });

    before(async () => {
      serve = await startOverData();
    });

    after(async () => {
      await serve?.stop('SIGKILL');
      data.cleanup();
    });

    async function assertGrantError(body: Record<string, string>, status: number, description: string): Promise<void> {
      const response = await postToken(serve.tokenUrl, body);
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.deepEqual(response.body, { error: 'invalid_grant', error_description: description });
    }

    test('a client application added by the CLI can log in to the running server', async () => {
      const result = await cli(['users', 'add', 'beta']);
      assertSucceeded(result);
      betaPassword = generatedPassword(result);
      await login(serve.tokenUrl, 'beta', betaPassword);
      assertSucceeded(await cli(['users', 'add', 'gamma', '--password-stdin'], 'gamma password 123\n'));
      await login(serve.tokenUrl, 'gamma', 'gamma password 123');
    });

    test('users disable refuses the password grant with "Account disabled" and ends the sessions at once', async () => {
      const session = await login(serve.tokenUrl, 'gamma', 'gamma password 123');
      const result = await cli(['users', 'disable', 'gamma']);
      assertSucceeded(result);
      assert.match(result.stdout, /disabled "gamma"; ended 2 session\(s\)/);
      await assertGrantError({ username: 'gamma', password: 'gamma password 123' }, 400, 'Account disabled');
      await assertGrantError({ refresh_token: session.refresh_token, grant_type: 'refresh_token' }, 400, 'Session not active');
      const users = JSON.parse((await cli(['users', 'list', '--json'])).stdout) as ListedUser[];
      assert.equal(users.find((user) => user.username === 'gamma')?.enabled, false);
    });

    test('a wrong password for a disabled account still answers "Invalid user credentials"', async () => {
      await assertGrantError({ username: 'gamma', password: 'not the password' }, 401, 'Invalid user credentials');
    });

    test('users enable lets the client application log in again', async () => {
      const result = await cli(['users', 'enable', 'gamma']);
      assertSucceeded(result);
      assert.match(result.stdout, /enabled "gamma"/);
      await login(serve.tokenUrl, 'gamma', 'gamma password 123');
    });

    test('users require-dpop refuses its bearer logins on the running server; users allow-bearer lets them in again', async () => {
      const required = await cli(['users', 'require-dpop', 'gamma']);
      assertSucceeded(required);
      assert.match(required.stdout, /"gamma" must now prove a DPoP key on every grant/);
      const refused = await postToken(serve.tokenUrl, { username: 'gamma', password: 'gamma password 123' });
      assert.equal(refused.status, 400);
      assert.deepEqual(refused.body, { error: 'invalid_dpop_proof', error_description: 'DPoP proof required' });
      const listed = JSON.parse((await cli(['users', 'list', '--json'])).stdout) as Array<ListedUser & { dpop: string }>;
      assert.equal(listed.find((user) => user.username === 'gamma')?.dpop, 'required');
      assert.equal(listed.find((user) => user.username === 'beta')?.dpop, 'optional');
      assertSucceeded(await cli(['users', 'allow-bearer', 'gamma']));
      await login(serve.tokenUrl, 'gamma', 'gamma password 123');
      const kinds = (await cli(['audit', 'list', '--user', 'gamma', '--json'])).stdout;
      assert.match(kinds, /"dpop_required"/);
      assert.match(kinds, /"dpop_not_required"/);
    });

    test('users passwd replaces the password: the new one logs in, the old one does not', async () => {
      assertSucceeded(await cli(['users', 'passwd', 'gamma', '--password-stdin'], 'a brand new password\n'));
      await login(serve.tokenUrl, 'gamma', 'a brand new password');
      await assertGrantError({ username: 'gamma', password: 'gamma password 123' }, 401, 'Invalid user credentials');

      const generated = await cli(['users', 'passwd', 'gamma']);
      assertSucceeded(generated);
      await login(serve.tokenUrl, 'gamma', generatedPassword(generated));
    });

    test('users remove deletes the client application: its login answers like an unknown user', async () => {
      const result = await cli(['users', 'remove', 'gamma']);
      assertSucceeded(result);
      assert.match(result.stdout, /removed "gamma"/);
      await assertGrantError({ username: 'gamma', password: 'a brand new password' }, 401, 'Invalid user credentials');
      const users = JSON.parse((await cli(['users', 'list', '--json'])).stdout) as ListedUser[];
      assert.deepEqual(users.map((user) => user.username).sort(), ['beta', 'merchant-app']);
    });

    test('sessions list --user shows the sessions of that client application only', async () => {
      const one = await login(serve.tokenUrl, owner.username, owner.password);
      const two = await login(serve.tokenUrl, owner.username, owner.password);
      const json = await cli(['sessions', 'list', '--user', owner.username, '--json']);
      assertSucceeded(json);
      const sessions = JSON.parse(json.stdout) as ListedSession[];
      const ids = sessions.map((session) => session.id);
      assert.ok(ids.includes(one.session_state) && ids.includes(two.session_state));
      assert.ok(sessions.every((session) => session.username === owner.username));
      assert.ok(sessions.every((session) => session.sourceAddress.includes('127.0.0.1')));

      const table = await cli(['sessions', 'list']);
      assertSucceeded(table);
      assert.match(table.stdout, /^SESSION\s+USERNAME\s+STARTED/);
      assert.ok(table.stdout.includes(one.session_state));
      assert.ok(table.stdout.includes('beta'), 'without --user, every application is listed');

      const beta = await cli(['sessions', 'list', '--user', 'beta', '--json']);
      assert.equal((JSON.parse(beta.stdout) as ListedSession[]).some((session) => ids.includes(session.id)), false);

      const newest = await cli(['sessions', 'list', '--user', owner.username, '--limit', '1', '--json']);
      assertSucceeded(newest);
      assert.deepEqual((JSON.parse(newest.stdout) as ListedSession[]).map((session) => session.id), [two.session_state], 'the newest only');
      assert.match(newest.stderr, /more than 1 active sessions: the newest 1 are shown/);
      assertFailed(await cli(['sessions', 'list', '--limit', '0']), /--limit must be an integer from 1 to 100000, got "0"/);
    });

    test('sessions revoke <id> ends that session: its refresh fails with "Session not active"', async () => {
      const revoked = await login(serve.tokenUrl, owner.username, owner.password);
      const kept = await login(serve.tokenUrl, owner.username, owner.password);
      const result = await cli(['sessions', 'revoke', revoked.session_state]);
      assertSucceeded(result);
      assert.match(result.stdout, /revoked 1 session\(s\)/);
      await assertGrantError({ refresh_token: revoked.refresh_token, grant_type: 'refresh_token' }, 400, 'Session not active');
      assert.equal((await refresh(serve.tokenUrl, kept.refresh_token)).status, 200);
      assertFailed(await cli(['sessions', 'revoke', '00000000-0000-4000-8000-000000000000']), /no session/);
    });

    test('sessions revoke --user ends every session of that client application', async () => {
      const one = await login(serve.tokenUrl, owner.username, owner.password);
      const two = await login(serve.tokenUrl, owner.username, owner.password);
      const result = await cli(['sessions', 'revoke', '--user', owner.username]);
      assertSucceeded(result);
      assert.match(result.stdout, /revoked [1-9]\d* session\(s\)/);
      for (const token of [one, two]) {
        await assertGrantError({ refresh_token: token.refresh_token, grant_type: 'refresh_token' }, 400, 'Session not active');
      }
      const left = JSON.parse((await cli(['sessions', 'list', '--user', owner.username, '--json'])).stdout) as ListedSession[];
      assert.deepEqual(left, []);
    });

    test('policy not-before --user makes that application\'s older tokens "Stale token" and leaves others alone', async () => {
      const older = await login(serve.tokenUrl, 'beta', betaPassword);
      const other = await login(serve.tokenUrl, owner.username, owner.password);
      const result = await cli(['policy', 'not-before', '--user', 'beta']);
      assertSucceeded(result);
      const at = Number(/not-before policy set for "beta" to (\d+)/.exec(result.stdout)?.[1]);
      assert.ok(Number.isInteger(at) && at > 0, result.stdout);
      await assertGrantError({ refresh_token: older.refresh_token, grant_type: 'refresh_token' }, 400, 'Stale token');
      assert.equal((await refresh(serve.tokenUrl, other.refresh_token)).status, 200);

      const fresh = await login(serve.tokenUrl, 'beta', betaPassword);
      assert.equal(fresh['not-before-policy'], at);
      assert.equal((await refresh(serve.tokenUrl, fresh.refresh_token)).status, 200);
    });

    test('policy not-before makes every older refresh token "Stale token" and the response reports the policy time', async () => {
      const older = await login(serve.tokenUrl, owner.username, owner.password);
      assert.equal(older['not-before-policy'], 0, 'no realm-wide policy yet');
      const result = await cli(['policy', 'not-before']);
      assertSucceeded(result);
      const at = Number(/not-before policy set realm-wide to (\d+)/.exec(result.stdout)?.[1]);
      assert.ok(Number.isInteger(at) && at > 0, result.stdout);
      await assertGrantError({ refresh_token: older.refresh_token, grant_type: 'refresh_token' }, 400, 'Stale token');

      const fresh = await login(serve.tokenUrl, owner.username, owner.password);
      assert.equal(fresh['not-before-policy'], at);
      const renewed = await refresh(serve.tokenUrl, fresh.refresh_token);
      assert.equal(renewed.status, 200);
      assert.equal((renewed.body as { 'not-before-policy': number })['not-before-policy'], at);
    });

    test('keys rotate: after a restart new tokens carry the new kid and tokens of the old key still verify', async () => {
      const jwksOf = async () => (await (await fetch(`${serve.origin}${BASE_PATH}/auth/certs`)).json()) as JSONWebKeySet;
      const before = await jwksOf();
      assert.equal(before.keys.length, 1);
      const oldToken = (await login(serve.tokenUrl, owner.username, owner.password)).access_token;
      const oldKid = decodeProtectedHeader(oldToken).kid;

      const result = await cli(['keys', 'rotate']);
      assertSucceeded(result);
      const newKid = /new signing key (\S+)/.exec(result.stdout)?.[1];
      assert.ok(newKid);
      assert.notEqual(newKid, oldKid);

      // serve re-reads keys every 30 s; a restart picks the new one up at once (on another port,
      // hence another default issuer).
      const oldIssuer = serve.issuer;
      assert.deepEqual(await serve.stop('SIGTERM'), { code: 0, signal: null });
      serve = await startOverData();

      const after = await jwksOf();
      assert.deepEqual(after.keys.map((key) => key.kid).sort(), [oldKid, newKid].sort());
      const newToken = (await login(serve.tokenUrl, owner.username, owner.password)).access_token;
      assert.equal(decodeProtectedHeader(newToken).kid, newKid);

      const keySet = createLocalJWKSet(after);
      const oldVerified = await jwtVerify(oldToken, keySet, { issuer: oldIssuer, typ: 'at+jwt' });
      assert.equal(oldVerified.protectedHeader.kid, oldKid);
      const newVerified = await jwtVerify(newToken, keySet, { issuer: serve.issuer, typ: 'at+jwt' });
      assert.equal(newVerified.protectedHeader.kid, newKid);
    });

    test('migrate while the server runs exits 0 and changes nothing it serves', async () => {
      assertSucceeded(await cli(['migrate']));
      const token = await login(serve.tokenUrl, owner.username, owner.password);
      assert.equal((await refresh(serve.tokenUrl, token.refresh_token)).status, 200);
      await login(serve.tokenUrl, 'beta', betaPassword);
    });
  });
});
