import { userInfo } from 'node:os';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { Actor } from '../credentials/client-applications.js';
import { PasswordHasher } from '../credentials/password-hasher.js';
import { loadConfig, type Config } from '../config.js';
import { createLogger } from '../logger.js';
import { openStore } from '../store/open.js';
import type { Store, User } from '../store/port.js';

/** A failure the command explains to its user (exit 1, message on stderr). */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** What a read-only command gets: the store as it is, nothing that could change it on its own. */
export interface ReadContext {
  config: Readonly<Config>;
  store: Store;
  clock: Clock;
}

/** What a command that changes the store gets, with who runs it for the audit trail. */
export interface AdminContext extends ReadContext {
  logger: Logger;
  hasher: PasswordHasher;
  actor: Actor;
}

/** The operator running the command, as the audit trail names them. */
function localActor(): Actor {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry for this uid (a container, say): the uid is all there is.
    name = `uid ${process.getuid?.() ?? '?'}`;
  }
  return { name: `operator "${name}" (antpeer-auth CLI)`, sourceAddress: 'local', userAgent: 'antpeer-auth CLI' };
}

/**
 * Runs a read-only command over the configured store, then closes it. It neither migrates nor
 * opens the key ring: listing things never changes them. A store that needs migrating is refused.
 */
export async function withStore<T>(fn: (context: ReadContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = await openStore(config);
  try {
    const pending = await store.pendingMigrations();
    if (pending > 0) {
      throw new CliError(`the ${store.kind} store needs ${pending} migration(s): run \`antpeer-auth migrate\` or start the server first`);
    }
    return await fn({ config, store, clock: systemClock });
  } finally {
    await store.close();
  }
}

/** Runs a command that changes the store (migrating it first), then closes the store. */
export async function withAdmin<T>(fn: (context: AdminContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = await openStore(config);
  try {
    await store.migrate();
    return await fn({
      config,
      store,
      clock: systemClock,
      logger: createLogger('warn'),
      hasher: new PasswordHasher(),
      actor: localActor(),
    });
  } finally {
    await store.close();
  }
}

/** The named user, or a CliError saying there is none. */
export async function requireUser(context: { store: Pick<Store, 'users'> }, username: string): Promise<User> {
  const user = await context.store.users.findByUsername(username);
  if (!user) throw new CliError(`no client application named "${username}"`);
  return user;
}

/** Reads a password from standard input (one line; the trailing newline is not part of it). */
export async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (password === '') throw new CliError('--password-stdin: nothing was read from standard input');
  return password;
}

/** ISO time, or a dash. */
export function formatTime(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

/** Prints rows as aligned columns. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  process.stdout.write(`${[line(headers), ...rows.map(line)].join('\n')}\n`);
}
