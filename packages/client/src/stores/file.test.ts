import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LockTimeoutError } from '../errors.js';
import { FakeServer } from '../test/fake-server.js';
import { PASSWORD } from '../test/setup.js';
import { describeTokenStore, sampleTokenSet } from '../testing/store-conformance.js';
import { TokenManager } from '../token-manager.js';
import { FileTokenStore } from './file.js';

const directories: string[] = [];
async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'antpeer-client-'));
  directories.push(directory);
  return directory;
}
after(() => Promise.all(directories.map((d) => rm(d, { recursive: true, force: true }))));

describeTokenStore('FileTokenStore', async () => new FileTokenStore({ directory: join(await temporaryDirectory(), 'store') }));

const CHILD = fileURLToPath(new URL('../test/shared-store-child.ts', import.meta.url));

function startChild(args: string[]): { child: ChildProcessWithoutNullStreams; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    env: { ...process.env, TEST_PASSWORD: PASSWORD },
    stdio: 'pipe',
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => process.stderr.write(chunk));
  async function* read(): AsyncGenerator<string> {
    let buffer = '';
    child.stdout.setEncoding('utf8');
    for await (const chunk of child.stdout) {
      buffer += String(chunk);
      let newline;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        yield buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
      }
    }
  }
  return { child, lines: read() };
}

async function nextLine(lines: AsyncIterator<string>): Promise<string> {
  const { value, done } = await lines.next();
  assert.ok(!done, 'the child ended early');
  return value;
}

describe('FileTokenStore on disk', () => {
  test('writes files with mode 0600 in a directory with mode 0700, and leaves no temporary file', async () => {
    const directory = join(await temporaryDirectory(), 'nested', 'store');
    const store = new FileTokenStore({ directory });
    await store.set('k', sampleTokenSet());
    await store.set('k', sampleTokenSet({ accessToken: 'again' }));
    const files = await readdir(directory);
    assert.equal(files.length, 1);
    assert.match(files[0] ?? '', /^[0-9a-f]{40}\.json$/);
    if (process.platform !== 'win32') {
      assert.equal((await stat(join(directory, files[0] ?? ''))).mode & 0o777, 0o600);
      assert.equal((await stat(directory)).mode & 0o777, 0o700);
    }
  });

  test('readers never see a half-written file while another writer replaces it', async () => {
    const store = new FileTokenStore({ directory: await temporaryDirectory() });
    const big = (n: number) => sampleTokenSet({ accessToken: `${n}:${'x'.repeat(200_000)}` });
    await store.set('k', big(0));
    let writing = true;
    const writer = (async () => {
      for (let n = 1; n <= 30; n++) await store.set('k', big(n));
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const value = await store.get('k');
      assert.ok(value && /^\d+:x{200000}$/.test(value.accessToken), 'a whole token set');
      reads++;
    }
    await writer;
    assert.ok(reads > 0);
  });

  test('a file written for another key (a copy, a hash collision) is not returned', async () => {
    const directory = await temporaryDirectory();
    const store = new FileTokenStore({ directory });
    await store.set('k', sampleTokenSet());
    const [file = ''] = await readdir(directory);
    const text = await readFile(join(directory, file), 'utf8');
    await writeFile(join(directory, file), text.replace('"key":"k"', '"key":"other"'));
    assert.equal(await store.get('k'), undefined);
  });

  test('a lock whose holder process died is taken over at once', async () => {
    const directory = await temporaryDirectory();
    const { child, lines } = startChild(['hold-lock', directory, 'k']);
    assert.equal(await nextLine(lines), 'locked');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const started = Date.now();
    const release = await new FileTokenStore({ directory, staleLockMs: 60_000, lockTimeoutMs: 5_000 }).lock('k');
    assert.ok(Date.now() - started < 2_000);
    await release();
  });

  test('a lock nobody has touched for staleLockMs is taken over; a fresh one is waited for', async () => {
    const directory = await temporaryDirectory();
    const store = new FileTokenStore({ directory, staleLockMs: 1_000, lockTimeoutMs: 150 });
    // Learn where the lock file lives, then forge one held by a live process on another host.
    const release = await store.lock('k');
    const [lockFile = ''] = (await readdir(directory)).filter((f) => f.endsWith('.lock'));
    await release();
    const path = join(directory, lockFile);
    await writeFile(path, JSON.stringify({ pid: 1, hostname: 'another-host', id: 'x' }));
    await assert.rejects(store.lock('k'), LockTimeoutError, 'a fresh lock of a live holder is respected');
    const old = new Date(Date.now() - 5_000);
    await utimes(path, old, old);
    const taken = await store.lock('k');
    await taken();
    assert.deepEqual((await readdir(directory)).filter((f) => f.endsWith('.lock') || f.endsWith('.stale')), []);
  });

  test('two processes sharing a file store across an expiry make exactly one refresh', async (t) => {
    const server = await FakeServer.start({ tokenDelayMs: 300 });
    t.after(() => server.close());
    const directory = await temporaryDirectory();
    const store = new FileTokenStore({ directory });
    const seeding = new TokenManager({ baseUrl: server.baseUrl, username: 'app', password: PASSWORD, store });
    await seeding.getAccessToken();
    await seeding.close();
    // Age the stored session: its access token has expired, its refresh token is still good.
    const key = `${server.baseUrl} app`;
    const stored = await store.get(key);
    assert.ok(stored);
    const now = Date.now();
    await store.set(key, { ...stored, obtainedAt: now - 1_000_000, refreshAt: now - 200_000, expiresAt: now - 100_000 });

    const children = [startChild(['token', server.baseUrl, directory]), startChild(['token', server.baseUrl, directory])];
    for (const { lines } of children) assert.equal(await nextLine(lines), 'ready');
    for (const { child } of children) child.stdin.write('go\n');
    const results = await Promise.all(children.map(async ({ lines }) => JSON.parse(await nextLine(lines)) as { token: string; events: string[] }));
    for (const { child } of children) child.stdin.end();

    assert.equal(server.counts.refresh, 1, 'one refresh between the two processes');
    assert.equal(server.counts.password, 1, 'no login either');
    assert.equal(results[0]?.token, results[1]?.token);
    assert.deepEqual(results.map((r) => r.events.join()).sort(), ['adopt', 'refresh']);
    assert.deepEqual((await readdir(directory)).filter((f) => !f.endsWith('.json')), [], 'no lock or temporary file left');
  });
});
