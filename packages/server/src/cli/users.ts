import type { Command } from 'commander';
import {
  InvalidClientApplicationError,
  addClientApplication,
  changePassword,
  removeClientApplication,
  setEnabled,
} from '../credentials/client-applications.js';
import { UsernameTakenError } from '../store/port.js';
import { CliError, formatTime, printTable, readPasswordFromStdin, requireUser, withAuth } from './context.js';

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
      const { generatedPassword } = await withAuth((auth) => addClientApplication(auth, name, password)).catch(explain);
      process.stdout.write(`added client application "${name}"\n`);
      if (generatedPassword) process.stdout.write(`password (shown once, stored only as a hash): ${generatedPassword}\n`);
    });

  users
    .command('list')
    .description('list client applications')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const list = await withAuth((auth) => auth.store.listUsers());
      const rows = list.map((user) => ({
        username: user.username,
        id: user.id,
        enabled: user.enabled,
        createdAt: formatTime(user.createdAt),
        notBefore: user.notBefore === 0 ? null : formatTime(user.notBefore),
      }));
      if (options.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      printTable(
        ['USERNAME', 'ID', 'ENABLED', 'CREATED', 'NOT BEFORE'],
        rows.map((row) => [row.username, row.id, row.enabled ? 'yes' : 'no', row.createdAt, row.notBefore ?? '-']),
      );
    });

  for (const [command, enabled] of [['disable', false], ['enable', true]] as const) {
    users
      .command(`${command} <name>`)
      .description(enabled ? 'allow the client application to log in again' : 'refuse its logins and end its sessions at once')
      .action(async (name: string) => {
        const ended = await withAuth(async (auth) => setEnabled(auth, await requireUser(auth, name), enabled));
        process.stdout.write(`${command}d "${name}"${enabled ? '' : `; ended ${ended} session(s)`}\n`);
      });
  }

  users
    .command('remove <name>')
    .description('remove the client application with its sessions')
    .action(async (name: string) => {
      await withAuth(async (auth) => removeClientApplication(auth, await requireUser(auth, name)));
      process.stdout.write(`removed "${name}"\n`);
    });

  users
    .command('passwd <name>')
    .description('set a new password; prints a generated one unless --password-stdin is given')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, options: { passwordStdin?: boolean }) => {
      const given = options.passwordStdin ? await readPasswordFromStdin() : undefined;
      const generated = await withAuth(async (auth) => changePassword(auth, await requireUser(auth, name), given)).catch(explain);
      process.stdout.write(`password of "${name}" changed\n`);
      if (generated) process.stdout.write(`password (shown once, stored only as a hash): ${generated}\n`);
    });
}
