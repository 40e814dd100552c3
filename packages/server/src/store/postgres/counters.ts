import type { Counter, CounterStore, CounterWrites } from '../port.js';
import { TurnBatcher } from './batch.js';
import type { PostgresDatabase } from './database.js';

/**
 * Failure counters on PostgreSQL. An update holds a transaction-scoped advisory lock per key,
 * taken in sorted order (so two updates never deadlock), while it reads, decides and writes: a
 * check-and-increment that no other instance can interleave with. Plain reads (every refresh
 * checks its source's) of one event-loop turn are one statement.
 */
export class PostgresCounterStore implements CounterStore {
  readonly #reads: TurnBatcher<readonly string[], ReadonlyMap<string, Counter>>;

  constructor(private readonly d: PostgresDatabase) {
    this.#reads = new TurnBatcher<readonly string[], ReadonlyMap<string, Counter>>(async (batches) => {
      const all = await this.#read((sql, values) => this.d.query(sql, values), [...new Set(batches.flat())]);
      return batches.map((keys) => new Map(keys.flatMap((key) => (all.has(key) ? [[key, all.get(key) as Counter]] : []))));
    });
  }

  read(keys: readonly string[]): Promise<ReadonlyMap<string, Counter>> {
    return this.#reads.call(keys);
  }

  async #read(
    query: (sql: string, values: unknown[]) => Promise<{ rows: Array<{ key: string; count: number; reset_at: string }> }>,
    keys: readonly string[],
  ): Promise<Map<string, Counter>> {
    const { rows } = await query(`SELECT key, count, reset_at FROM ${this.d.s}.failure_counters WHERE key = ANY($1::text[])`, [
      [...keys],
    ]);
    return new Map(rows.map((row) => [row.key, { count: row.count, resetAt: Number(row.reset_at) }]));
  }

  async update<T>(
    keys: readonly string[],
    decide: (current: ReadonlyMap<string, Counter>) => { result: T; writes: CounterWrites },
  ): Promise<T> {
    const s = this.d.s;
    const sorted = [...new Set(keys)].sort();
    return this.d.transaction(async (client) => {
      await client.query(
        `SELECT pg_advisory_xact_lock(hashtextextended($1 || k, 0)) FROM unnest($2::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n`,
        [`${this.d.schema}:counter:`, sorted],
      );
      const { result, writes } = decide(await this.#read((sql, values) => client.query(sql, values), sorted));
      const kept = [...writes].filter((entry): entry is [string, Counter] => entry[1] !== null);
      const dropped = [...writes].filter(([, counter]) => counter === null).map(([key]) => key);
      if (kept.length > 0) {
        await client.query(
          `INSERT INTO ${s}.failure_counters (key, count, reset_at)
           SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
           ON CONFLICT (key) DO UPDATE SET count = EXCLUDED.count, reset_at = EXCLUDED.reset_at`,
          [kept.map(([key]) => key), kept.map(([, c]) => c.count), kept.map(([, c]) => c.resetAt)],
        );
      }
      if (dropped.length > 0) {
        await client.query(`DELETE FROM ${s}.failure_counters WHERE key = ANY($1::text[])`, [dropped]);
      }
      return result;
    });
  }
}
