// How big the SQLite store is per live session as its sessions are refreshed. A refresh token
// describes itself (session, generation, MAC), so a rotation rewrites its session's row instead of
// adding one: the size should follow the live sessions, not how often they were refreshed.
import Database from 'better-sqlite3';

export interface StoreSize {
  /** Bytes of the pages of the sessions table and its indexes (SQLite's dbstat). */
  sessionBytes: number;
  /** Bytes of the database's pages in use (page_count − freelist_count), every table. */
  fileBytes: number;
}

/** The sizes as a new read of `filename` sees them (the server's WAL included), taken while the server runs. */
export function sqliteSizes(filename: string): StoreSize {
  const db = new Database(filename, { readonly: true, fileMustExist: true });
  try {
    const sessionBytes = db
      .prepare(`SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name = 'sessions')`)
      .pluck()
      .get() as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const pages = db.pragma('page_count', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    return { sessionBytes, fileBytes: (pages - free) * pageSize };
  } finally {
    db.close();
  }
}

/** The store's size after this many refreshes in all (0: right after the sessions were started). */
export interface StorageSample extends StoreSize {
  refreshes: number;
}

export interface StorageResult {
  sessions: number;
  /** In the order taken: none, then after each round of refreshes. */
  samples: StorageSample[];
}
