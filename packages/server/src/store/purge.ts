import type { Store } from './port.js';

export interface PurgeOptions {
  /** Now (ms): sessions, tokens and counters that ended or expired before it go. */
  now: number;
  /** How long audit events are kept (ms); 0 keeps them forever. */
  auditRetentionMs: number;
  /** Rows of each kind per statement: each batch is one short transaction, so no lock is held for long. */
  batchSize: number;
  /** Most batches of each kind in this run; what is left waits for the next run. */
  maxBatches: number;
}

export interface PurgeResult {
  /** Sessions, refresh tokens and failure counters deleted. */
  expired: number;
  /** Audit events deleted. */
  audit: number;
  /** False when `maxBatches` ran out before everything due was deleted. */
  complete: boolean;
}

/** Lets requests in between two batches (SQLite runs them on the event loop's thread). */
function yieldToRequests(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Deletes what nothing needs any more, in bounded batches: expired or ended sessions with their
 * tokens, expired refresh tokens, lapsed failure counters, and audit events older than the
 * retention. Safe to run from every instance at once (the PostgreSQL store skips rows another
 * purge or a rotation holds).
 */
export async function purgeStore(store: Store, options: PurgeOptions): Promise<PurgeResult> {
  const result: PurgeResult = { expired: 0, audit: 0, complete: true };
  const drain = async (batch: () => Promise<number>): Promise<number> => {
    let total = 0;
    for (let round = 0; round < options.maxBatches; round += 1) {
      const deleted = await batch();
      total += deleted;
      if (deleted === 0) return total;
      await yieldToRequests();
    }
    result.complete = false;
    return total;
  };
  result.expired = await drain(() => store.purgeExpired(options.now, options.batchSize));
  if (options.auditRetentionMs > 0) {
    const auditBefore = options.now - options.auditRetentionMs;
    result.audit = await drain(() => store.purgeAudit(auditBefore, options.batchSize));
  }
  return result;
}
