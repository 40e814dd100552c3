import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { openStore } from '../store/open.js';

/** `antpeer-auth migrate`: applies pending store migrations and exits. */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => {
      const store = await openStore(loadConfig());
      try {
        await store.migrate();
        process.stdout.write(`migrations applied (${store.kind})\n`);
      } finally {
        await store.close();
      }
    });
}
