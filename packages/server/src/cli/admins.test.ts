import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../clock.js';
import { loadConfig } from '../config.js';
import { startServer } from '../server.js';
import { SQLITE_FILENAME } from '../store/open.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { TEST_ARGON2 } from '../test/harness.js';
import { GENERATED_PASSWORD, makeDataDir, runCli } from '../test/process.js';

describe('antpeer-auth admins', { concurrency: 1 }, () => {
  const data = makeDataDir();
  const cli = (args: string[], input?: string) => runCli(args, { dataDir: data.dir, input });
  after(() => data.cleanup());

  /** Signs in to the console of a server over the same data directory; returns the status. */
  async function consoleSignIn(name: string, password: string): Promise<number> {
    const config = loadConfig({ ANTPEER_DATA_DIR: data.dir, ANTPEER_ADMIN_CONSOLE: 'true', ANTPEER_METRICS_PORT: 'off' });
    const server = await startServer(config, { clock: new ManualClock(), logger: pino({ level: 'silent' }), argon2: TEST_ARGON2, listen: false });
    try {
      const response = await server.app.inject({
        method: 'POST',
        url: '/admin/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ name, password }).toString(),
      });
      return response.statusCode;
    } finally {
      await server.close();
    }
  }

  test('admins add prints a generated password once; that administrator signs in to the console', async () => {
    const result = await cli(['admins', 'add', 'root-op']);
    assert.equal(result.code, 0, result.stderr);
    const password = GENERATED_PASSWORD.exec(result.stdout)?.[1];
    assert.ok(password);
    assert.equal(result.stdout.split(password).length - 1, 1);
    assert.equal(await consoleSignIn('root-op', password), 303);
  });

  test('admins add --password-stdin takes the password from standard input; a taken name is refused', async () => {
    const added = await cli(['admins', 'add', 'second-op', '--password-stdin'], 'a password from stdin\n');
    assert.equal(added.code, 0, added.stderr);
    assert.doesNotMatch(added.stdout, GENERATED_PASSWORD);
    const again = await cli(['admins', 'add', 'second-op', '--password-stdin'], 'another password here\n');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /an administrator named "second-op" already exists/);
    const short = await cli(['admins', 'add', 'third-op', '--password-stdin'], 'short\n');
    assert.equal(short.code, 1);
    assert.match(short.stderr, /the password/);
  });

  test('admins list shows administrators and never a hash', async () => {
    const result = await cli(['admins', 'list', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const rows = JSON.parse(result.stdout) as { name: string }[];
    assert.deepEqual(rows.map((row) => row.name), ['root-op', 'second-op']);
    assert.doesNotMatch(result.stdout, /argon2/);
  });

  test('admins passwd replaces the password: the old one no longer signs in', async () => {
    const result = await cli(['admins', 'passwd', 'second-op', '--password-stdin'], 'the replacement password\n');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await consoleSignIn('second-op', 'a password from stdin'), 401);
    assert.equal(await consoleSignIn('second-op', 'the replacement password'), 303);
  });

  test('admins remove takes the administrator away, and the change is in the audit trail under the operator', async () => {
    assert.equal((await cli(['admins', 'remove', 'second-op'])).code, 0);
    assert.equal(await consoleSignIn('second-op', 'the replacement password'), 401);
    const missing = await cli(['admins', 'remove', 'second-op']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no administrator named "second-op"/);
    const store = new SqliteStore({ filename: `${data.dir}/${SQLITE_FILENAME}` });
    try {
      const kinds = (await store.audit.list({ limit: 50 })).filter((event) => event.type.startsWith('admin_'));
      assert.deepEqual(kinds.map((event) => event.type).sort(), ['admin_added', 'admin_added', 'admin_password_changed', 'admin_removed']);
      for (const event of kinds) assert.match(event.detail, /by operator ".+" \(antpeer-auth CLI\)$/);
    } finally {
      await store.close();
    }
  });
});
