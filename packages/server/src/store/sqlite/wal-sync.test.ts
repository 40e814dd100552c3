import assert from 'node:assert/strict';
import { fdatasync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WalSync } from './wal-sync.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'antpeer-wal-sync-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('WalSync', () => {
  it('answers every commit once an fsync that started after it has returned, commits made meanwhile included', async () => {
    const database = join(dir, 'a.db');
    await writeFile(`${database}-wal`, 'frames');
    const sync = new WalSync(database);
    try {
      const first = sync.committed();
      const waiting = sync.durable(first);
      const second = sync.committed();
      await Promise.all([waiting, sync.durable(second), sync.durable(first)]);
      await sync.durable(second);
      await sync.idle();
    } finally {
      sync.close();
    }
  });

  it('rejects the commits an fsync should have covered when it fails, and syncs again for the next', async () => {
    const database = join(dir, 'b.db');
    const sync = new WalSync(database);
    try {
      await assert.rejects(sync.durable(sync.committed()), { code: 'ENOENT' });
      await writeFile(`${database}-wal`, 'frames');
      await sync.durable(sync.committed());
    } finally {
      sync.close();
    }
  });

  it('a failed fsync is final: its commits and every later one are refused with its error, and onFailure is told once', async () => {
    const database = join(dir, 'c.db');
    await writeFile(`${database}-wal`, 'frames');
    const eio = Object.assign(new Error('EIO'), { code: 'EIO' });
    let failing = true;
    const failures: unknown[] = [];
    const sync = new WalSync(database, {
      onFailure: (error) => failures.push(error),
      fdatasync: (fd, callback) => {
        if (failing) setImmediate(() => callback(eio));
        else fdatasync(fd, callback);
      },
    });
    try {
      const first = sync.committed();
      const waiting = sync.durable(first);
      const second = sync.committed(); // made while the failing fsync runs: it would have been the next one's
      await assert.rejects(waiting, { code: 'EIO' });
      failing = false;
      await assert.rejects(sync.durable(second), { code: 'EIO' });
      await assert.rejects(sync.durable(sync.committed()), { code: 'EIO' }, 'a later fsync that would succeed is not trusted');
      await sync.idle();
      assert.deepEqual(failures, [eio]);
    } finally {
      sync.close();
    }
  });
});
