import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Store } from './port.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

/** The file of the embedded store inside the data directory. */
export const SQLITE_FILENAME = 'antpeer.sqlite';

/** The connection string node-postgres gets: our own `?schema=` parameter is not one of its. */
function withoutSchemaParameter(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (!url.searchParams.has('schema')) return databaseUrl;
  url.searchParams.delete('schema');
  return url.toString();
}

/**
 * Opens the store the configuration names: PostgreSQL (pooled, in `databaseSchema`) when
 * `DATABASE_URL` is set, else the embedded SQLite file in the data directory.
 */
export async function openStore(
  config: Pick<
    Config,
    'databaseUrl' | 'dataDir' | 'databaseSchema' | 'databasePoolSize' | 'databaseStatementTimeoutMs' | 'databaseLockTimeoutMs'
  >,
): Promise<Store> {
  if (config.databaseUrl !== null) {
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return new PostgresStore({
      connectionString: withoutSchemaParameter(config.databaseUrl),
      schema: config.databaseSchema,
      poolSize: config.databasePoolSize,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
      lockTimeoutMs: config.databaseLockTimeoutMs,
    });
  }
  return new SqliteStore({ filename: join(config.dataDir, SQLITE_FILENAME) });
}
