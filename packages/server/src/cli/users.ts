import type { Command } from 'commander';
import {
  InvalidClientApplicationError,
  addClientApplication,
  changePassword,
  removeClientApplication,
  setEnabled,
  setDpopRequired,
  setIntrospection,
} from '../credentials/client-applications.js';
import { UsernameTakenError } from '../store/port.js';
import { CliError, formatTime, printTable, readPasswordFromStdin, requireUser, withAdmin, withStore } from './context.js';

function explain(error: unknown): never {
  if (error instanceof InvalidClientApplicationError || error instanceof UsernameTakenError) {
    throw new CliError(error.message);
  }
  throw error;
}

/** `antpeer-auth users …`: the client applications that may use the password grant. */
export function registerUsersCommands(program: Command): void {
  const users = program.command('users').description('client applications (the username/password of the token request)');

  users
    .command('add <name>')
    .description('add a client application; prints a generated password unless --password-stdin is given')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, options: { passwordStdin?: boolean }) => {
      const password = options.passwordStdin ? await readPasswordFromStdin() : undefined;
      const { generatedPassword } = await withAdmin((admin) => addClientApplication(admin, admin.actor, name, password)).catch(explain);
      process.stdout.write(`added client application "${name}"\n`);
      if (generatedPassword) process.stdout.write(`password (shown once, stored only as a hash): ${generatedPassword}\n`);
    });

  users
    .command('list')
    .description('list client applications')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const list = await withStore(({ store }) => store.users.list());
      const rows = list.map((user) => ({
        username: user.username,
        id: user.id,
        enabled: user.enabled,
        introspection: user.canIntrospect,
        dpop: user.requireDpop ? 'required' : 'optional',
        createdAt: formatTime(user.createdAt),
        notBefore: user.notBefore === 0 ? null : formatTime(user.notBefore),
      }));
      if (options.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      printTable(
        ['USERNAME', 'ID', 'ENABLED', 'INTROSPECTION', 'DPOP', 'CREATED', 'NOT BEFORE'],
        rows.map((row) => [row.username, row.id, row.enabled ? 'yes' : 'no', row.introspection ? 'yes' : 'no', row.dpop, row.createdAt, row.notBefore ?? '-']),
      );
    });

  for (const [command, enabled] of [['disable', false], ['enable', true]] as const) {
    users
      .command(`${command} <name>`)
      .description(enabled ? 'allow the client application to log in again' : 'refuse its logins and end its sessions at once')
      .action(async (name: string) => {
        const ended = await withAdmin(async (admin) => setEnabled(admin, admin.actor, await requireUser(admin, name), enabled));
        process.stdout.write(`${command}d "${name}"${enabled ? '' : `; ended ${ended} session(s)`}\n`);
      });
  }

  users
    .command('remove <name>')
    .description('remove the client application with its sessions')
    .action(async (name: string) => {
      await withAdmin(async (admin) => removeClientApplication(admin, admin.actor, await requireUser(admin, name)));
      process.stdout.write(`removed "${name}"\n`);
    });

  users
    .command('passwd <name>')
    .description('set a new password; prints a generated one unless --password-stdin is given')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, options: { passwordStdin?: boolean }) => {
      const given = options.passwordStdin ? await readPasswordFromStdin() : undefined;
      const generated = await withAdmin(async (admin) => changePassword(admin, admin.actor, await requireUser(admin, name), given)).catch(explain);
      process.stdout.write(`password of "${name}" changed\n`);
      if (generated) process.stdout.write(`password (shown once, stored only as a hash): ${generated}\n`);
    });

  for (const [command, allowed] of [['allow-introspection', true], ['deny-introspection', false]] as const) {
    users
      .command(`${command} <name>`)
      .description(
        allowed
          ? "let it introspect other client applications' tokens (a resource server; RFC 7662 §4)"
          : 'let it introspect only its own tokens again (the default)',
      )
      .action(async (name: string) => {
        await withAdmin(async (admin) => setIntrospection(admin, admin.actor, await requireUser(admin, name), allowed));
        process.stdout.write(`"${name}" may ${allowed ? 'now' : 'no longer'} introspect other client applications' tokens\n`);
      });
  }

  for (const [command, required] of [['require-dpop', true], ['allow-bearer', false]] as const) {
    users
      .command(`${command} <name>`)
      .description(
        required
          ? 'refuse its grants without a DPoP proof: every token it gets is sender-constrained (RFC 9449)'
          : 'let it obtain bearer tokens again (the default)',
      )
      .action(async (name: string) => {
        await withAdmin(async (admin) => setDpopRequired(admin, admin.actor, await requireUser(admin, name), required));
        process.stdout.write(`"${name}" ${required ? 'must now prove a DPoP key on every grant' : 'may obtain bearer tokens again'}\n`);
      });
  }
}
