import type { Counter, CounterStore, CounterWrites } from '../port.js';
import type { SqliteDatabase } from './database.js';

/** Failure counters on SQLite: an update is one write transaction (the file's lock makes it atomic), committed relaxed. */
export class SqliteCounterStore implements CounterStore {
  constructor(private readonly d: SqliteDatabase) {}

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
    return this.#read(keys);
  }

  async update<T>(
    keys: readonly string[],
    decide: (current: ReadonlyMap<string, Counter>) => { result: T; writes: CounterWrites },
  ): Promise<T> {
    return this.d.write(() => {
      const { result, writes } = decide(this.#read(keys));
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
  }
}
