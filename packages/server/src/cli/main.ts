#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { registerAdminsCommands } from './admins.js';
import { registerAuditCommands } from './audit.js';
import { registerKeysCommands } from './keys.js';
import { registerMigrateCommand } from './migrate.js';
import { registerPolicyCommands } from './policy.js';
import { registerPurgeCommand } from './purge.js';
import { registerServeCommand } from './serve.js';
import { registerSessionsCommands } from './sessions.js';
import { registerUsersCommands } from './users.js';
import { CliError } from './context.js';

const program = new Command('antpeer-auth')
  .description('The AntPeer token service and its administration. Every command finds the store as `serve` does (DATABASE_URL or ANTPEER_DATA_DIR).')
  .exitOverride();

registerServeCommand(program);
registerUsersCommands(program);
registerSessionsCommands(program);
registerPolicyCommands(program);
registerKeysCommands(program);
registerMigrateCommand(program);
registerPurgeCommand(program);
registerAuditCommands(program);
registerAdminsCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  if (error instanceof ConfigError || error instanceof CliError) {
    process.stderr.write(`antpeer-auth: ${error.message}\n`);
    process.exit(error instanceof ConfigError ? 78 : 1);
  }
  process.stderr.write(`antpeer-auth: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
}
