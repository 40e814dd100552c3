import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli, type CliIo } from './cli.js';
import { FakeServer } from './test/fake-server.js';
import { PASSWORD } from './test/setup.js';

const directories: string[] = [];
after(() => Promise.all(directories.map((d) => rm(d, { recursive: true, force: true }))));

async function run(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) {
  const directory = await mkdtemp(join(tmpdir(), 'antpeer-cli-'));
  directories.push(directory);
  let stdout = '';
  let stderr = '';
  let stdinReads = 0;
  const io: CliIo = {
    env: { ANTPEER_STORE_DIR: directory, ...options.env },
    readStdin: async () => {
      stdinReads++;
      return options.stdin ?? '';
    },
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
  };
  const status = await runCli(args, io);
  return { status, stdout, stderr, stdinReads, directory };
}

async function startServer(t: { after(fn: () => Promise<void>): void }): Promise<FakeServer> {
  const server = await FakeServer.start();
  t.after(() => server.close());
  return server;
}

describe('antpeer token', () => {
  test('prints a valid access token, with the password from ANTPEER_PASSWORD', async (t) => {
    const server = await startServer(t);
    const result = await run(['token', '--base-url', server.baseUrl, '--username', 'app'], { env: { ANTPEER_PASSWORD: PASSWORD } });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^eyJ[\w.-]+\n$/);
    assert.equal(server.counts.password, 1);
  });

  test('reads the password from stdin with --password-stdin', async (t) => {
    const server = await startServer(t);
    const result = await run(['token', '--base-url', server.baseUrl, '--username', 'app', '--password-stdin'], { stdin: `${PASSWORD}\n` });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdinReads, 1);
  });

  test('reuses the cached session: the second run makes no token request and needs no password', async (t) => {
    const server = await startServer(t);
    const directory = await mkdtemp(join(tmpdir(), 'antpeer-cli-'));
    directories.push(directory);
    const args = ['token', '--base-url', server.baseUrl, '--username', 'app', '--store-dir', directory];
    const first = await run(args, { env: { ANTPEER_PASSWORD: PASSWORD } });
    const second = await run(args);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
    assert.equal(server.counts.token, 1);
  });

  test('--json prints the whole token response in the contract shape', async (t) => {
    const server = await startServer(t);
    const result = await run(['token', '--json', '--base-url', server.baseUrl, '--username', 'app'], { env: { ANTPEER_PASSWORD: PASSWORD } });
    const body = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), [
      'access_token',
      'expires_in',
      'refresh_expires_in',
      'token_type',
      'id_token',
      'not-before-policy',
      'session_state',
      'scope',
      'refresh_token',
    ]);
    assert.equal(body.token_type, 'bearer');
    assert.ok(typeof body.expires_in === 'number' && body.expires_in > 890 && body.expires_in <= 900);
    assert.equal(typeof body.refresh_token, 'string');
  });

  test('refuses a password given as an argument', async () => {
    const result = await run(['token', '--base-url', 'https://h/v1', '--username', 'app', '--password', 'secret']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /ANTPEER_PASSWORD or --password-stdin/);
    assert.ok(!result.stderr.includes('secret'));
  });

  test('wrong credentials exit 1 with the error code and without the password', async (t) => {
    const server = await startServer(t);
    const result = await run(['token', '--base-url', server.baseUrl, '--username', 'app'], { env: { ANTPEER_PASSWORD: 'wrong-password' } });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /ERR_AUTHENTICATION/);
    assert.ok(!result.stderr.includes('wrong-password'));
  });

  test('usage errors exit 2: no command, unknown command, missing base URL, no password', async (t) => {
    const server = await startServer(t);
    assert.equal((await run([])).status, 2);
    assert.equal((await run(['frobnicate', '--base-url', 'https://h/v1', '--username', 'a'])).status, 2);
    assert.equal((await run(['token', '--username', 'a'])).status, 2);
    const noPassword = await run(['token', '--base-url', server.baseUrl, '--username', 'app']);
    assert.equal(noPassword.status, 2);
    assert.match(noPassword.stderr, /ANTPEER_PASSWORD/);
    assert.equal((await run(['--help'])).status, 0);
  });

  test('antpeer logout ends the cached session', async (t) => {
    const server = await startServer(t);
    const directory = await mkdtemp(join(tmpdir(), 'antpeer-cli-'));
    directories.push(directory);
    const args = ['--base-url', server.baseUrl, '--username', 'app', '--store-dir', directory];
    await run(['token', ...args], { env: { ANTPEER_PASSWORD: PASSWORD } });
    const result = await run(['logout', ...args]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(server.activeSessions, 0);
  });

  test('runs as a program: environment in, token out, exit status 0', async (t) => {
    const server = await startServer(t);
    const directory = await mkdtemp(join(tmpdir(), 'antpeer-cli-'));
    directories.push(directory);
    // The installed command: the bin file, which runs the built dist/cli.js (npm test builds first).
    const bin = fileURLToPath(new URL('../bin/antpeer.js', import.meta.url));
    const child = spawn(process.execPath, [bin, 'token', '--password-stdin'], {
      env: { ...process.env, ANTPEER_BASE_URL: server.baseUrl, ANTPEER_USERNAME: 'app', ANTPEER_STORE_DIR: directory },
    });
    child.stdin.end(PASSWORD);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const status = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(status, 0);
    assert.match(stdout, /^eyJ/);
  });
});
