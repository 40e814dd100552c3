import type { FastifyInstance } from 'fastify';
import { revokeSession } from '../sessions/admin.js';
import { consoleActor } from './console-sessions.js';
import { html } from './html.js';
import { confirmPage, page, time } from './layout.js';
import { ConsoleError, type ConsoleContext } from './plugin.js';

/** Sessions shown at most on one page: listing is for looking, revoking all of one application is one button. */
const SHOWN = 500;

/** Live sessions: list, filter by client application, revoke one or all of an application's. */
export function registerSessionPages(scope: FastifyInstance, context: ConsoleContext): void {
  const { auth, base } = context;

  scope.get<{ Querystring: { application?: string; done?: string } }>('/sessions', async (request, reply) => {
    const users = await auth.store.users.list();
    const names = new Map(users.map((user) => [user.id, user.username]));
    const selected = request.query.application && names.has(request.query.application) ? request.query.application : undefined;
    const now = auth.clock.now();
    // One more than shown tells whether there are more.
    const sessions = await auth.store.sessions.listActive(now, { ...(selected ? { userId: selected } : {}), limit: SHOWN + 1 });
    const pageContext = context.pageContext(request, '/sessions');
    return context.send(
      reply,
      page(
        pageContext,
        'Live sessions',
        html`<form method="get" action="${base}/sessions" class="filters">
<label>Client application<select name="application">
<option value="">All</option>
${users.map((user) => html`<option value="${user.id}"${user.id === selected ? html` selected` : null}>${user.username}</option>`)}
</select></label>
<button type="submit" class="secondary">Filter</button>
${selected ? html`<a class="button secondary" href="${base}/applications/${encodeURIComponent(selected)}/revoke-sessions">Revoke all of “${names.get(selected)}”</a>` : null}
</form>
<div class="table-wrap" tabindex="0" role="region" aria-label="Live sessions"><table>
<caption class="muted">${sessions.length > SHOWN ? `More than ${SHOWN} live sessions: the newest ${SHOWN} shown` : `${sessions.length} live session(s)`}</caption>
<thead><tr><th scope="col">Client application</th><th scope="col">Source address</th><th scope="col">User agent</th><th scope="col">Started</th><th scope="col">Last refresh</th><th scope="col">Idle expiry</th><th scope="col">Max expiry</th><th scope="col">Session</th><th scope="col">Actions</th></tr></thead>
<tbody>${sessions.slice(0, SHOWN).map(
          (session) => html`<tr>
<td>${names.get(session.userId) ?? session.userId}</td>
<td class="mono">${session.sourceAddress}</td>
<td>${session.userAgent || '—'}</td>
<td>${time(session.createdAt)}</td>
<td>${time(session.lastRefreshAt)}</td>
<td>${time(Math.min(session.idleExpiresAt, session.maxExpiresAt))}</td>
<td>${time(session.maxExpiresAt)}</td>
<td class="mono">${session.id}</td>
<td class="actions"><a href="${base}/sessions/${encodeURIComponent(session.id)}/revoke">Revoke<span class="sr-only"> session ${session.id}</span></a></td>
</tr>`,
        )}</tbody>
</table></div>`,
        { notice: request.query.done === 'revoked' ? 'The session was revoked: its refresh token is refused from now on.' : null },
      ),
    );
  });

  const findSession = async (id: string) => {
    const session = await auth.store.sessions.get(id);
    if (!session) throw new ConsoleError(404, 'There is no such session.');
    return session;
  };

  scope.get<{ Params: { id: string } }>('/sessions/:id/revoke', async (request, reply) => {
    const session = await findSession(request.params.id);
    const user = await auth.store.users.findById(session.userId);
    return context.send(
      reply,
      confirmPage(context.pageContext(request, '/sessions'), {
        title: 'Revoke this session?',
        message: html`The session <span class="mono">${session.id}</span> of <strong>${user?.username ?? session.userId}</strong> (from ${session.sourceAddress}) ends at once; its refresh token is refused from then on.`,
        action: `${base}/sessions/${encodeURIComponent(session.id)}/revoke`,
        button: 'Revoke the session',
        cancel: `${base}/sessions`,
      }),
    );
  });

  scope.post<{ Params: { id: string } }>('/sessions/:id/revoke', async (request, reply) => {
    const session = await findSession(request.params.id);
    await revokeSession(auth, consoleActor(context.signedIn(request).admin, context.source(request)), session);
    return reply.redirect(`${base}/sessions?done=revoked`, 303);
  });
}
