import type { Command } from 'commander';
import { KeyRing } from '../tokens/keys.js';
import { rotateSigningKey } from '../tokens/rotate-key.js';
import { loadServerSecret } from '../tokens/server-secret.js';
import { withAdmin } from './context.js';

/** `antpeer-auth keys rotate`: a new signing key; the old one stays published until its tokens expire. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('signing keys');
  keys
    .command('rotate')
    .description('create a new signing key; running servers publish it within a second and sign with it within 5 seconds')
    .action(async () => {
      const kid = await withAdmin(async ({ config, store, clock, actor }) => {
        const ring = await KeyRing.open(store.keys, loadServerSecret(config), clock, config);
        return rotateSigningKey({ keys: ring, store, clock }, actor, config.signingAlgorithm);
      });
      process.stdout.write(`new signing key ${kid}\n`);
    });
}
