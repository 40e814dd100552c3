// The thread of the WAL checkpointer (see checkpointer.ts): copies committed pages from the
// write-ahead log into the database file, and fsyncs it, off the event loop. PASSIVE never waits
// for a reader or writer, so it never delays a request; what it cannot copy now, it copies next time.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointWorkerData } from './checkpointer.js';

const { filename, intervalMs } = workerData as CheckpointWorkerData;
const db = new Database(filename);
db.pragma('wal_autocheckpoint = 0');

const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY (another process is checkpointing) or a transient I/O error: the next round retries
  }
}, intervalMs);

parentPort?.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
