import { closeSync, fdatasync as nodeFdatasync, openSync } from 'node:fs';

/** What a WalSync is told and given besides its file. */
export interface WalSyncOptions {
  /** Told once, when an fsync fails. */
  onFailure?: (error: NodeJS.ErrnoException) => void;
  /** Fault injection for tests. */
  fdatasync?: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void;
}

interface Waiter {
  commit: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Puts the commits of one SQLite connection on disk from libuv's thread pool instead of inside the
 * commit, on the event loop. The connection commits with `synchronous = NORMAL` (in WAL mode: the
 * frames are written to the WAL file, not fsync'd) and counts the commit here; {@link durable}
 * resolves once an `fdatasync` of the WAL file that started after that commit has returned. One
 * fsync runs at a time and covers every commit made before it started: commits made while it runs
 * share the next one. A kill of the process loses nothing either way (the frames are in the
 * kernel's page cache); this is about power loss. A checkpoint never copies a frame before the WAL
 * is synced, and the WAL restarts only after every frame is copied and the database file synced, so
 * the file this syncs holds every frame not yet safe elsewhere.
 *
 * An `fdatasync` that fails is final, as in PostgreSQL: Linux may drop the pages it could not
 * write and report the next fsync as a success, so a later "durable" would cover a log with a hole
 * in it (and recovery stops at the first bad frame, losing every commit after it). From the first
 * failure on, every {@link durable} rejects with it, and `onFailure` is told once.
 */
export class WalSync {
  readonly #path: string;
  readonly #onFailure: (error: NodeJS.ErrnoException) => void;
  readonly #fdatasync: NonNullable<WalSyncOptions['fdatasync']>;
  #failure: NodeJS.ErrnoException | null = null;
  #fd: number | null = null;
  #committed = 0;
  #synced = 0;
  #waiters: Waiter[] = [];
  #running: Promise<void> | null = null;

  /** `databaseFile`: the path of the database (its WAL is beside it). */
  constructor(databaseFile: string, options: WalSyncOptions = {}) {
    this.#path = `${databaseFile}-wal`;
    this.#onFailure = options.onFailure ?? (() => undefined);
    this.#fdatasync = options.fdatasync ?? nodeFdatasync;
  }

  /** Counts a commit just made (its frames are in the WAL file); returns its number for {@link durable}. */
  committed(): number {
    this.#committed += 1;
    return this.#committed;
  }

  /** Resolves once commit number `commit` is on disk; rejects if the fsync that should have put it there failed. */
  durable(commit: number): Promise<void> {
    if (commit <= this.#synced) return Promise.resolve();
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ commit, resolve, reject });
      this.#running ??= this.#run();
    });
  }

  /** Resolves once no fsync is running or wanted. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Closes the WAL file (after {@link idle}). */
  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  async #run(): Promise<void> {
    // Never settle synchronously: `#running` must hold this run before it can end (and clear it),
    // or a run that failed at once would stay marked as running for good.
    await null;
    try {
      while (this.#waiters.length > 0) {
        const upTo = this.#committed;
        const error = await this.#sync(upTo);
        // After a failed fsync, every waiter fails with it, those of later commits too.
        const settled = this.#failure ? this.#waiters : this.#waiters.filter((waiter) => waiter.commit <= upTo);
        this.#waiters = this.#failure ? [] : this.#waiters.filter((waiter) => waiter.commit > upTo);
        for (const waiter of settled) {
          if (error) waiter.reject(error);
          else waiter.resolve();
        }
      }
    } finally {
      this.#running = null;
    }
  }

  /** One fsync covering every commit up to `upTo`: null once they are on disk, else why not. */
  async #sync(upTo: number): Promise<unknown> {
    let fd: number;
    try {
      // Opened once: the server's connections keep the WAL file in place (SQLite deletes it only
      // when the last connection to the database closes).
      fd = this.#fd ??= openSync(this.#path, 'r');
    } catch (error) {
      // Nothing was written or lost: the next commit tries again.
      return error;
    }
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => this.#fdatasync(fd, resolve));
    if (error) {
      this.#failure = error;
      this.#onFailure(error);
      return error;
    }
    this.#synced = upTo;
    return null;
  }
}
