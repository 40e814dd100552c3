import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { waitFor } from '../../test/process.js';
import { SqliteStore } from './sqlite-store.js';

const T0 = Date.UTC(2031, 0, 1);

/** Frames in the log, and how many of them are already copied into the database file. */
function walState(filename: string): { log: number; checkpointed: number } {
  // A NOOP checkpoint copies nothing and reports the counters.
  const probe = new Database(filename);
  try {
    probe.pragma('wal_autocheckpoint = 0');
    const [row] = probe.pragma('wal_checkpoint(NOOP)') as Array<{ busy: number; log: number; checkpointed: number }>;
    return { log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 };
  } finally {
    probe.close();
  }
}

/** Adds `count` users in one transaction each: every commit appends to the log. */
async function commitMany(store: SqliteStore, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await store.users.create({ id: `u${i}`, username: `app-${i}-${'x'.repeat(200)}`, passwordHash: 'h'.repeat(500), createdAt: T0 });
  }
}

describe('checkpointing the SQLite write-ahead log', () => {
  it('a server store copies the log into the database from its own thread, not inside a commit', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'antpeer-checkpoint-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const filename = join(dir, 'antpeer.sqlite');
    const store = new SqliteStore({ filename, checkpointIntervalMs: 20 });
    t.after(() => store.close());
    await store.migrate();
    await commitMany(store, 0, 200);
    const copied = await waitFor('the checkpoint thread to copy the log', () => {
      const state = walState(filename);
      return state.log > 0 && state.checkpointed === state.log ? state : undefined;
    });
    assert.ok(copied.log > 0);
  });

  it('a command store leaves the log to the commits, which copy it only past 1000 pages', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'antpeer-checkpoint-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const filename = join(dir, 'antpeer.sqlite');
    const store = new SqliteStore({ filename });
    t.after(() => store.close());
    await store.migrate();
    await commitMany(store, 0, 200);
    const state = walState(filename);
    assert.ok(state.log > 0 && state.log < 1000, `${state.log} frames in the log`);
    assert.equal(state.checkpointed, 0, 'no thread copied anything');
  });

  it('closing the store stops its thread: the process is left with no checkpointer', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'antpeer-checkpoint-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const filename = join(dir, 'antpeer.sqlite');
    const store = new SqliteStore({ filename, checkpointIntervalMs: 20 });
    await store.migrate();
    await store.close();
    const writer = new SqliteStore({ filename });
    t.after(() => writer.close());
    await commitMany(writer, 0, 50);
    const before = walState(filename);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(walState(filename), before, 'nothing checkpoints after close');
  });
});
