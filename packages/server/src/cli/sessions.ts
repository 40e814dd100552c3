import type { Command } from 'commander';
import { revokeSession, revokeUserSessions } from '../sessions/admin.js';
import { CliError, formatTime, printTable, requireUser, withAdmin, withStore } from './context.js';

/** Sessions `sessions list` shows by default, and at most (a listing is for looking, not for export). */
const DEFAULT_LISTED = 1000;
const MAX_LISTED = 100_000;

/** `antpeer-auth sessions …`: list and revoke sessions. */
export function registerSessionsCommands(program: Command): void {
  const sessions = program.command('sessions').description('sessions started by password grants');

  sessions
    .command('list')
    .description('list active sessions, newest first')
    .option('--user <name>', 'only those of this client application')
    .option('--limit <n>', `at most this many, the newest (1 to ${MAX_LISTED})`, String(DEFAULT_LISTED))
    .option('--json', 'print JSON')
    .action(async (options: { user?: string; limit: string; json?: boolean }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LISTED) throw new CliError(`--limit must be an integer from 1 to ${MAX_LISTED}, got "${options.limit}"`);
      const { rows, more } = await withStore(async ({ store, clock }) => {
        const user = options.user === undefined ? undefined : await requireUser({ store }, options.user);
        const users = new Map((await store.users.list()).map((u) => [u.id, u.username]));
        // One more than asked for tells whether there are more.
        const found = await store.sessions.listActive(clock.now(), { ...(user ? { userId: user.id } : {}), limit: limit + 1 });
        return { more: found.length > limit, rows: found.slice(0, limit).map((session) => ({
          id: session.id,
          username: users.get(session.userId) ?? session.userId,
          createdAt: formatTime(session.createdAt),
          lastRefreshAt: formatTime(session.lastRefreshAt),
          idleExpiresAt: formatTime(session.idleExpiresAt),
          maxExpiresAt: formatTime(session.maxExpiresAt),
          sourceAddress: session.sourceAddress,
        })) };
      });
      if (more) process.stderr.write(`more than ${limit} active sessions: the newest ${limit} are shown (--limit to see more)\n`);
      if (options.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      printTable(
        ['SESSION', 'USERNAME', 'STARTED', 'LAST REFRESH', 'IDLE EXPIRY', 'MAX EXPIRY', 'SOURCE'],
        rows.map((r) => [r.id, r.username, r.createdAt, r.lastRefreshAt, r.idleExpiresAt, r.maxExpiresAt, r.sourceAddress]),
      );
    });

  sessions
    .command('revoke [id]')
    .description('end a session at once, or every session of --user')
    .option('--user <name>', 'every session of this client application')
    .action(async (id: string | undefined, options: { user?: string }) => {
      if ((id === undefined) === (options.user === undefined)) throw new CliError('give a session id or --user <name>, not both');
      const ended = await withAdmin(async (admin) => {
        if (options.user !== undefined) return revokeUserSessions(admin, admin.actor, await requireUser(admin, options.user));
        const session = await admin.store.sessions.get(id as string);
        if (!session) throw new CliError(`no session ${id}`);
        return (await revokeSession(admin, admin.actor, session)) ? 1 : 0;
      });
      process.stdout.write(`revoked ${ended} session(s)\n`);
    });
}
