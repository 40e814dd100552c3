import type { Command } from 'commander';
import { withAuth } from './context.js';

/** `antpeer-auth keys rotate`: a new signing key; the old one stays published until its tokens expire. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('signing keys');
  keys
    .command('rotate')
    .description('create a new signing key; running servers publish it within a second and sign with it within 5 seconds')
    .action(async () => {
      const kid = await withAuth((auth) => auth.keys.rotate());
      process.stdout.write(`new signing key ${kid}\n`);
    });
}
