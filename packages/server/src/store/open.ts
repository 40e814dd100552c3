import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Store } from './port.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

/** The file of the embedded store inside the data directory. */
export const SQLITE_FILENAME = 'antpeer.sqlite';

/** Opens the store the configuration names: PostgreSQL when `DATABASE_URL` is set, else the embedded SQLite file. */
export async function openStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Store> {
  if (config.databaseUrl !== null) {
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return new PostgresStore({ connectionString: config.databaseUrl });
  }
  return new SqliteStore({ filename: join(config.dataDir, SQLITE_FILENAME) });
}
