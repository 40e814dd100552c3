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

/** How often a server's SQLite store checkpoints its write-ahead log, from a thread of its own. */
export const CHECKPOINT_INTERVAL_MS = 100;

/**
 * Opens the store the configuration names: PostgreSQL (pooled, in `databaseSchema`) when
 * `DATABASE_URL` is set, else the embedded SQLite file in the data directory. A `server` store
 * does its housekeeping in the background (see `SqliteStoreOptions.checkpointIntervalMs`); a
 * command's store does nothing it was not asked to.
 */
export async function openStore(
  config: Pick<
    Config,
    'databaseUrl' | 'dataDir' | 'databaseSchema' | 'databasePoolSize' | 'databaseStatementTimeoutMs' | 'databaseLockTimeoutMs'
  >,
  role: 'server' | 'command' = 'command',
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
  const filename = join(config.dataDir, SQLITE_FILENAME);
  return new SqliteStore(role === 'server' ? { filename, checkpointIntervalMs: CHECKPOINT_INTERVAL_MS } : { filename });
}
