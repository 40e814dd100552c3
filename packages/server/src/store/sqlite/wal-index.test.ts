import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WalIndexHeader } from './wal-index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'antpeer-wal-index-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A database in WAL mode with one table, as the store opens it. */
function walDatabase(name: string): Database.Database {
  const db = new Database(join(dir, name));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (x INTEGER)');
  return db;
}

/** A wal-index file of two header copies, the first `first`, the second `second` (12 words each). */
async function shmFile(name: string, first: number[], second = first): Promise<string> {
  const database = join(dir, name);
  await writeFile(`${database}-shm`, Buffer.from(new Uint32Array([...first, ...second]).buffer));
  return database;
}

/** A well-formed header: format 3007000, initialised (byte 12), `commits` commits. */
function header(commits: number): number[] {
  return [3007000, 0, commits, 1 | (4096 << 16), 7, 3, 11, 12, 13, 14, 15, 16];
}

describe('WalIndexHeader', () => {
  it('sees every commit of this connection and of another one, by the next read, and none where there was none', () => {
    const db = walDatabase('a.db');
    const other = new Database(join(dir, 'a.db'));
    const index = WalIndexHeader.open(join(dir, 'a.db'));
    assert.ok(index);
    try {
      assert.equal(index.unchanged(), false, 'the first read has nothing to compare with');
      assert.equal(index.unchanged(), true);
      const before = index.commits;
      assert.ok(before !== null);

      db.prepare('INSERT INTO t VALUES (1)').run();
      assert.equal(index.unchanged(), false, 'own commit');
      assert.equal(index.commits, before + 1, 'one commit counts one');
      assert.equal(index.unchanged(), true);

      other.prepare('INSERT INTO t VALUES (2)').run();
      other.prepare('INSERT INTO t VALUES (3)').run();
      assert.equal(index.unchanged(), false, 'another connection’s commits');
      assert.equal(index.commits, before + 3);

      db.prepare('SELECT COUNT(*) FROM t').get();
      other.pragma('wal_checkpoint(PASSIVE)');
      assert.equal(index.unchanged(), true, 'reads and checkpoints (the checkpointer’s kind) change nothing');

      db.exec('BEGIN IMMEDIATE; INSERT INTO t VALUES (4); ROLLBACK');
      assert.equal(index.unchanged(), true, 'a transaction rolled back changes nothing');

      // What SqliteDatabase.commitMark relies on: a transaction that changed a row is one commit,
      // even when a savepoint put every change back.
      db.exec('BEGIN IMMEDIATE; SAVEPOINT s; INSERT INTO t VALUES (5); ROLLBACK TO s; RELEASE s; COMMIT');
      assert.equal(index.unchanged(), false);
      assert.equal(index.commits, before + 4);
    } finally {
      index.close();
      other.close();
      db.close();
    }
  });

  it('counts a header whose two copies differ (a commit writing it) as changed, every time', async () => {
    const index = WalIndexHeader.open(await shmFile('b.db', header(5), header(6)));
    assert.ok(index);
    try {
      assert.equal(index.unchanged(), false);
      assert.equal(index.unchanged(), false);
      assert.equal(index.commits, null);
    } finally {
      index.close();
    }
  });

  it('counts a header it does not know as changed, every time: another format version, not initialised, too short', async () => {
    const unknown = [
      await shmFile('c.db', [3007001, ...header(5).slice(1)]),
      await shmFile('d.db', [3007000, 0, 5, 4096 << 16, ...header(5).slice(4)]),
      await shmFile('e.db', header(5).slice(0, 6), []),
    ];
    for (const database of unknown) {
      const index = WalIndexHeader.open(database);
      assert.ok(index);
      try {
        assert.equal(index.unchanged(), false, database);
        assert.equal(index.unchanged(), false, database);
      } finally {
        index.close();
      }
    }
    const known = WalIndexHeader.open(await shmFile('f.db', header(5)));
    assert.ok(known);
    try {
      assert.equal(known.unchanged(), false);
      assert.equal(known.unchanged(), true, 'the same header, well formed, twice');
      assert.equal(known.commits, 5);
    } finally {
      known.close();
    }
  });

  it('is not there for a database without a wal-index', () => {
    assert.equal(WalIndexHeader.open(join(dir, 'none.db')), null);
  });
});
