import type { FastifyInstance } from 'fastify';
import { signIn, signOut } from './console-sessions.js';
import { html } from './html.js';
import { plainPage } from './layout.js';
import { PUBLIC_ROUTE, type ConsoleContext, type Form } from './plugin.js';

/** One answer for every refused sign-in: unknown name, wrong password, locked, or a client application's credentials. */
export const SIGN_IN_REFUSED = 'Wrong name or password.';

/** The sign-in page, sign-in and sign-out. */
export function registerLoginPages(scope: FastifyInstance, context: ConsoleContext): void {
  const { base } = context;
  const loginPage = (message: string | null, name = '') =>
    plainPage(
      base,
      'Sign in',
      html`<div class="login">
<h1>AntPeer Auth console</h1>
${message ? html`<p class="error" role="alert">${message}</p>` : null}
<form method="post" action="${base}/login">
<label>Administrator name<input name="name" autocomplete="username" required value="${name}" autofocus></label>
<label>Password<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
<p class="muted">Administrators are created with <code>antpeer-auth admins add</code>. Client application credentials do not sign in here.</p>
</div>`,
    );

  scope.get<{ Querystring: { expired?: string } }>('/login', PUBLIC_ROUTE, async (request, reply) =>
    context.send(reply, loginPage(request.query.expired ? 'Your console session has ended. Sign in again.' : null)),
  );

  scope.post<{ Body: Form | undefined }>('/login', PUBLIC_ROUTE, async (request, reply) => {
    const name = request.body?.name ?? '';
    const password = request.body?.password ?? '';
    const previous = context.cookieValue(request);
    const result = name === '' || password === '' ? null : await signIn(context.sessions, name, password, context.source(request), previous);
    if (!result) return context.send(reply, loginPage(SIGN_IN_REFUSED, name.slice(0, 200)), 401);
    context.setCookie(request, reply, result.cookieValue);
    return reply.redirect(`${base}/`, 303);
  });

  scope.post('/logout', async (request, reply) => {
    const { cookieValue, admin } = context.signedIn(request);
    await signOut(context.sessions, cookieValue, admin, context.source(request));
    context.setCookie(request, reply, null);
    return reply.redirect(`${base}/login`, 303);
  });
}
