import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fdatasync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Session, SessionChange, SessionContext, Store } from '../port.js';
import { describeStoreConformance } from '../test/conformance.js';
import { listAudit, revocation, rotation } from '../test/harness.js';
import { SqliteStore } from './sqlite-store.js';

const T0 = Date.UTC(2031, 0, 1);
const IDLE = 1_800_000;
const source = { address: '127.0.0.1', userAgent: 'sqlite-store.test' };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'antpeer-sqlite-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function newFilename(): string {
  return join(dir, `${randomUUID()}.db`);
}

async function seedSession(store: Store, at = T0): Promise<Session> {
  const user = await store.users.create({ id: randomUUID(), username: `app-${randomUUID()}`, passwordHash: 'h', createdAt: at });
  const session = await store.sessions.create(
    { id: randomUUID(), userId: user.id, createdAt: at, tokenIssuedAt: at, idleExpiresAt: at + IDLE, maxExpiresAt: at + 36_000_000, source },
    10,
  );
  assert.ok(session);
  return session;
}

/** Two stores on one new file; both closed after `body`, whatever it does. */
async function withTwoStores(body: (a: SqliteStore, b: SqliteStore) => Promise<void>): Promise<void> {
  const filename = newFilename();
  const a = new SqliteStore({ filename });
  const b = new SqliteStore({ filename });
  try {
    await body(a, b);
  } finally {
    await a.close();
    await b.close();
  }
}

/** 50 changes decided from one snapshot of `session`: refreshes and reuse detections, each different. */
function racingChanges(session: Session): SessionChange[] {
  return Array.from({ length: 50 }, (_, i) =>
    i % 2 === 0 ? rotation(session, T0 + 1000 + i) : revocation(session, T0 + 1000 + i, source, `racer ${i}`),
  );
}

describeStoreConformance('sqlite (file, WAL)', async () => {
  const filename = newFilename();
  const store = new SqliteStore({ filename });
  return {
    store,
    reopen: async () => new SqliteStore({ filename }),
    async cleanup() {
      await store.close();
      for (const suffix of ['', '-wal', '-shm']) await rm(`${filename}${suffix}`, { force: true });
    },
  };
});

describe('SqliteStore on one file', () => {
  it('the database file, its WAL and its shared-memory file are readable and writable by their owner only', async () => {
    const filename = newFilename();
    const store = new SqliteStore({ filename });
    try {
      await store.migrate();
      await seedSession(store);
      for (const suffix of ['', '-wal', '-shm']) {
        assert.equal(statSync(filename + suffix).mode & 0o777, 0o600, `${filename}${suffix}`);
      }
    } finally {
      await store.close();
    }
  });

  it('closing it leaves none of its files open, the wal-index readers included', async () => {
    const filename = newFilename();
    const openFiles = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(filename);
        } catch {
          return false;
        }
      }).length;
    const store = new SqliteStore({ filename });
    await store.migrate();
    const session = await seedSession(store);
    await store.sessions.getContext(session.id);
    await store.counters.read(['source']);
    assert.ok(openFiles() >= 3, 'the database, its WAL and its wal-index are open');
    await store.close();
    assert.equal(openFiles(), 0);
  });

  it('two instances on the same file see each other’s writes', async () => {
    await withTwoStores(async (a, b) => {
      await Promise.all([a.migrate(), b.migrate()]);
      const session = await seedSession(a);
      assert.equal(await b.users.count(), 1);
      assert.deepEqual(await b.sessions.get(session.id), session);

      const refresh = rotation(session, T0 + 1000);
      assert.equal(await b.sessions.apply(refresh), true);
      assert.equal((await a.sessions.getContext(session.id))?.session.generation, 1);
      assert.equal(await a.sessions.apply(rotation(session, T0 + 2000)), false, 'decided from the snapshot b moved past');

      await a.settings.setRealmNotBefore(T0 + 5000);
      assert.equal(await b.settings.getRealmNotBefore(), T0 + 5000);
      assert.equal(await b.settings.getOrCreateSecret('server', 'from-b'), 'from-b');
      assert.equal(await a.settings.getOrCreateSecret('server', 'from-a'), 'from-b');
    });
  });

  it('a context kept through its own group commits answers as a read would, and a write of another connection before a batch drops them all', async () => {
    await withTwoStores(async (a, b) => {
      await a.migrate();
      const first = await seedSession(a);
      const second = await seedSession(a);
      const third = await seedSession(a);
      for (const session of [first, second, third]) await a.sessions.getContext(session.id);
      const rotated = { ...first, ...rotation(first, T0 + 1000).patch };
      await Promise.all([
        a.sessions.apply(rotation(first, T0 + 1000)),
        a.sessions.apply(revocation(second, T0 + 1000)),
        a.sessions.apply(rotation(third, T0 + 1000, undefined, { address: '10.0.0.9', userAgent: 'other' })),
      ]);
      // What a fresh read answers, from the other instance (nothing kept there).
      for (const session of [first, second, third]) assert.deepEqual(await a.sessions.getContext(session.id), await b.sessions.getContext(session.id));
      assert.deepEqual((await a.sessions.getContext(first.id))?.session, rotated);

      await b.users.update(third.userId, { enabled: false, updatedAt: T0 + 2000 });
      await a.sessions.apply(rotation(rotated, T0 + 3000));
      assert.equal((await a.sessions.getContext(third.id))?.user.enabled, false);
      assert.deepEqual(await a.sessions.getContext(first.id), await b.sessions.getContext(first.id));
    });
  });

  it('a context kept is read again from the turn after another connection changed its session, its user or the realm; a write of its own, at the very next call', async () => {
    await withTwoStores(async (a, b) => {
      await a.migrate();
      const session = await seedSession(a);
      // What a request arriving after the change reads: it is taken in a later turn of the event loop.
      const kept = async () => {
        await nextTurn();
        const context = await a.sessions.getContext(session.id);
        assert.deepEqual(await a.sessions.getContext(session.id), context, 'answered again from memory, unchanged');
        return context;
      };
      assert.equal((await kept())?.user.enabled, true);
      await b.users.update(session.userId, { enabled: false, updatedAt: T0 + 1000 });
      assert.equal((a.sessions.getContext(session.id) as SessionContext | null)?.user.enabled, true, 'in the turn that read the header before the change: from memory');
      assert.equal((await kept())?.user.enabled, false);
      await b.settings.setRealmNotBefore(T0 + 2000);
      assert.equal((await kept())?.realmNotBefore, T0 + 2000);
      await b.sessions.end(session.id, 'logout', T0 + 3000);
      assert.equal((await kept())?.session.endedAt, T0 + 3000);

      const own = await seedSession(a);
      await nextTurn();
      assert.equal((await a.sessions.getContext(own.id))?.user.enabled, true);
      await a.users.update(own.userId, { enabled: false, updatedAt: T0 + 4000 });
      assert.equal((a.sessions.getContext(own.id) as SessionContext | null)?.user.enabled, false, 'this connection’s write, in the same turn');
      await a.sessions.end(own.id, 'logout', T0 + 5000);
      assert.equal((a.sessions.getContext(own.id) as SessionContext | null)?.session.endedAt, T0 + 5000);
    });
  });

  it('a counter read is read again from the turn after another connection wrote it, whatever this connection committed in between', async () => {
    const set = (store: Store, key: string, count: number | null) =>
      store.counters.update([key], () => ({ result: undefined, writes: new Map([[key, count === null ? null : { count, resetAt: T0 + 60_000 }]]) }));
    await withTwoStores(async (a, b) => {
      const countNow = async (key: string) => (await a.counters.read([key])).get(key)?.count ?? null;
      // What a request arriving after the writes reads: it is taken in a later turn of the event loop.
      const count = async (key: string) => {
        await nextTurn();
        return countNow(key);
      };
      await a.migrate();
      const session = await seedSession(a);
      assert.equal(await count('source'), null);
      assert.equal(await count('source'), null, 'none, again');
      await set(b, 'source', 3);
      assert.equal(await countNow('source'), null, 'in the turn that read the header before the write: from memory');
      assert.equal(await count('source'), 3, 'written by another connection');

      await set(a, 'source', 4);
      assert.equal(await count('source'), 4, 'written by this one');
      await a.sessions.apply(rotation(session, T0 + 1000));
      await a.audit.record({ at: T0, type: 'login_failed', userId: null, sessionId: null, sourceAddress: '127.0.0.1', userAgent: 'test', detail: 'x' });
      assert.equal(await count('source'), 4, 'other writes of this connection');

      await a.sessions.apply(rotation({ ...session, ...rotation(session, T0 + 1000).patch }, T0 + 2000));
      await set(b, 'source', null);
      await a.audit.record({ at: T0, type: 'login_failed', userId: null, sessionId: null, sourceAddress: '127.0.0.1', userAgent: 'test', detail: 'y' });
      assert.equal(await count('source'), null, 'deleted by another connection between two commits of this one');

      await set(b, 'source', 9);
      await a.sessions.end(session.id, 'logout', T0 + 3000);
      assert.equal(await count('source'), 9, 'after a write of this connection outside a transaction');
      await set(a, 'source', 1);
      assert.equal(await a.purgeExpired(T0 + 120_000, 10), 2);
      assert.equal(await count('source'), null, 'purged by this connection');
    });
  });

  it('50 changes decided from one snapshot, applied through two instances on one file, apply exactly once', async () => {
    await withTwoStores(async (a, b) => {
      await a.migrate();
      await b.migrate();
      const session = await seedSession(a);
      const changes = racingChanges(session);
      const applied = await Promise.all(changes.map((change, i) => (i % 2 === 0 ? a : b).sessions.apply(change)));
      assert.equal(applied.filter(Boolean).length, 1, applied.map(Number).join(''));
      const winner = changes[applied.indexOf(true)] as SessionChange;
      assert.deepEqual(await b.sessions.get(session.id), { ...session, ...winner.patch });
      assert.deepEqual(await listAudit(a), winner.audit ? [winner.audit] : []);
    });
  });

  it('two processes racing 50 changes decided from one snapshot on one file apply exactly once', async () => {
    const filename = newFilename();
    const seeder = new SqliteStore({ filename });
    await seeder.migrate();
    const session = await seedSession(seeder);
    await seeder.close();
    const changes = racingChanges(session);
    const halves = [changes.filter((_, i) => i % 2 === 0), changes.filter((_, i) => i % 2 === 1)];

    const racers = halves.map((half) =>
      startChild(filename, `return Promise.all(${JSON.stringify(half)}.map((change) => store.sessions.apply(change)));`),
    );
    await Promise.all(racers.map((racer) => racer.ready));
    const results = (await Promise.all(racers.map((racer) => racer.run()))) as boolean[][];

    const applied = halves.flatMap((half, h) => half.filter((_, i) => results[h]?.[i] === true));
    assert.equal(results.flat().length, 50);
    assert.equal(applied.length, 1, JSON.stringify(results));
    const [winner] = applied as [SessionChange];
    const check = new SqliteStore({ filename });
    try {
      assert.deepEqual(await check.sessions.get(session.id), { ...session, ...winner.patch });
      assert.deepEqual(await listAudit(check), winner.audit ? [winner.audit] : []);
    } finally {
      await check.close();
    }
  });

  it('two processes racing 50 counter increments on one file count every one', async () => {
    const filename = newFilename();
    const seeder = new SqliteStore({ filename });
    await seeder.migrate();
    await seeder.close();
    const work = `return Promise.all(Array.from({ length: 25 }, () => store.counters.update(['source:x'], (current) => {
      const count = (current.get('source:x')?.count ?? 0) + 1;
      return { result: count, writes: new Map([['source:x', { count, resetAt: ${T0 + 60_000} }]]) };
    })));`;

    const racers = [startChild(filename, work), startChild(filename, work)];
    await Promise.all(racers.map((racer) => racer.ready));
    const counts = ((await Promise.all(racers.map((racer) => racer.run()))) as number[][]).flat();

    assert.deepEqual(
      counts.sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const check = new SqliteStore({ filename });
    try {
      assert.deepEqual(await check.counters.read(['source:x']), new Map([['source:x', { count: 50, resetAt: T0 + 60_000 }]]));
    } finally {
      await check.close();
    }
  });

  it('a closed and reopened store keeps its data, and a change decided before an applied one still misses', async () => {
    const filename = newFilename();
    const first = new SqliteStore({ filename });
    await first.migrate();
    const session = await seedSession(first);
    const refresh = rotation(session, T0 + 1000);
    assert.equal(await first.sessions.apply(refresh), true);
    const counter = { count: 1, resetAt: T0 + 60_000 };
    await first.counters.update(['user:x'], () => ({ result: undefined, writes: new Map([['user:x', counter]]) }));
    await first.close();

    const reopened = new SqliteStore({ filename });
    try {
      await reopened.migrate();
      assert.equal(await reopened.pendingMigrations(), 0);
      assert.equal((await reopened.users.findById(session.userId))?.id, session.userId);
      assert.deepEqual(await reopened.sessions.get(session.id), { ...session, ...refresh.patch });
      assert.equal((await reopened.counters.read(['user:x'])).get('user:x')?.count, 1);
      assert.equal(await reopened.sessions.apply(revocation(session, T0 + 60_000)), false);
      assert.deepEqual(await reopened.audit.list({ limit: 10 }), []);
    } finally {
      await reopened.close();
    }
  });

  it('changes to many sessions committed together (group commit) are all on disk after a reopen', async () => {
    const filename = newFilename();
    const first = new SqliteStore({ filename });
    await first.migrate();
    const sessions = await Promise.all(Array.from({ length: 100 }, () => seedSession(first)));
    const changes = sessions.map((session) => rotation(session, T0 + 1000));
    // Handed over in one event-loop turn: they share one transaction.
    assert.deepEqual(await Promise.all(changes.map((change) => first.sessions.apply(change))), changes.map(() => true));
    await first.close();
    const reopened = new SqliteStore({ filename });
    try {
      for (const [i, session] of sessions.entries()) {
        assert.deepEqual(await reopened.sessions.get(session.id), { ...session, ...changes[i]?.patch });
      }
    } finally {
      await reopened.close();
    }
  });

  it('in one group commit, a change that meets an unexpected error fails alone, whole; the others apply', async () => {
    const filename = newFilename();
    const store = new SqliteStore({ filename });
    await store.migrate();
    try {
      const good = await seedSession(store);
      const bad = await seedSession(store);
      const broken = revocation(bad, T0 + 1000);
      // An audit event the table refuses (NOT NULL): the change's update must go with it.
      const refused = { ...broken, audit: { ...broken.audit, sourceAddress: null } } as unknown as SessionChange;
      const results = await Promise.allSettled([store.sessions.apply(refused), store.sessions.apply(rotation(good, T0 + 1000))]);
      assert.equal(results[0].status, 'rejected');
      assert.deepEqual(results[1], { status: 'fulfilled', value: true });
      assert.equal((await store.sessions.get(good.id))?.generation, 1);
      assert.deepEqual(await store.sessions.get(bad.id), bad, 'the failed change wrote nothing');
      assert.deepEqual(await store.audit.list({ limit: 10 }), []);
    } finally {
      await store.close();
    }
  });

  it('a session started or ended is answered only once an fsync of the log has returned, run off the event loop', async () => {
    const filename = newFilename();
    const held: Array<() => void> = [];
    let holding = false;
    const store = new SqliteStore({
      filename,
      fdatasync: (fd, callback) => (holding ? held.push(() => fdatasync(fd, callback)) : fdatasync(fd, callback)),
    });
    await store.migrate();
    try {
      const first = await seedSession(store);
      holding = true;
      const answered: string[] = [];
      const started = seedSession(store).then((session) => (answered.push('started'), session));
      const ended = store.sessions.end(first.id, 'logout', T0 + 1000).then((done) => (answered.push('ended'), done));
      for (let turn = 0; turn < 5; turn++) await nextTurn();
      assert.deepEqual(answered, [], 'neither is answered while the fsync is held');
      assert.equal(held.length, 1, 'one fsync, on libuv’s threads, for the first; the second waits for the next');

      holding = false;
      for (const release of held.splice(0)) release();
      const session = await started;
      assert.equal(await ended, true);
      assert.deepEqual(await store.sessions.get(session.id), session);
      assert.equal((await store.sessions.get(first.id))?.endedAt, T0 + 1000);
    } finally {
      await store.close();
    }
  });

  it('once an fsync of the log fails, the store refuses every write as unavailable until restarted; reads go on', async () => {
    const filename = newFilename();
    let failing = false;
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' });
    const store = new SqliteStore({
      filename,
      fdatasync: (fd, callback) => (failing ? queueMicrotask(() => callback(eio)) : fdatasync(fd, callback)),
    });
    await store.migrate();
    try {
      const session = await seedSession(store);
      assert.equal(await store.sessions.apply(rotation(session, T0 + 1000)), true);
      const rotated = await store.sessions.get(session.id);
      assert.ok(rotated);

      failing = true;
      const [failed] = await Promise.allSettled([store.sessions.apply(rotation(rotated, T0 + 2000))]);
      assert.equal(failed.status, 'rejected', 'the batch whose fsync failed is not answered as done');
      assert.equal(store.isUnavailableError(failed.reason), true, String(failed.reason));
      assert.equal(((failed.reason as Error).cause as { code?: string }).code, 'EIO');
      failing = false; // the disk "recovers": a later fsync would succeed, and must not be trusted
      const refused = await Promise.allSettled([
        store.sessions.apply(rotation(rotated, T0 + 3000)),
        seedSession(store),
        store.counters.update(['k'], () => ({ result: undefined, writes: new Map([['k', { count: 1, resetAt: T0 + 60_000 }]]) })),
        store.audit.record({ at: T0, type: 'login_succeeded', userId: null, sessionId: null, sourceAddress: '127.0.0.1', userAgent: 'test', detail: 'x' }),
        store.ping(),
      ]);
      for (const result of refused) {
        assert.equal(result.status, 'rejected');
        assert.equal(store.isUnavailableError(result.reason), true, String(result.reason));
        assert.match(String((result.reason as Error).message), /takes no more writes: an fsync of its write-ahead log failed \(EIO\)/);
      }
      assert.ok(await store.sessions.get(session.id), 'reads still work');
    } finally {
      await store.close();
    }
  });

  it('what resolved before the process was killed with SIGKILL is on disk', async () => {
    const filename = newFilename();
    const seeder = new SqliteStore({ filename });
    await seeder.migrate();
    const sessions = await Promise.all(Array.from({ length: 20 }, () => seedSession(seeder)));
    await seeder.close();
    const changes = sessions.map((session, i) => (i % 4 === 0 ? revocation(session, T0 + 1000) : rotation(session, T0 + 1000)));
    const work = `
      const applied = await Promise.all(${JSON.stringify(changes)}.map((change) => store.sessions.apply(change)));
      const counter = { count: 3, resetAt: ${T0 + 60_000} };
      await store.counters.update(['user:killed'], () => ({ result: undefined, writes: new Map([['user:killed', counter]]) }));
      return applied;`;

    const child = startChild(filename, work, { killWhenDone: true });
    await child.ready;
    assert.deepEqual(await child.run(), changes.map(() => true));

    const reopened = new SqliteStore({ filename });
    try {
      for (const [i, session] of sessions.entries()) {
        assert.deepEqual(await reopened.sessions.get(session.id), { ...session, ...changes[i]?.patch });
      }
      assert.equal((await reopened.audit.list({ limit: 100 })).length, 5);
      assert.equal((await reopened.counters.read(['user:killed'])).get('user:killed')?.count, 3);
    } finally {
      await reopened.close();
    }
  });
});

const storeModule = fileURLToPath(new URL('./sqlite-store.ts', import.meta.url));

/** How long a child process may take before it is killed and its test fails. */
const CHILD_DEADLINE_MS = 60_000;

/**
 * A separate Node process with its own SqliteStore on `filename`: `ready` resolves once it has
 * opened the file; `run` makes it run `work` (the body of an async function of `store`) and
 * resolves with what that returned. With `killWhenDone`, the process is killed with SIGKILL as soon
 * as it has answered, its store still open: no close, no checkpoint.
 */
function startChild(
  filename: string,
  work: string,
  options: { killWhenDone?: boolean } = {},
): { ready: Promise<void>; run(): Promise<unknown> } {
  const script = `
    import { SqliteStore } from ${JSON.stringify(storeModule)};
    const store = new SqliteStore({ filename: ${JSON.stringify(filename)} });
    const work = async (store) => { ${work} };
    process.stdout.write('ready\\n');
    process.stdin.once('data', async () => {
      const result = await work(store);
      process.stdout.write(JSON.stringify(result) + '\\n');
      if (${JSON.stringify(options.killWhenDone === true)}) return setInterval(() => undefined, 1000);
      await store.close();
      process.exit(0);
    });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const deadline = setTimeout(() => child.kill('SIGKILL'), CHILD_DEADLINE_MS);
  let output = '';
  child.stdout.setEncoding('utf8');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      resolve({ code, signal });
    });
  });
  const answered = new Promise<string>((resolve) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const lines = output.split('\n');
      if (lines.length > 2) resolve(lines[1] as string);
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (output.startsWith('ready\n')) resolve();
    });
    void exited.then(({ code, signal }) => reject(new Error(`child process exited early with ${code ?? signal}`)), reject);
  });
  return {
    ready,
    async run() {
      child.stdin.write('go\n');
      if (options.killWhenDone) {
        const answer = await Promise.race([answered, exited.then(() => null)]);
        assert.ok(answer !== null, 'the child answered before it exited');
        child.kill('SIGKILL');
        assert.equal((await exited).signal, 'SIGKILL');
        return JSON.parse(answer) as unknown;
      }
      const { code } = await exited;
      assert.equal(code, 0, `child process exited with ${code}`);
      const answer = output.split('\n')[1];
      assert.ok(answer, 'the child answered');
      return JSON.parse(answer) as unknown;
    },
  };
}
