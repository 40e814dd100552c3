import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditEvent } from '../port.js';
import { WalIndexHeader } from './wal-index.js';

/** How hard a transaction's commit reaches the disk. */
export type Durability =
  /**
   * `synchronous=FULL`: fsync'd before the commit returns (sessions, users, keys) — except the
   * sessions' group commits, whose fsync runs off the event loop before they are answered (see `WalSync`).
   */
  | 'durable'
  /**
   * `synchronous=NORMAL`: in WAL mode, written but not fsync'd until the next durable commit or
   * checkpoint. For failure counters, the audit trail and purges, whose every write would otherwise
   * cost an fsync on the event loop — a flood of failed logins would stall every refresh. A power
   * loss can lose the last few of them; a crash of the process alone loses nothing.
   */
  | 'relaxed';

/**
 * The commits a database had at one point: all of them (its wal-index header's count, modulo 2^32)
 * and this connection's own through {@link SqliteDatabase.write} (see `#ownCommits`).
 */
export interface CommitMark {
  readonly commits: number;
  readonly own: number;
}

/** Whether every commit between two marks was the connection's own: false when either is unknown. */
export function onlyOwnCommitsBetween(before: CommitMark | null, after: CommitMark | null): boolean {
  return before !== null && after !== null && ((after.commits - before.commits) >>> 0) === ((after.own - before.own) >>> 0);
}

/**
 * Every write fails with this once an fsync of the write-ahead log has failed (see `WalSync`): the
 * log may have a hole that a later, successful fsync would hide. Reads still work; the store
 * answers "unavailable" (503) and `/readyz` fails until the server is restarted.
 */
export class WritesStoppedError extends Error {
  readonly code = 'ANTPEER_SQLITE_WRITES_STOPPED';

  constructor(cause: NodeJS.ErrnoException) {
    super(`the SQLite store takes no more writes: an fsync of its write-ahead log failed (${cause.code ?? cause.message}); restart the server once the disk is sound`, { cause });
  }
}

/**
 * The one connection of a store to a SQLite file in WAL mode. Writes take the database lock up
 * front (`BEGIN IMMEDIATE`), so several processes serialise cleanly instead of failing on lock
 * upgrades. Statements are prepared once. One connection for every kind of write, each transaction
 * with its own {@link Durability}: SQLite drops a connection's page cache whenever another
 * connection commits, so a second connection for the relaxed writes would make each side re-read
 * from the file what the other just wrote.
 */
export class SqliteDatabase {
  readonly db: Database.Database;
  /** Whether the file is in WAL mode (an in-memory database, or a file system without shared memory, is not). */
  readonly wal: boolean;
  readonly #statements = new Map<string, Database.Statement>();
  /** Runs a function between `BEGIN IMMEDIATE` and `COMMIT`: made once, as `transaction()` builds five closures each time. */
  readonly #immediate: (fn: () => unknown) => unknown;
  #stopped: WritesStoppedError | null = null;
  /**
   * Transactions committed through {@link write} that changed a row: each is exactly one commit of
   * the database, one more in its wal-index header's count (see `WalIndexHeader`): a transaction
   * that changed a page commits, even if a savepoint put the page back. Other writes of this
   * connection (outside `write`, or changing no row but the schema) are not counted, and so look
   * like another connection's to whoever compares the two counts: never the other way round.
   */
  #ownCommits = 0;
  readonly #walIndexes: WalIndexHeader[] = [];

  constructor(filename: string) {
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
    this.db = new Database(filename);
    // Effective on a new file only (before its first table): a purge's freed pages can then be
    // handed back to the file system a few at a time (see `purgeExpired`).
    this.db.pragma('auto_vacuum = INCREMENTAL');
    this.wal = this.db.pragma('journal_mode = WAL', { simple: true }) === 'wal';
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    // After a purge the WAL file shrinks back instead of keeping its high-water mark.
    this.db.pragma('journal_size_limit = 67108864');
    this.#immediate = this.db.transaction((fn: () => unknown) => fn()).immediate;
    if (filename !== ':memory:') {
      // It holds password hashes and sealed keys: owner only. SQLite gives later -wal and -shm
      // files the database file's mode.
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(filename + suffix)) chmodSync(filename + suffix, 0o600);
      }
    }
  }

  /** The prepared statement for `sql`. @throws {WritesStoppedError} for a write, once writes have stopped. */
  sql(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    if (this.#stopped && !statement.reader) throw this.#stopped;
    return statement;
  }

  /** Why writes stopped, or null while they go on. */
  get stopped(): WritesStoppedError | null {
    return this.#stopped;
  }

  /** Stops every write from now on (the first cause is kept). */
  stopWrites(cause: NodeJS.ErrnoException): void {
    this.#stopped ??= new WritesStoppedError(cause);
  }

  /** This connection's commits through {@link write} so far (see `#ownCommits`). */
  get ownCommits(): number {
    return this.#ownCommits;
  }

  /** A mark of the database's commits now, given their count as a wal-index header read now says it (null: unknown). */
  commitMark(commits: number | null): CommitMark | null {
    return commits === null ? null : { commits, own: this.#ownCommits };
  }

  #totalChanges(): number {
    return this.sql('SELECT total_changes()').pluck().get() as number;
  }

  /**
   * A reader of the file's wal-index header of its own (see `WalIndexHeader`), closed with the
   * connection; null while the file has none (not in WAL mode, or not read yet).
   */
  openWalIndex(): WalIndexHeader | null {
    if (!this.wal || !this.db.open) return null;
    const index = WalIndexHeader.open(this.db.name);
    if (index !== null) this.#walIndexes.push(index);
    return index;
  }

  /** Closes the connection and what reads its files beside it. */
  close(): void {
    for (const index of this.#walIndexes.splice(0)) index.close();
    if (this.db.open) this.db.close();
  }

  /** Runs `fn` in one write transaction, taking the write lock first, committed as `durability` says. */
  write<T>(fn: () => T, durability: Durability = 'durable'): T {
    if (this.#stopped) throw this.#stopped;
    // Inside another transaction this is a savepoint, which commits nothing of its own.
    const changesBefore = this.db.inTransaction ? null : this.#totalChanges();
    let result: T;
    if (durability === 'durable') result = this.#immediate(fn) as T;
    else {
      this.sql('PRAGMA synchronous = NORMAL').run();
      try {
        result = this.#immediate(fn) as T;
      } finally {
        this.sql('PRAGMA synchronous = FULL').run();
      }
    }
    if (changesBefore !== null && this.#totalChanges() !== changesBefore) this.#ownCommits += 1;
    return result;
  }

  /** Records an audit event; inside a transaction it becomes part of it. */
  insertAudit(event: AuditEvent): void {
    this.sql(
      `INSERT INTO audit_events (at, type, user_id, session_id, source_address, user_agent, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(event.at, event.type, event.userId, event.sessionId, event.sourceAddress, event.userAgent, event.detail);
  }
}
