// How long the background purge holds the event loop on SQLite (which runs on it): seeds ended
// sessions into a real file, then runs the server's own purge (`purgeStore` with the server's batch
// size) while a timer measures the event loop's delay, as a request waiting behind a batch sees it.
// Usage: npm run bench -- purge [--sessions N]
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { PURGE_BATCH, PURGE_MAX_BATCHES } from '../src/server.js';
import { CHECKPOINT_INTERVAL_MS } from '../src/store/open.js';
import { purgeStore } from '../src/store/purge.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { table } from './password-harness.js';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '200000' } } });
const sessions = Number(values.sessions);
const T0 = Date.UTC(2031, 0, 1);
const dir = mkdtempSync(join(tmpdir(), 'antpeer-bench-purge-'));
const filename = join(dir, 'antpeer.sqlite');

try {
  const store = new SqliteStore({ filename });
  await store.migrate();
  await store.users.create({ id: 'u1', username: 'app', passwordHash: 'h', createdAt: T0 });
  await store.close();
  const seed = new Database(filename);
  const insert = seed.prepare(
    `INSERT INTO sessions (id, user_id, created_at, idle_expires_at, max_expires_at, last_refresh_at, ended_at, end_reason,
       source_address, user_agent, generation, token_issued_at)
     VALUES (?, 'u1', ?, ?, ?, ?, ?, 'logout', '203.0.113.1', 'bench/1.0 (purge)', 7, ?)`,
  );
  seed.transaction(() => {
    for (let i = 0; i < sessions; i++) insert.run(randomUUID(), T0, T0 + 1000, T0 + 2000, T0, T0 + 10, T0);
  })();
  seed.close();
  const sizeBefore = statSync(filename).size;

  // As a server opens it: the write-ahead log checkpointed from its own thread.
  const reopened = new SqliteStore({ filename, checkpointIntervalMs: CHECKPOINT_INTERVAL_MS });
  const batchMs: number[] = [];
  const purge = reopened.purgeExpired.bind(reopened);
  reopened.purgeExpired = async (before, limit) => {
    const start = performance.now();
    const deleted = await purge(before, limit);
    batchMs.push(performance.now() - start);
    return deleted;
  };
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await purgeStore(reopened, { now: T0 + 3000, auditRetentionMs: 0, batchSize: PURGE_BATCH, maxBatches: PURGE_MAX_BATCHES });
  const elapsedMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  delay.disable();
  await reopened.close();
  const checkpoint = new Database(filename);
  checkpoint.pragma('wal_checkpoint(TRUNCATE)');
  checkpoint.close();

  batchMs.sort((a, b) => a - b);
  const at = (q: number): string => (batchMs[Math.min(batchMs.length - 1, Math.floor(q * batchMs.length))] ?? 0).toFixed(2);
  console.log(`SQLite purge of ${sessions.toLocaleString('en')} ended sessions, ${PURGE_BATCH} rows per batch, in ${dir}\n`);
  console.log(
    table(
      ['deleted', 'batches', 'rows/s', 'CPU µs/row', 'batch p50 ms', 'batch p99 ms', 'batch max ms', 'loop delay p99 ms', 'loop delay max ms', 'file MB before → after'],
      [[
        result.expired.toLocaleString('en'),
        String(batchMs.length),
        Math.round(result.expired / (elapsedMs / 1000)).toLocaleString('en'),
        (((used.user + used.system) / Math.max(1, result.expired))).toFixed(1),
        at(0.5),
        at(0.99),
        (batchMs.at(-1) ?? 0).toFixed(2),
        (delay.percentile(99) / 1e6).toFixed(2),
        (delay.max / 1e6).toFixed(2),
        `${(sizeBefore / 1e6).toFixed(1)} → ${(statSync(filename).size / 1e6).toFixed(1)}`,
      ]],
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
