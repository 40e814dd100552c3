import type { Command } from 'commander';
import { pushNotBefore } from '../sessions/not-before.js';
import { requireUser, withAdmin } from './context.js';

/** `antpeer-auth policy not-before [--user <name>]`: refuse every token issued before now. */
export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('revocation policy');
  policy
    .command('not-before')
    .description('set the not-before policy to now: every token issued earlier is refused')
    .option('--user <name>', 'only for this client application')
    .action(async (options: { user?: string }) => {
      const at = await withAdmin(async (admin) => {
        const user = options.user === undefined ? undefined : await requireUser(admin, options.user);
        return pushNotBefore(admin, admin.actor, user?.id);
      });
      const scope = options.user === undefined ? 'realm-wide' : `for "${options.user}"`;
      process.stdout.write(`not-before policy set ${scope} to ${at / 1000} (${new Date(at).toISOString()})\n`);
    });
}
