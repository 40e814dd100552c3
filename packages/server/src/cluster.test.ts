import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseWorkers } from './cli/serve.js';
import { call, login, refresh } from './test/http.js';
import { ISSUER, OWNER, SKIP_WITHOUT_DATABASE, TEST_DATABASE_URL, dropSchema, newSecret, uniqueSchema } from './test/postgres.js';
import { GENERATED_PASSWORD, makeDataDir, startServe, waitFor, type ServeProcess } from './test/process.js';

/** The pids of the workers the primary reported ready, in order (pino JSON lines on stdout). */
function readyWorkers(instance: ServeProcess): number[] {
  return instance
    .stdout()
    .split('\n')
    .filter((line) => line.includes('"worker ready"'))
    .map((line) => (JSON.parse(line) as { pid: number }).pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('antpeer-auth serve --workers', { concurrency: 2 }, () => {
  test('--workers takes a count; 0 and auto mean one per core; anything else is refused', () => {
    assert.equal(parseWorkers('3'), 3);
    assert.ok(parseWorkers('0') >= 1);
    assert.equal(parseWorkers('auto'), parseWorkers('0'));
    assert.throws(() => parseWorkers('two'), /--workers/);
    assert.throws(() => parseWorkers('-1'), /--workers/);
  });

  test('two workers on SQLite serve one port; the first password is printed once; a killed worker is replaced and the service stays up; SIGTERM stops them all', async () => {
    const data = makeDataDir();
    let primary: ServeProcess | undefined;
    try {
      primary = await startServe({ dataDir: data.dir, env: { ANTPEER_LOG_LEVEL: 'info' }, args: ['--workers', '2'] });
      const server = primary;
      const workers = await waitFor('two workers to be ready', () => {
        const pids = readyWorkers(server);
        return pids.length >= 2 ? pids : undefined;
      });
      const passwords = [...server.stdout().matchAll(new RegExp(GENERATED_PASSWORD, 'g'))].map((match) => match[1] as string);
      assert.equal(passwords.length, 1, 'the generated password is printed exactly once');
      const password = passwords[0] as string;
      assert.equal(new Set(workers).size, 2);
      assert.ok(!workers.includes(server.child.pid as number), 'the primary does not serve');

      let token = (await login(server.tokenUrl, 'antpeer-client', password)).refresh_token;
      process.kill(workers[0] as number, 'SIGKILL');
      await waitFor('the killed worker to be gone', () => (isAlive(workers[0] as number) ? undefined : true));
      // Every request from now on, each on a new connection, is served by the survivor or the replacement.
      for (let i = 0; i < 10; i += 1) {
        const answer = await refresh(server.tokenUrl, token);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        token = String(answer.body.refresh_token);
      }
      const replaced = await waitFor('a replacement worker', () => {
        const pids = readyWorkers(server);
        return pids.length >= 3 ? pids : undefined;
      });
      const current = replaced.filter(isAlive);
      assert.equal(current.length, 2, `two workers again: ${replaced.join(', ')}`);
      assert.equal((await call('GET', `${server.origin}/readyz`)).status, 200);

      const exit = await server.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.deepEqual(current.filter(isAlive), [], 'no worker outlives the primary');
    } finally {
      await primary?.stop('SIGKILL');
      data.cleanup();
    }
  });

  test('two workers on PostgreSQL rotate a token raced across them exactly once', { skip: SKIP_WITHOUT_DATABASE }, async () => {
    const schema = uniqueSchema();
    let primary: ServeProcess | undefined;
    try {
      primary = await startServe({
        env: {
          DATABASE_URL: TEST_DATABASE_URL as string,
          ANTPEER_DATABASE_SCHEMA: schema,
          ANTPEER_SECRET: newSecret(),
          ANTPEER_ISSUER: ISSUER,
          ANTPEER_LOG_LEVEL: 'info',
          ANTPEER_BOOTSTRAP_USERNAME: OWNER.username,
          ANTPEER_BOOTSTRAP_PASSWORD: OWNER.password,
        },
        args: ['--workers', '2'],
      });
      const server = primary;
      await waitFor('two workers to be ready', () => (readyWorkers(server).length >= 2 ? true : undefined));
      const session = await login(server.tokenUrl, OWNER.username, OWNER.password);
      const answers = await Promise.all(Array.from({ length: 16 }, () => refresh(server.tokenUrl, session.refresh_token)));
      assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([200]));
      assert.equal(new Set(answers.map((answer) => answer.body.refresh_token)).size, 1);
      assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null });
    } finally {
      await primary?.stop('SIGKILL');
      await dropSchema(schema);
    }
  });
});
