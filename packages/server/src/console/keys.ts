import type { FastifyInstance } from 'fastify';
import { rotateSigningKey } from '../tokens/rotate-key.js';
import { consoleActor } from './console-sessions.js';
import { html } from './html.js';
import { confirmPage, duration, page, time } from './layout.js';
import type { ConsoleContext } from './plugin.js';

/** Signing keys: each with its age and state; rotate. */
export function registerKeyPages(scope: FastifyInstance, context: ConsoleContext): void {
  const { auth, base } = context;

  scope.get<{ Querystring: { done?: string } }>('/keys', async (request, reply) => {
    const now = auth.clock.now();
    const keys = await auth.store.keys.list();
    const published = new Set((await auth.keys.fresh(0)).keys.map((key) => key.kid));
    const state = (key: (typeof keys)[number]) =>
      key.retiredAt === null ? html`<span class="state-on">signing</span>` : published.has(key.kid) ? 'retired, still published' : 'retired';
    return context.send(
      reply,
      page(
        context.pageContext(request, '/keys'),
        'Signing keys',
        html`<p>New access tokens are signed with the newest key. A retired key stays published in the JWKS until every token it signed has expired.</p>
<p><a class="button" href="${base}/keys/rotate">Rotate the signing key…</a></p>
<div class="table-wrap" tabindex="0" role="region" aria-label="Signing keys"><table>
<thead><tr><th scope="col">Key id (kid)</th><th scope="col">Algorithm</th><th scope="col">Created</th><th scope="col">Age</th><th scope="col">State</th><th scope="col">Retired</th></tr></thead>
<tbody>${keys.map(
          (key) => html`<tr><td class="mono">${key.kid}</td><td>${key.alg}</td><td>${time(key.createdAt)}</td><td>${duration(now - key.createdAt)}</td><td>${state(key)}</td><td>${time(key.retiredAt)}</td></tr>`,
        )}</tbody>
</table></div>`,
        { notice: request.query.done === 'rotated' ? 'A new signing key was created; it signs from now on and is published in the JWKS.' : null },
      ),
    );
  });

  scope.get('/keys/rotate', async (request, reply) =>
    context.send(
      reply,
      confirmPage(context.pageContext(request, '/keys'), {
        title: 'Rotate the signing key?',
        message: `A new ${auth.config.signingAlgorithm} key signs every access token from now on. The current one stops signing and stays published until its tokens expire.`,
        action: `${base}/keys/rotate`,
        button: 'Rotate',
        cancel: `${base}/keys`,
      }),
    ),
  );

  scope.post('/keys/rotate', async (request, reply) => {
    await rotateSigningKey(auth, consoleActor(context.signedIn(request).admin, context.source(request)), auth.config.signingAlgorithm);
    return reply.redirect(`${base}/keys?done=rotated`, 303);
  });
}
