import type { Command } from 'commander';
import { InvalidAdministratorError, addAdministrator, changeAdministratorPassword, removeAdministrator } from '../console/administrators.js';
import { AdministratorNameTakenError, type Administrator, type Store } from '../store/port.js';
import { CliError, formatTime, printTable, readPasswordFromStdin, withAdmin, withStore } from './context.js';

function explain(error: unknown): never {
  if (error instanceof InvalidAdministratorError || error instanceof AdministratorNameTakenError) throw new CliError(error.message);
  throw error;
}

async function requireAdministrator(store: Pick<Store, 'admins'>, name: string): Promise<Administrator> {
  const admin = await store.admins.findByName(name);
  if (!admin) throw new CliError(`no administrator named "${name}"`);
  return admin;
}

/** `antpeer-auth admins …`: who may sign in to the web console (never a client application). */
export function registerAdminsCommands(program: Command): void {
  const admins = program.command('admins').description('administrators of the web console (ANTPEER_ADMIN_CONSOLE)');

  admins
    .command('add <name>')
    .description('add an administrator; prints a generated password unless --password-stdin is given')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, options: { passwordStdin?: boolean }) => {
      const password = options.passwordStdin ? await readPasswordFromStdin() : undefined;
      const { generatedPassword } = await withAdmin((admin) => addAdministrator(admin, admin.actor, name, password)).catch(explain);
      process.stdout.write(`added administrator "${name}"\n`);
      if (generatedPassword) process.stdout.write(`password (shown once, stored only as a hash): ${generatedPassword}\n`);
    });

  admins
    .command('list')
    .description('list administrators')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const rows = (await withStore(({ store }) => store.admins.list())).map((admin) => ({
        name: admin.name,
        createdAt: formatTime(admin.createdAt),
        updatedAt: formatTime(admin.updatedAt),
      }));
      if (options.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      printTable(['NAME', 'CREATED', 'UPDATED'], rows.map((row) => [row.name, row.createdAt, row.updatedAt]));
    });

  admins
    .command('remove <name>')
    .description('remove an administrator; their console sessions end at once')
    .action(async (name: string) => {
      await withAdmin(async (context) => removeAdministrator(context, context.actor, await requireAdministrator(context.store, name)));
      process.stdout.write(`removed administrator "${name}"\n`);
    });

  admins
    .command('passwd <name>')
    .description('set a new password (their console sessions end); prints a generated one unless --password-stdin is given')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, options: { passwordStdin?: boolean }) => {
      const given = options.passwordStdin ? await readPasswordFromStdin() : undefined;
      const generated = await withAdmin(async (context) =>
        changeAdministratorPassword(context, context.actor, await requireAdministrator(context.store, name), given),
      ).catch(explain);
      process.stdout.write(`password of administrator "${name}" changed\n`);
      if (generated) process.stdout.write(`password (shown once, stored only as a hash): ${generated}\n`);
    });
}
