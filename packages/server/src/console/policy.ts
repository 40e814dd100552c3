import type { FastifyInstance } from 'fastify';
import { pushNotBefore } from '../sessions/not-before.js';
import { consoleActor } from './console-sessions.js';
import { html } from './html.js';
import { confirmPage, page, time } from './layout.js';
import type { ConsoleContext } from './plugin.js';

/** The not-before policy: realm-wide here; per application from the applications page. */
export function registerPolicyPages(scope: FastifyInstance, context: ConsoleContext): void {
  const { auth, base } = context;

  scope.get<{ Querystring: { done?: string } }>('/policy', async (request, reply) => {
    const realm = await auth.store.settings.getRealmNotBefore();
    const perApplication = (await auth.store.users.list()).filter((user) => user.notBefore > 0);
    return context.send(
      reply,
      page(
        context.pageContext(request, '/policy'),
        'Not-before policy',
        html`<p>Every access token and refresh token issued before the policy is refused. Setting it to now ends every session at its next refresh.</p>
<h2>Realm-wide</h2>
<p>Current policy: <strong id="realm-not-before">${realm === 0 ? 'never set' : time(realm)}</strong></p>
<p><a class="button" href="${base}/policy/not-before">Set the realm-wide policy to now…</a></p>
<h2>Per client application</h2>
${
  perApplication.length === 0
    ? html`<p>No client application has a policy of its own. Set one from <a href="${base}/applications">Client applications</a>.</p>`
    : html`<div class="table-wrap" tabindex="0" role="region" aria-label="Per-application policies"><table><thead><tr><th scope="col">Client application</th><th scope="col">Not before</th></tr></thead><tbody>${perApplication.map(
        (user) => html`<tr><td>${user.username}</td><td>${time(user.notBefore)}</td></tr>`,
      )}</tbody></table></div>`
}`,
        { notice: request.query.done === 'set' ? 'The realm-wide not-before policy was set to now.' : null },
      ),
    );
  });

  scope.get('/policy/not-before', async (request, reply) =>
    context.send(
      reply,
      confirmPage(context.pageContext(request, '/policy'), {
        title: 'Set the realm-wide not-before policy to now?',
        message: 'Every access and refresh token of every client application issued before now is refused: every client logs in again.',
        action: `${base}/policy/not-before`,
        button: 'Set it to now',
        cancel: `${base}/policy`,
      }),
    ),
  );

  scope.post('/policy/not-before', async (request, reply) => {
    await pushNotBefore(auth, consoleActor(context.signedIn(request).admin, context.source(request)));
    return reply.redirect(`${base}/policy?done=set`, 303);
  });
}
