import type { Counter, CounterStore, CounterWrites } from '../port.js';
import { onlyOwnCommitsBetween, type CommitMark, type SqliteDatabase } from './database.js';
import { OncePerTurn, type WalIndexHeader } from './wal-index.js';

/** Counters kept from reads at most (all dropped at once when full). */
const KEPT_COUNTERS = 4096;

/**
 * Failure counters on SQLite: an update is one write transaction (the file's lock makes it atomic),
 * committed relaxed. What `read` found (a counter, or none) is kept while every commit to the file
 * since was this connection's own (see {@link #keptCurrent}), and an update of a kept key writes
 * through: every grant reads its source's counter, and a source that fails rarely has none.
 */
export class SqliteCounterStore implements CounterStore {
  /** Counters read (null: none stored), current as of {@link #mark}. */
  readonly #kept = new Map<string, Counter | null>();
  #walIndex: WalIndexHeader | null = null;
  /** The file's commits when {@link #kept} was last known current. */
  #mark: CommitMark | null = null;
  readonly #headerTurns = new OncePerTurn();

  constructor(private readonly d: SqliteDatabase) {}

  /**
   * Whether the counters kept are still what a read would find: the wal-index header counts one more
   * commit for each of this connection's since the mark, and none of anyone else's (which might
   * have written a counter). Moves the mark to now either way, before any row is read. The header
   * is read at the first read of each turn of the event loop (see {@link OncePerTurn}), and again
   * after a commit of this connection: another connection's write is seen from the next turn on.
   */
  #keptCurrent(): boolean {
    this.#walIndex ??= this.d.openWalIndex();
    const before = this.#mark;
    if (!this.#headerTurns.first() && before !== null && before.own === this.d.ownCommits) return true;
    this.#mark = this.d.commitMark(this.#walIndex?.readCommits() ?? null);
    return onlyOwnCommitsBetween(before, this.#mark);
  }

  #read(keys: readonly string[]): Map<string, Counter> {
    const found = new Map<string, Counter>();
    for (const key of keys) {
      const row = this.d.sql('SELECT count, reset_at FROM failure_counters WHERE key = ?').get(key) as
        | { count: number; reset_at: number }
        | undefined;
      if (row) found.set(key, { count: row.count, resetAt: row.reset_at });
    }
    return found;
  }

  async read(keys: readonly string[]): Promise<ReadonlyMap<string, Counter>> {
    if (!this.#keptCurrent() || this.#kept.size >= KEPT_COUNTERS) this.#kept.clear();
    const found = new Map<string, Counter>();
    for (const key of keys) {
      let counter = this.#kept.get(key);
      if (counter === undefined) {
        counter = this.#read([key]).get(key) ?? null;
        if (this.#mark !== null) this.#kept.set(key, counter);
      }
      if (counter !== null) found.set(key, counter);
    }
    return found;
  }

  /** Drops what reads kept: for a write of this connection to the counters not made by {@link update} (the purge). */
  forgetKept(): void {
    this.#kept.clear();
  }

  async update<T>(
    keys: readonly string[],
    decide: (current: ReadonlyMap<string, Counter>) => { result: T; writes: CounterWrites },
  ): Promise<T> {
    let written: CounterWrites = new Map();
    const result = this.d.write(() => {
      const { result, writes } = decide(this.#read(keys));
      written = writes;
      for (const [key, counter] of writes) {
        if (counter === null) this.d.sql('DELETE FROM failure_counters WHERE key = ?').run(key);
        else {
          this.d
            .sql(
              `INSERT INTO failure_counters (key, count, reset_at) VALUES (?, ?, ?)
               ON CONFLICT (key) DO UPDATE SET count = excluded.count, reset_at = excluded.reset_at`,
            )
            .run(key, counter.count, counter.resetAt);
        }
      }
      return result;
    }, 'relaxed');
    // Committed: the kept keys it wrote now hold what it wrote (others are read when asked for).
    for (const [key, counter] of written) if (this.#kept.has(key)) this.#kept.set(key, counter);
    return result;
  }
}
