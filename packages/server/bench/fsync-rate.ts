// Child process of token.ts: the ceiling the disk puts on durable commits. A trivial
// better-sqlite3 loop, WAL + synchronous=FULL (as the server's store), one row per committed
// transaction; and, for context, 16 rows per commit (what group commit could reach).
// Prints one JSON line on stdout. Usage: fsync-rate.ts <dir> <seconds>
import Database from 'better-sqlite3';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) throw new Error('usage: fsync-rate.ts <dir> <seconds>');
const seconds = Number(process.argv[3] ?? '3');

const db = new Database(join(dir, 'fsync-probe.sqlite'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, hash TEXT NOT NULL, at INTEGER NOT NULL)');
const insert = db.prepare('INSERT INTO t (hash, at) VALUES (?, ?)');
const payload = 'x'.repeat(43);

function measure(rowsPerCommit: number, ms: number): { commits: number; rows: number } {
  const commit = db.transaction(() => {
    for (let i = 0; i < rowsPerCommit; i++) insert.run(payload, Date.now());
  });
  const start = performance.now();
  const deadline = start + ms;
  let commits = 0;
  while (performance.now() < deadline) {
    commit.immediate();
    commits++;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { commits: commits / elapsed, rows: (commits * rowsPerCommit) / elapsed };
}

measure(1, 300); // warm-up
const single = measure(1, seconds * 1000);
const batched = measure(16, Math.max(1000, (seconds * 1000) / 2));
db.close();
process.stdout.write(`${JSON.stringify({ commitsPerSecond: single.commits, batched16RowsPerSecond: batched.rows, batched16CommitsPerSecond: batched.commits })}\n`);
