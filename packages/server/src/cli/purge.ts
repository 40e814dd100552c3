import type { Command } from 'commander';
import { systemClock } from '../clock.js';
import { loadConfig } from '../config.js';
import { openStore } from '../store/open.js';
import { purgeStore } from '../store/purge.js';
import { PURGE_BATCH } from '../server.js';
import { CliError } from './context.js';

/**
 * `antpeer-auth purge`: deletes expired or ended sessions with their tokens, lapsed failure
 * counters, and audit events older than ANTPEER_AUDIT_RETENTION days, in short batches, until none
 * is left. For operators who turn the background purge off (ANTPEER_PURGE_INTERVAL=0) and run it
 * from cron instead.
 */
export function registerPurgeCommand(program: Command): void {
  program
    .command('purge')
    .description('delete expired sessions, tokens and counters, and audit events past ANTPEER_AUDIT_RETENTION days')
    .option('--batch <rows>', 'rows per statement (each batch is one short transaction)', String(PURGE_BATCH))
    .action(async (options: { batch: string }) => {
      const config = loadConfig();
      const batchSize = Number(options.batch);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
        throw new CliError(`--batch must be a whole number from 1 to 100000, got "${options.batch}"`);
      }
      const store = await openStore(config);
      try {
        await store.migrate();
        const result = await purgeStore(store, {
          now: systemClock.now(),
          auditRetentionMs: config.maintenance.auditRetentionMs,
          batchSize,
          maxBatches: Number.MAX_SAFE_INTEGER,
        });
        process.stdout.write(
          `purged ${result.expired} expired session, token and counter row(s) and ${result.audit} audit event(s) (${store.kind})\n`,
        );
      } finally {
        await store.close();
      }
    });
}
