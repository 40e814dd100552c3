import type { Command } from 'commander';
import { AUDIT_KINDS, isAuditKind } from '../audit/kinds.js';
import { AUDIT_TIME_FORMS, parseAuditTime, presentAuditEvent } from '../audit/present.js';
import type { AuditFilter } from '../store/port.js';
import { CliError, printTable, requireUser, withStore, type ReadContext } from './context.js';

/** Rows read per query while exporting: memory stays flat however long the trail. */
const EXPORT_PAGE = 1000;

interface FilterOptions {
  since?: string;
  until?: string;
  user?: string;
  kind?: string;
}

/** An ISO 8601 time, or a duration before now such as `15m`, `24h`, `7d`. */
export function parseTime(option: string, value: string, now: number): number {
  const at = parseAuditTime(value, now);
  if (at === null) throw new CliError(`${option} must be ${AUDIT_TIME_FORMS}, got "${value}"`);
  return at;
}

async function toFilter(context: ReadContext, options: FilterOptions, limit: number): Promise<AuditFilter> {
  const now = context.clock.now();
  if (options.kind !== undefined && !isAuditKind(options.kind)) {
    throw new CliError(`--kind must be one of ${Object.keys(AUDIT_KINDS).join(', ')}; got "${options.kind}"`);
  }
  const filter: AuditFilter = { limit };
  if (options.since !== undefined) filter.since = parseTime('--since', options.since, now);
  if (options.until !== undefined) filter.until = parseTime('--until', options.until, now);
  if (filter.since !== undefined && filter.until !== undefined && filter.since >= filter.until) {
    throw new CliError('--since must be before --until');
  }
  if (options.user !== undefined) filter.userId = (await requireUser(context, options.user)).id;
  if (options.kind !== undefined) filter.type = options.kind;
  return filter;
}

function withFilterOptions(command: Command): Command {
  return command
    .option('--since <time>', 'recorded at or after: an ISO 8601 time or a duration ago (15m, 24h, 7d)')
    .option('--until <time>', 'recorded before: an ISO 8601 time or a duration ago')
    .option('--user <name>', 'only events of this client application')
    .option('--kind <kind>', `only events of this kind: ${Object.keys(AUDIT_KINDS).join(', ')}`);
}

async function usernames(context: ReadContext): Promise<Map<string, string>> {
  return new Map((await context.store.users.list()).map((user) => [user.id, user.username]));
}

/** `antpeer-auth audit …`: read the audit trail. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail of security-relevant events');

  withFilterOptions(audit.command('list'))
    .description('list audit events, newest first')
    .option('--limit <n>', 'at most this many (1 to 100000)', '50')
    .option('--json', 'print JSON')
    .action(async (options: FilterOptions & { limit: string; json?: boolean }) => {
      const limit = Number(options.limit);
      if (!/^\d+$/.test(options.limit) || limit < 1 || limit > 100_000) {
        throw new CliError(`--limit must be a whole number from 1 to 100000, got "${options.limit}"`);
      }
      const rows = await withStore(async (context) => {
        const events = await context.store.audit.list(await toFilter(context, options, limit));
        const names = await usernames(context);
        return events.map((event) => presentAuditEvent(event, names));
      });
      if (options.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      printTable(
        ['TIME', 'KIND', 'CLIENT APPLICATION', 'SESSION', 'SOURCE', 'USER AGENT', 'DETAIL'],
        rows.map((row) => [row.at, row.kind, row.user ?? '-', row.session ?? '-', row.sourceAddress || '-', row.userAgent || '-', row.detail]),
      );
    });

  withFilterOptions(audit.command('export'))
    .description('write every matching event as JSON lines, newest first, for a SIEM')
    .action(async (options: FilterOptions) => {
      await withStore(async (context) => {
        const filter = await toFilter(context, options, EXPORT_PAGE);
        const names = await usernames(context);
        for (;;) {
          const page = await context.store.audit.list(filter);
          for (const event of page) {
            if (!process.stdout.write(`${JSON.stringify(presentAuditEvent(event, names))}\n`)) {
              await new Promise((resolve) => process.stdout.once('drain', resolve));
            }
          }
          const last = page.at(-1);
          if (page.length < EXPORT_PAGE || !last) return;
          filter.after = { at: last.at, id: last.id };
        }
      });
    });
}
