import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  InvalidClientApplicationError,
  addClientApplication,
  changePassword,
  removeClientApplication,
  setDpopRequired,
  setEnabled,
} from '../credentials/client-applications.js';
import { revokeUserSessions } from '../sessions/admin.js';
import { pushNotBefore } from '../sessions/not-before.js';
import { UsernameTakenError, type User } from '../store/port.js';
import { consoleActor } from './console-sessions.js';
import { html, type Html } from './html.js';
import { confirmPage, csrfField, page, time, type PageContext } from './layout.js';
import { ConsoleError, type ConsoleContext, type Form } from './plugin.js';

/** The notices a change redirects to (fixed texts: nothing from the request is reflected). */
const NOTICES = {
  enabled: 'The client application was enabled.',
  disabled: 'The client application was disabled and its sessions ended.',
  'dpop-required': 'The client application must now prove possession of a DPoP key on every grant (RFC 9449).',
  'bearer-allowed': 'The client application may use bearer tokens again.',
  removed: 'The client application was removed with its sessions.',
  revoked: "The client application's sessions were revoked.",
  'not-before': 'The not-before policy was set for the client application: every token issued before now is refused.',
} as const;

type Notice = keyof typeof NOTICES;

/** The changes that cannot be undone, each with its confirmation text. */
const CONFIRMED = {
  disable: { title: 'Disable', button: 'Disable and end its sessions', says: 'Its logins are refused and every one of its sessions ends at once.' },
  password: { title: 'Reset the password of', button: 'Reset the password', says: 'A new password is generated and shown once; the current one stops working.' },
  remove: { title: 'Remove', button: 'Remove it', says: 'The client application and all of its sessions are deleted.' },
  'revoke-sessions': { title: 'Revoke every session of', button: 'Revoke its sessions', says: 'Every live session ends at once; its refresh tokens are refused from then on.' },
  'not-before': { title: 'Set the not-before policy of', button: 'Set it to now', says: 'Every access and refresh token it was issued before now is refused.' },
} as const;

type ConfirmedAction = keyof typeof CONFIRMED;

function isConfirmedAction(action: string): action is ConfirmedAction {
  return Object.hasOwn(CONFIRMED, action);
}

function addForm(context: PageContext): Html {
  return html`<form method="post" action="${context.base}/applications" class="inline" aria-label="Add a client application">
${csrfField(context)}
<label>New client application<input name="username" required autocomplete="off" spellcheck="false"></label>
<button type="submit">Add</button>
</form>`;
}

function row(context: PageContext, user: User): Html {
  const at = `${context.base}/applications/${encodeURIComponent(user.id)}`;
  return html`<tr>
<td>${user.username}</td>
<td>${user.enabled ? html`<span class="state-on">enabled</span>` : html`<span class="state-off">disabled</span>`}</td>
<td>${user.requireDpop ? 'required' : 'optional'}</td>
<td>${time(user.createdAt)}</td>
<td>${time(user.notBefore)}</td>
<td class="actions">
<a href="${context.base}/sessions?application=${encodeURIComponent(user.id)}">Sessions<span class="sr-only"> of ${user.username}</span></a>
${
  user.enabled
    ? html`<a href="${at}/disable">Disable<span class="sr-only"> ${user.username}</span></a>`
    : html`<form method="post" action="${at}/enable">${csrfField(context)}<button type="submit" class="secondary">Enable<span class="sr-only"> ${user.username}</span></button></form>`
}
<form method="post" action="${at}/${user.requireDpop ? 'allow-bearer' : 'require-dpop'}">${csrfField(context)}<button type="submit" class="secondary">${
  user.requireDpop ? 'Allow bearer' : 'Require DPoP'
}<span class="sr-only"> for ${user.username}</span></button></form>
<a href="${at}/password">Reset password<span class="sr-only"> of ${user.username}</span></a>
<a href="${at}/revoke-sessions">Revoke sessions<span class="sr-only"> of ${user.username}</span></a>
<a href="${at}/not-before">Not-before<span class="sr-only"> of ${user.username}</span></a>
<a href="${at}/remove">Remove<span class="sr-only"> ${user.username}</span></a>
</td>
</tr>`;
}

/** Client applications: list, search, add, disable, enable, require DPoP or allow bearer, reset the password, remove; revoke sessions; per-application not-before. */
export function registerApplicationPages(scope: FastifyInstance, context: ConsoleContext): void {
  const { auth, base } = context;
  const actor = (request: FastifyRequest) => consoleActor(context.signedIn(request).admin, context.source(request));
  const findUser = async (id: string): Promise<User> => {
    const user = await auth.store.users.findById(id);
    if (!user) throw new ConsoleError(404, 'There is no such client application (it may have been removed).');
    return user;
  };
  const listPage = async (request: FastifyRequest, query: string, notice: string | null, error: string | null = null, status = 200) => {
    const pageContext = context.pageContext(request, '/applications');
    const needle = query.trim().toLowerCase();
    const users = (await auth.store.users.list()).filter((user) => needle === '' || user.username.toLowerCase().includes(needle));
    return {
      status,
      body: page(
        pageContext,
        'Client applications',
        html`${error ? html`<p class="error" role="alert">${error}</p>` : null}
${addForm(pageContext)}
<form method="get" action="${base}/applications" class="filters" role="search">
<label>Search by name<input name="q" type="search" value="${query}"></label>
<button type="submit" class="secondary">Search</button>
</form>
<div class="table-wrap" tabindex="0" role="region" aria-label="Client applications"><table>
<caption class="muted">${users.length} client application(s)${needle ? html` matching “${query}”` : null}</caption>
<thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">DPoP</th><th scope="col">Created</th><th scope="col">Not before</th><th scope="col">Actions</th></tr></thead>
<tbody>${users.map((user) => row(pageContext, user))}</tbody>
</table></div>`,
        { notice },
      ),
    };
  };

  scope.get<{ Querystring: { q?: string; done?: string } }>('/applications', async (request, reply) => {
    const done = request.query.done;
    const notice = done !== undefined && Object.hasOwn(NOTICES, done) ? NOTICES[done as Notice] : null;
    const { body } = await listPage(request, request.query.q ?? '', notice);
    return context.send(reply, body);
  });

  scope.post<{ Body: Form }>('/applications', async (request, reply) => {
    const username = request.body.username ?? '';
    try {
      const { generatedPassword } = await addClientApplication(auth, actor(request), username);
      return context.send(
        reply,
        page(
          context.pageContext(request, '/applications'),
          'Client application added',
          html`<p>Client application <strong>${username}</strong> was added. Its password is shown <strong>this once</strong>; only a hash is kept.</p>
<p><span class="secret mono" id="generated-password">${generatedPassword}</span></p>
<p><a href="${base}/applications">Back to client applications</a></p>`,
        ),
      );
    } catch (error) {
      if (!(error instanceof InvalidClientApplicationError || error instanceof UsernameTakenError)) throw error;
      const { body } = await listPage(request, '', null, error.message);
      return context.send(reply, body, 400);
    }
  });

  scope.get<{ Params: { id: string; action: string } }>('/applications/:id/:action', async (request, reply) => {
    const { action } = request.params;
    if (!isConfirmedAction(action)) throw new ConsoleError(404, 'No such page.');
    const user = await findUser(request.params.id);
    const what = CONFIRMED[action];
    return context.send(
      reply,
      confirmPage(context.pageContext(request, '/applications'), {
        title: `${what.title} “${user.username}”?`,
        message: what.says,
        action: `${base}/applications/${encodeURIComponent(user.id)}/${action}`,
        button: what.button,
        cancel: `${base}/applications`,
      }),
    );
  });

  scope.post<{ Params: { id: string; action: string }; Body: Form }>('/applications/:id/:action', async (request, reply) => {
    const user = await findUser(request.params.id);
    const done = (notice: Notice) => reply.redirect(`${base}/applications?done=${notice}`, 303);
    switch (request.params.action) {
      case 'enable':
        await setEnabled(auth, actor(request), user, true);
        return done('enabled');
      case 'disable':
        await setEnabled(auth, actor(request), user, false);
        return done('disabled');
      case 'require-dpop':
        await setDpopRequired(auth, actor(request), user, true);
        return done('dpop-required');
      case 'allow-bearer':
        await setDpopRequired(auth, actor(request), user, false);
        return done('bearer-allowed');
      case 'remove':
        await removeClientApplication(auth, actor(request), user);
        return done('removed');
      case 'revoke-sessions':
        await revokeUserSessions(auth, actor(request), user);
        return done('revoked');
      case 'not-before':
        await pushNotBefore(auth, actor(request), user.id);
        return done('not-before');
      case 'password': {
        const generated = await changePassword(auth, actor(request), user);
        return context.send(
          reply,
          page(
            context.pageContext(request, '/applications'),
            'Password reset',
            html`<p>The new password of <strong>${user.username}</strong> is shown <strong>this once</strong>; only a hash is kept.</p>
<p><span class="secret mono" id="generated-password">${generated}</span></p>
<p>Its live sessions go on; set its not-before policy to end them too.</p>
<p><a href="${base}/applications">Back to client applications</a></p>`,
          ),
        );
      }
      default:
        throw new ConsoleError(404, 'No such action.');
    }
  });
}
