import { Worker } from 'node:worker_threads';
import { workerEntry } from '../../worker-entry.js';

export interface CheckpointWorkerData {
  filename: string;
  intervalMs: number;
}

/**
 * Pages of write-ahead log after which a committing connection checkpoints by itself while the
 * checkpointer runs: a safety net (64 MiB, the `journal_size_limit`) that only a stalled
 * checkpointer ever reaches. Without one, SQLite's default is 1000 pages.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 16_384;
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

/**
 * Checkpoints a SQLite file in WAL mode from a thread of its own. By default the connection whose
 * commit takes the log past 1000 pages copies them into the database file and fsyncs it, inside
 * that commit: on our event loop, tens of milliseconds every few seconds under load, stalling every
 * request behind it. With this running, commits only append to the log.
 *
 * `onStopped` is called if the thread dies: the caller then turns its connections' own
 * checkpointing back on, so the log stays bounded.
 */
export class Checkpointer {
  readonly #worker: Worker;
  #stopping = false;

  constructor(filename: string, intervalMs: number, onStopped: (error: unknown) => void) {
    const entry = workerEntry(import.meta.url, 'checkpoint-worker');
    const workerData: CheckpointWorkerData = { filename, intervalMs };
    this.#worker = new Worker(entry.filename, { eval: entry.eval, workerData, stdout: false, stderr: false });
    // A forgotten close() must not keep the process alive.
    this.#worker.unref();
    const died = (error: unknown): void => {
      if (this.#stopping) return;
      this.#stopping = true;
      onStopped(error);
    };
    this.#worker.once('error', died);
    this.#worker.once('exit', (code) => died(new Error(`the checkpoint thread exited with code ${code}`)));
  }

  /** Stops the thread after its current checkpoint. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    // Waiting for it must keep the process alive until it has closed its connection.
    this.#worker.ref();
    this.#worker.postMessage('stop');
    await exited;
  }
}
