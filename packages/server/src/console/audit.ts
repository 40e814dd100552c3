import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AUDIT_KINDS, isAuditKind } from '../audit/kinds.js';
import { AUDIT_TIME_FORMS, parseAuditTime, presentAuditEvent } from '../audit/present.js';
import type { AuditFilter } from '../store/port.js';
import { html } from './html.js';
import { page, time } from './layout.js';
import { ConsoleError, type ConsoleContext } from './plugin.js';

const PAGE_SIZE = 50;
/** Rows read per query while exporting: memory stays flat however long the trail. */
const EXPORT_PAGE = 1000;

interface AuditQuery {
  since?: string;
  until?: string;
  kind?: string;
  application?: string;
  /** The cursor of the next page: `at.id` of the last event shown. */
  after?: string;
}

/** The filter a query asks for; a bad value is a 400 that names the field. */
function toFilter(query: AuditQuery, now: number, limit: number): AuditFilter {
  const filter: AuditFilter = { limit };
  for (const field of ['since', 'until'] as const) {
    const value = query[field]?.trim();
    if (!value) continue;
    const at = parseAuditTime(value, now);
    if (at === null) throw new ConsoleError(400, `“${field === 'since' ? 'From' : 'Until'}” must be ${AUDIT_TIME_FORMS}.`);
    filter[field] = at;
  }
  if (filter.since !== undefined && filter.until !== undefined && filter.since >= filter.until) {
    throw new ConsoleError(400, '“From” must be before “Until”.');
  }
  if (query.kind) {
    if (!isAuditKind(query.kind)) throw new ConsoleError(400, 'No such kind of event.');
    filter.type = query.kind;
  }
  if (query.application) filter.userId = query.application;
  const cursor = /^(\d{1,16})\.(\d{1,16})$/.exec(query.after ?? '');
  if (cursor) filter.after = { at: Number(cursor[1]), id: Number(cursor[2]) };
  return filter;
}

function searchOf(query: AuditQuery, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const field of ['since', 'until', 'kind', 'application'] as const) {
    const value = query[field];
    if (value) params.set(field, value);
  }
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The audit trail: filter by time, kind and client application, page through, export. */
export function registerAuditPages(scope: FastifyInstance, context: ConsoleContext): void {
  const { auth, base } = context;

  scope.get<{ Querystring: AuditQuery }>('/audit', async (request, reply) => {
    const query = request.query;
    const filter = toFilter(query, auth.clock.now(), PAGE_SIZE + 1);
    const events = await auth.store.audit.list(filter);
    const users = await auth.store.users.list();
    const names = new Map(users.map((user) => [user.id, user.username]));
    const shown = events.slice(0, PAGE_SIZE);
    const last = shown.at(-1);
    const next = events.length > PAGE_SIZE && last ? `${base}/audit${searchOf(query, { after: `${last.at}.${last.id}` })}` : null;
    return context.send(
      reply,
      page(
        context.pageContext(request, '/audit'),
        'Audit trail',
        html`<form method="get" action="${base}/audit" class="filters" aria-label="Filter the audit trail">
<label>From<input name="since" value="${query.since ?? ''}" placeholder="24h or 2026-11-30T12:00:00Z"></label>
<label>Until<input name="until" value="${query.until ?? ''}" placeholder="ISO 8601 or 15m"></label>
<label>Kind<select name="kind"><option value="">All kinds</option>${Object.entries(AUDIT_KINDS).map(
          ([kind, meaning]) => html`<option value="${kind}" title="${meaning}"${query.kind === kind ? html` selected` : null}>${kind}</option>`,
        )}</select></label>
<label>Client application<select name="application"><option value="">All</option>${users.map(
          (user) => html`<option value="${user.id}"${query.application === user.id ? html` selected` : null}>${user.username}</option>`,
        )}</select></label>
<button type="submit" class="secondary">Filter</button>
<a class="button secondary" href="${base}/audit/export${searchOf(query)}" download>Export (JSON lines)</a>
</form>
<div class="table-wrap" tabindex="0" role="region" aria-label="Audit events"><table>
<caption class="muted">${shown.length === 0 ? 'No matching events.' : `${shown.length} event(s), newest first`}</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Kind</th><th scope="col">Client application</th><th scope="col">Source</th><th scope="col">User agent</th><th scope="col">Detail</th></tr></thead>
<tbody>${shown.map(
          (event) => html`<tr><td>${time(event.at)}</td><td>${event.type}</td><td>${event.userId === null ? '—' : (names.get(event.userId) ?? event.userId)}</td><td class="mono">${event.sourceAddress || '—'}</td><td>${event.userAgent || '—'}</td><td>${event.detail}</td></tr>`,
        )}</tbody>
</table></div>
<nav class="pager" aria-label="Pages">${query.after ? html`<a href="${base}/audit${searchOf(query)}">Newest</a>` : null}${next ? html`<a href="${next}" rel="next">Older events</a>` : null}</nav>`,
      ),
    );
  });

  scope.get<{ Querystring: AuditQuery }>('/audit/export', async (request, reply) => {
    const filter = toFilter({ ...request.query, after: undefined }, auth.clock.now(), EXPORT_PAGE);
    const names = new Map((await auth.store.users.list()).map((user) => [user.id, user.username]));
    async function* lines() {
      for (;;) {
        const events = await auth.store.audit.list(filter);
        for (const event of events) yield `${JSON.stringify(presentAuditEvent(event, names))}\n`;
        const last = events.at(-1);
        if (events.length < EXPORT_PAGE || !last) return;
        filter.after = { at: last.at, id: last.id };
      }
    }
    const stamp = new Date(auth.clock.now()).toISOString().replace(/[:.]/g, '-');
    return reply
      .type('application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="antpeer-audit-${stamp}.jsonl"`)
      .send(Readable.from(lines()));
  });
}
