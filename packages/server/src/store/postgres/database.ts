import pg from 'pg';
import { SCHEMA_NAME } from '../schema-name.js';


/** Starts TCP keep-alive probes on a connection idle this long, so a dead peer is noticed. */
const KEEPALIVE_DELAY_MS = 10_000;

export interface PostgresDatabaseOptions {
  connectionString: string;
  schema: string;
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
}

/** How much longer than the server-side statement timeout the driver waits before giving up on a silent server. */
const QUERY_TIMEOUT_MARGIN_MS = 1000;

/** A connection pool whose statements name one schema (`s`, already quoted). */
export class PostgresDatabase {
  readonly pool: pg.Pool;
  readonly schema: string;
  /** The quoted schema name every table is qualified with. */
  readonly s: string;

  constructor(options: PostgresDatabaseOptions) {
    if (!SCHEMA_NAME.test(options.schema)) {
      throw new TypeError(`schema must be a plain SQL identifier (letters, digits, _), got ${JSON.stringify(options.schema)}`);
    }
    this.schema = options.schema;
    this.s = `"${options.schema}"`;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize,
      application_name: 'antpeer-auth',
      // Without a bound, a request waits forever for a connection to a database that does not answer.
      connectionTimeoutMillis: options.connectTimeoutMs,
      // A request never holds a pooled connection for longer than these: a table lock held by
      // someone else, or a runaway statement, answers 503 instead of hanging every request behind it.
      statement_timeout: options.statementTimeoutMs,
      lock_timeout: options.lockTimeoutMs,
      query_timeout: options.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    });
    // An idle connection that dies (database restart, network cut) must not crash the process:
    // the pool drops it, and the next query that needs the database reports the failure.
    this.pool.on('error', () => undefined);
  }

  query<R extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(sql, values);
  }

  /** Runs `work` in one transaction on one connection; rolls back if it throws. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // The pool listens for errors only on idle clients: a checked-out one whose connection drops
    // would emit an 'error' nobody handles and take the process down. The failing query reports it.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }
}
