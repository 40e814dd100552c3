import type { Logger } from 'pino';
import { createAuthService, type AuthService } from '../auth-service.js';
import { systemClock } from '../clock.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { openStore } from '../store/open.js';
import type { User } from '../store/port.js';
import { loadServerSecret } from '../tokens/server-secret.js';

/** A failure the command explains to its user (exit 1, message on stderr). */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Runs `fn` with the domain over the configured store, then closes the store. */
export async function withAuth<T>(fn: (auth: AuthService) => Promise<T>, logger?: Logger): Promise<T> {
  const config = loadConfig();
  const store = await openStore(config);
  try {
    await store.migrate();
    const auth = await createAuthService({
      config,
      store,
      clock: systemClock,
      logger: logger ?? createLogger('warn'),
      secret: loadServerSecret(config),
    });
    return await fn(auth);
  } finally {
    await store.close();
  }
}

/** The named user, or a CliError saying there is none. */
export async function requireUser(auth: AuthService, username: string): Promise<User> {
  const user = await auth.store.findUserByUsername(username);
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
