import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RotationRequest, Store } from '../port.js';
import { describeStoreConformance } from '../test/conformance.js';
import { SqliteStore } from './sqlite-store.js';

const T0 = Date.UTC(2031, 0, 1);
const IDLE = 1_800_000;
const source = { address: '127.0.0.1', userAgent: 'sqlite-store.test' };

function newHash(): string {
  return createHash('sha256').update(randomUUID()).digest('hex');
}

async function seedSession(store: Store): Promise<{ userId: string; sessionId: string; token: string }> {
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
  return { userId: user.id, sessionId: session.id, token };
}

function rotation(presentedHash: string, successorHash: string, now: number): RotationRequest {
  return { presentedHash, successorHash, now, idleMs: IDLE, graceMs: 10_000, source };
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'antpeer-sqlite-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeStoreConformance('sqlite (file, WAL)', async () => {
  const filename = join(dir, `${randomUUID()}.db`);
  const store = new SqliteStore({ filename });
  return {
    store,
    async cleanup() {
      await store.close();
      for (const suffix of ['', '-wal', '-shm']) await rm(`${filename}${suffix}`, { force: true });
    },
  };
});

describe('SqliteStore on one file', () => {
  it('two instances on the same file see each other’s writes', async () => {
    const filename = join(dir, `${randomUUID()}.db`);
    const a = new SqliteStore({ filename });
    const b = new SqliteStore({ filename });
    try {
      await Promise.all([a.migrate(), b.migrate()]);
      const { sessionId, token } = await seedSession(a);
      assert.equal(await b.countUsers(), 1);
      assert.equal((await b.getSession(sessionId))?.id, sessionId);

      const successor = newHash();
      assert.equal((await b.rotateRefreshToken(rotation(token, successor, T0 + 1000))).kind, 'rotated');
      assert.equal((await a.findRefreshToken(successor))?.live, true);
      assert.equal((await a.rotateRefreshToken(rotation(token, successor, T0 + 2000))).kind, 'replayed');

      await a.setRealmNotBefore(T0 + 5000);
      assert.equal(await b.getRealmNotBefore(), T0 + 5000);
      assert.equal(await b.getOrCreateSecret('server', 'from-b'), 'from-b');
      assert.equal(await a.getOrCreateSecret('server', 'from-a'), 'from-b');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('50 rotations of one token interleaved across two instances rotate exactly once', async () => {
    const filename = join(dir, `${randomUUID()}.db`);
    const a = new SqliteStore({ filename });
    const b = new SqliteStore({ filename });
    try {
      await a.migrate();
      await b.migrate();
      const { sessionId, token } = await seedSession(a);
      const successor = newHash();
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).rotateRefreshToken(rotation(token, successor, T0 + 1000))),
      );
      const kinds = outcomes.map((outcome) => outcome.kind);
      assert.equal(kinds.filter((kind) => kind === 'rotated').length, 1);
      assert.equal(kinds.filter((kind) => kind === 'replayed').length, 49);
      assert.equal((await b.findRefreshToken(successor))?.live, true);
      assert.equal((await a.getSession(sessionId))?.endedAt, null);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('two processes racing 50 rotations of one token on one file rotate exactly once', async () => {
    const filename = join(dir, `${randomUUID()}.db`);
    const seeder = new SqliteStore({ filename });
    await seeder.migrate();
    const { sessionId, token } = await seedSession(seeder);
    await seeder.close();
    const successor = newHash();

    const racers = [startRacer(filename, token, successor, 25), startRacer(filename, token, successor, 25)];
    await Promise.all(racers.map((r) => r.ready));
    const kinds = (await Promise.all(racers.map((r) => r.go()))).flat();

    assert.equal(kinds.length, 50);
    assert.equal(kinds.filter((kind) => kind === 'rotated').length, 1, kinds.join(','));
    assert.equal(kinds.filter((kind) => kind === 'replayed').length, 49, kinds.join(','));
    const check = new SqliteStore({ filename });
    try {
      assert.equal((await check.findRefreshToken(successor))?.live, true);
      assert.equal((await check.findRefreshToken(token))?.live, false);
      assert.equal((await check.getSession(sessionId))?.endedAt, null);
    } finally {
      await check.close();
    }
  });

  it('a closed and reopened store keeps its data, and a consumed token stays consumed', async () => {
    const filename = join(dir, `${randomUUID()}.db`);
    const first = new SqliteStore({ filename });
    await first.migrate();
    const { userId, sessionId, token } = await seedSession(first);
    const successor = newHash();
    assert.equal((await first.rotateRefreshToken(rotation(token, successor, T0 + 1000))).kind, 'rotated');
    await first.recordFailure('user:x', T0, 60_000);
    await first.close();

    const reopened = new SqliteStore({ filename });
    try {
      await reopened.migrate();
      assert.equal((await reopened.findUserById(userId))?.id, userId);
      assert.equal((await reopened.getSession(sessionId))?.lastRefreshAt, T0 + 1000);
      assert.equal((await reopened.findRefreshToken(successor))?.live, true);
      assert.equal((await reopened.getFailures('user:x', T0 + 1)).count, 1);
      // Past the grace window the consumed token is reuse, exactly as before the restart.
      assert.equal((await reopened.rotateRefreshToken(rotation(token, successor, T0 + 60_000))).kind, 'reused');
    } finally {
      await reopened.close();
    }
  });

  it('rotations of many sessions committed together (group commit) are all on disk after a reopen', async () => {
    const filename = join(dir, `${randomUUID()}.db`);
    const first = new SqliteStore({ filename });
    await first.migrate();
    const sessions = await Promise.all(Array.from({ length: 100 }, () => seedSession(first)));
    const successors = sessions.map(() => newHash());
    // Issued in one event-loop turn: they share one transaction.
    const outcomes = await Promise.all(
      sessions.map((session, index) => first.rotateRefreshToken(rotation(session.token, successors[index] as string, T0 + 1000))),
    );
    assert.deepEqual(new Set(outcomes.map((outcome) => outcome.kind)), new Set(['rotated']));
    await first.close();
    const reopened = new SqliteStore({ filename });
    try {
      for (const successor of successors) assert.equal((await reopened.findRefreshToken(successor))?.live, true);
    } finally {
      await reopened.close();
    }
  });

  it('in one group commit, a rotation that meets an unexpected error fails alone; the others commit', async () => {
    const filename = join(dir, `${randomUUID()}.db`);
    const store = new SqliteStore({ filename });
    await store.migrate();
    try {
      const good = await seedSession(store);
      const bad = await seedSession(store);
      const goodSuccessor = newHash();
      // The bad rotation's successor collides with an existing token hash: its INSERT fails.
      const results = await Promise.allSettled([
        store.rotateRefreshToken(rotation(bad.token, good.token, T0 + 1000)),
        store.rotateRefreshToken(rotation(good.token, goodSuccessor, T0 + 1000)),
      ]);
      assert.equal(results[0].status, 'rejected');
      assert.equal(results[1].status, 'fulfilled');
      assert.equal((await store.findRefreshToken(goodSuccessor))?.live, true);
      assert.equal((await store.findRefreshToken(bad.token))?.live, true, 'the failed rotation changed nothing');
    } finally {
      await store.close();
    }
  });
});

const storeModule = fileURLToPath(new URL('./sqlite-store.ts', import.meta.url));

/**
 * A separate Node process with its own SqliteStore on `filename`: `ready` resolves once it has
 * opened the file; `go` makes it fire `count` rotations of `token` at once and resolves with the
 * outcome kinds it got.
 */
function startRacer(
  filename: string,
  token: string,
  successor: string,
  count: number,
): { ready: Promise<void>; go(): Promise<string[]> } {
  const script = `
    import { SqliteStore } from ${JSON.stringify(storeModule)};
    const store = new SqliteStore({ filename: ${JSON.stringify(filename)} });
    const request = ${JSON.stringify(rotation(token, successor, T0 + 1000))};
    process.stdout.write('ready\\n');
    process.stdin.once('data', async () => {
      const outcomes = await Promise.all(Array.from({ length: ${count} }, () => store.rotateRefreshToken(request)));
      process.stdout.write(JSON.stringify(outcomes.map((outcome) => outcome.kind)) + '\\n');
      await store.close();
      process.exit(0);
    });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.setEncoding('utf8');
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.startsWith('ready\n')) resolve();
    });
    void exited.then((code) => reject(new Error(`racer process exited early with ${code}`)), reject);
  });
  return {
    ready,
    async go() {
      child.stdin.write('go\n');
      const code = await exited;
      assert.equal(code, 0, `racer process exited with ${code}`);
      return JSON.parse(output.slice('ready\n'.length)) as string[];
    },
  };
}
