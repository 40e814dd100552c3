import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { startServer } from '../server.js';
import { CLIENT, TEST_ARGON2, TOKEN_PATH, startHarness, type Harness } from '../test/harness.js';
import { escapeHtml, html } from './html.js';
import { SIGN_IN_REFUSED } from './login.js';
import { ADMIN, CONSOLE, CONSOLE_ENV, addTestAdministrator, consoleCookie, postLogin, signedInClient } from '../test/console.js';

async function withConsole(env: Record<string, string>, fn: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness({ ...CONSOLE_ENV, ...env });
  try {
    await addTestAdministrator(h);
    await fn(h);
  } finally {
    await h.close();
  }
}

const MINUTE = 60_000;

describe('the web console', () => {
  it('is off unless enabled: its path answers 404 like any unknown path', async () => {
    const h = await startHarness();
    try {
      const response = await h.server.app.inject({ method: 'GET', url: `${CONSOLE}/login` });
      assert.equal(response.statusCode, 404);
      assert.equal(response.headers['content-type']?.toString().startsWith('application/json'), true);
    } finally {
      await h.close();
    }
  });

  it('refuses a path inside the application namespace or over a route the server already has', () => {
    assert.throws(() => loadConfig({ ...CONSOLE_ENV, ANTPEER_ADMIN_PATH: '/bankit-api/antPeer/v1/admin' }), /ANTPEER_ADMIN_PATH .* outside ANTPEER_BASE_PATH/);
    assert.throws(() => loadConfig({ ...CONSOLE_ENV, ANTPEER_ADMIN_PATH: '/bankit-api' }), /outside ANTPEER_BASE_PATH/);
    assert.throws(() => loadConfig({ ...CONSOLE_ENV, ANTPEER_ADMIN_PATH: '/healthz' }), /overlaps \/healthz/);
    assert.throws(() => loadConfig({ ...CONSOLE_ENV, ANTPEER_ADMIN_PATH: '/' }), /ANTPEER_ADMIN_PATH must be a path/);
    assert.equal(loadConfig({ ...CONSOLE_ENV, ANTPEER_ADMIN_PATH: '/ops/console/' }).adminConsole?.path, '/ops/console');
    assert.equal(loadConfig({}).adminConsole, null);
    assert.throws(() => loadConfig({ ANTPEER_ADMIN_CONSOLE: 'on' }), /ANTPEER_ADMIN_CONSOLE must be true or false/);
    assert.throws(
      () => loadConfig({ ...CONSOLE_ENV, ANTPEER_ADMIN_SESSION_IDLE: '3600', ANTPEER_ADMIN_SESSION_MAX: '600' }),
      /ANTPEER_ADMIN_SESSION_MAX \(600\) must be at least ANTPEER_ADMIN_SESSION_IDLE \(3600\)/,
    );
  });

  it('every page carries a strict content security policy and cannot be framed', async () => {
    await withConsole({}, async (h) => {
      const client = await signedInClient(h);
      for (const response of [await h.server.app.inject({ method: 'GET', url: `${CONSOLE}/login` }), await client.get('/'), await client.get('/applications')]) {
        assert.equal(response.statusCode, 200);
        const csp = String(response.headers['content-security-policy']);
        assert.match(csp, /default-src 'none'/);
        assert.match(csp, /script-src 'self'(;|$)/);
        assert.match(csp, /frame-ancestors 'none'/);
        assert.equal(response.headers['x-frame-options'], 'DENY');
        assert.equal(response.headers['cache-control'], 'no-store');
        assert.doesNotMatch(response.body, /<script>|<style|style="|\son[a-z]+=/i, 'no inline script, style or handler');
      }
    });
  });

  it('the session cookie is HttpOnly, SameSite=Strict, scoped to the console, and Secure except over plain HTTP to loopback', async () => {
    await withConsole({}, async (h) => {
      const local = await postLogin(h, ADMIN.name, ADMIN.password, { host: '127.0.0.1:8080' });
      const localCookie = String(local.headers['set-cookie']);
      assert.match(localCookie, /; Path=\/admin; HttpOnly; SameSite=Strict$/);
      const remote = await postLogin(h, ADMIN.name, ADMIN.password, { host: 'auth.example.com' });
      assert.match(String(remote.headers['set-cookie']), /; Path=\/admin; HttpOnly; SameSite=Strict; Secure$/);
    });
  });

  it('a wrong password, an unknown administrator and a client application’s own credentials get the same refusal', async () => {
    await withConsole({}, async (h) => {
      const answers = [
        await postLogin(h, ADMIN.name, 'not the password'),
        await postLogin(h, 'nobody-here', ADMIN.password),
        await postLogin(h, CLIENT.username, CLIENT.password),
      ];
      for (const answer of answers) {
        assert.equal(answer.statusCode, 401);
        assert.equal(consoleCookie(answer), null);
        assert.match(answer.body, new RegExp(SIGN_IN_REFUSED.replace('.', '\\.')));
      }
      const failures = await h.server.auth.store.audit.list({ type: 'console_login_failed', limit: 10 });
      assert.equal(failures.length, 3);
    });
  });

  it('without a session every page sends the browser to the sign-in page, and a change is not made', async () => {
    await withConsole({}, async (h) => {
      const page = await h.server.app.inject({ method: 'GET', url: `${CONSOLE}/applications` });
      assert.equal(page.statusCode, 303);
      assert.equal(page.headers.location, `${CONSOLE}/login`);
      const change = await h.server.app.inject({
        method: 'POST',
        url: `${CONSOLE}/applications`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'antpeer_console=forged' },
        payload: 'username=sneaky&_csrf=x',
      });
      assert.equal(change.statusCode, 303);
      assert.equal(change.headers.location, `${CONSOLE}/login?expired=1`);
      assert.equal(await h.server.auth.store.users.findByUsername('sneaky'), null);
    });
  });

  it('a change without its CSRF token, with another session’s, or from another site is refused with 403 and not made', async () => {
    await withConsole({}, async (h) => {
      const client = await signedInClient(h);
      const other = await signedInClient(h);
      await other.get('/');
      assert.equal((await client.post('/applications', { username: 'no-token' }, { csrf: null })).statusCode, 403);
      const otherToken = /name="_csrf" value="([^"]+)"/.exec((await other.get('/')).body)?.[1] ?? '';
      assert.equal((await client.post('/applications', { username: 'wrong-token' }, { csrf: otherToken })).statusCode, 403);
      await client.get('/');
      const crossSite = await h.server.app.inject({
        method: 'POST',
        url: `${CONSOLE}/applications`,
        headers: {
          cookie: `antpeer_console=${client.cookie}`,
          'content-type': 'application/x-www-form-urlencoded',
          origin: 'https://evil.example',
        },
        payload: new URLSearchParams({ username: 'cross-site', _csrf: /name="_csrf" value="([^"]+)"/.exec((await client.get('/')).body)?.[1] ?? '' }).toString(),
      });
      assert.equal(crossSite.statusCode, 403);
      for (const name of ['no-token', 'wrong-token', 'cross-site']) assert.equal(await h.server.auth.store.users.findByUsername(name), null);
      assert.equal((await client.post('/applications', { username: 'with-token' })).statusCode, 200);
      assert.notEqual(await h.server.auth.store.users.findByUsername('with-token'), null);
    });
  });

  it('a session unused past the idle timeout, or older than the absolute one however busy, ends: back to the sign-in page', async () => {
    await withConsole({ ANTPEER_ADMIN_SESSION_IDLE: '600', ANTPEER_ADMIN_SESSION_MAX: '1800' }, async (h) => {
      const idle = await signedInClient(h);
      h.clock.advance(10 * MINUTE - 1);
      assert.equal((await idle.get('/')).statusCode, 200, 'used just before the idle timeout');
      h.clock.advance(10 * MINUTE);
      const expired = await idle.get('/');
      assert.equal(expired.statusCode, 303);
      assert.equal(expired.headers.location, `${CONSOLE}/login?expired=1`);
      assert.match((await h.server.app.inject({ method: 'GET', url: expired.headers.location })).body, /Your console session has ended/);

      const busy = await signedInClient(h);
      for (let minutes = 5; minutes < 30; minutes += 5) {
        h.clock.advance(5 * MINUTE);
        assert.equal((await busy.get('/')).statusCode, 200);
      }
      h.clock.advance(5 * MINUTE);
      assert.equal((await busy.get('/')).statusCode, 303, 'past the absolute timeout');
    });
  });

  it('the dashboard refreshing itself does not keep an unattended console signed in', async () => {
    await withConsole({ ANTPEER_ADMIN_SESSION_IDLE: '600' }, async (h) => {
      const client = await signedInClient(h);
      for (let seconds = 0; seconds < 600; seconds += 60) {
        assert.equal((await client.get('/dashboard.json')).statusCode, 200);
        h.clock.advance(MINUTE);
      }
      assert.equal((await client.get('/dashboard.json')).statusCode, 303);
    });
  });

  it('a console session works on every instance over the same store, and signing out on one ends it on all', async () => {
    await withConsole({}, async (h) => {
      const other = await startServer(h.config, { clock: h.clock, logger: pino({ level: 'silent' }), argon2: TEST_ARGON2, listen: false });
      try {
        const client = await signedInClient(h);
        const onOther = (method: 'GET' | 'POST', payload?: string) =>
          other.app.inject({
            method,
            url: method === 'GET' ? `${CONSOLE}/applications` : `${CONSOLE}/logout`,
            headers: { cookie: `antpeer_console=${client.cookie}`, 'content-type': 'application/x-www-form-urlencoded' },
            ...(payload === undefined ? {} : { payload }),
          });
        const page = await onOther('GET');
        assert.equal(page.statusCode, 200);
        const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
        assert.equal((await onOther('POST', `_csrf=${csrf}`)).statusCode, 303);
        assert.equal((await client.get('/')).statusCode, 303, 'signed out on the first instance too');
      } finally {
        await other.close();
      }
    });
  });

  it('signing out ends the session in the store: the old cookie no longer works', async () => {
    await withConsole({}, async (h) => {
      const client = await signedInClient(h);
      const out = await client.post('/logout');
      assert.equal(out.statusCode, 303);
      assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
      assert.equal((await client.get('/')).statusCode, 303);
      assert.equal((await h.server.auth.store.audit.list({ type: 'console_logout', limit: 5 })).length, 1);
    });
  });

  it('a sign-in never keeps the session id the browser came with (no fixation)', async () => {
    await withConsole({}, async (h) => {
      const planted = await signedInClient(h);
      const again = await postLogin(h, ADMIN.name, ADMIN.password, { cookie: `antpeer_console=${planted.cookie}` });
      const fresh = consoleCookie(again);
      assert.ok(fresh);
      assert.notEqual(fresh, planted.cookie);
      assert.equal((await planted.get('/')).statusCode, 303, 'the session the browser came with has ended');
    });
  });

  it('sign-ins are limited as the token endpoint’s logins are, on counters of their own', async () => {
    await withConsole({ ANTPEER_LOCKOUT_THRESHOLD: '3' }, async (h) => {
      for (let attempt = 0; attempt < 3; attempt++) assert.equal((await postLogin(h, ADMIN.name, 'wrong')).statusCode, 401);
      const locked = await postLogin(h, ADMIN.name, ADMIN.password);
      assert.equal(locked.statusCode, 401, 'the right password is refused while locked');
      assert.equal(consoleCookie(locked), null);
      assert.equal((await h.server.auth.store.audit.list({ type: 'lockout_started', limit: 5 })).length, 1);
      assert.equal((await h.token(CLIENT)).statusCode, 200, 'the token endpoint is not locked by console failures');
      h.clock.advance(16 * MINUTE);
      assert.equal((await postLogin(h, ADMIN.name, ADMIN.password)).statusCode, 303, 'the lock ends with its window');
    });
  });

  it('an application added from the console can use its password at /auth/token; the audit trail names the administrator', async () => {
    await withConsole({}, async (h) => {
      const client = await signedInClient(h);
      const added = await client.post('/applications', { username: 'console-made' });
      assert.equal(added.statusCode, 200);
      const password = /id="generated-password">([^<]+)</.exec(added.body)?.[1];
      assert.ok(password);
      const token = await h.token({ username: 'console-made', password });
      assert.equal(token.statusCode, 200);
      const [event] = await h.server.auth.store.audit.list({ type: 'user_added', limit: 1 });
      assert.match(event?.detail ?? '', /by administrator "ops-alice" \(web console\)$/);
      assert.equal((await client.get('/applications')).body.includes(password), false, 'the password is shown once only');
    });
  });

  it('requiring DPoP of an application from the console refuses its bare password grants until bearer is allowed again', async () => {
    await withConsole({}, async (h) => {
      const client = await signedInClient(h);
      const user = await h.server.auth.store.users.findByUsername(CLIENT.username);
      assert.ok(user);
      assert.match((await client.get('/applications')).body, /<td>optional<\/td>/);
      assert.equal((await client.post(`/applications/${user.id}/require-dpop`)).statusCode, 303);
      assert.match((await client.get('/applications')).body, /<td>required<\/td>/);
      const refused = await h.token({ username: CLIENT.username, password: CLIENT.password });
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.json<{ error: string }>().error, 'invalid_dpop_proof');
      const [event] = await h.server.auth.store.audit.list({ type: 'dpop_required', limit: 1 });
      assert.match(event?.detail ?? '', /by administrator "ops-alice" \(web console\)$/);

      assert.equal((await client.post(`/applications/${user.id}/allow-bearer`)).statusCode, 303);
      assert.equal((await h.token({ username: CLIENT.username, password: CLIENT.password })).statusCode, 200);
    });
  });

  it('a name with markup is shown as text everywhere, never run', async () => {
    await withConsole({}, async (h) => {
      const client = await signedInClient(h);
      const evil = '<script>alert(1)</script>';
      // The username rule may refuse it; the refusal page must echo nothing as markup either.
      const added = await client.post('/applications', { username: evil });
      assert.equal(added.body.includes(evil), false);
      await h.server.auth.store.users.create({ id: 'evil-id', username: `x${evil}"'&`, passwordHash: 'x', createdAt: h.clock.now() });
      await h.server.auth.store.audit.record({
        at: h.clock.now(),
        type: 'login_failed',
        userId: 'evil-id',
        sessionId: null,
        sourceAddress: '192.0.2.1',
        userAgent: `<img src=x onerror=alert(1)>`,
        detail: evil,
      });
      for (const path of ['/applications', '/sessions', '/audit', '/applications/evil-id/remove']) {
        const body = (await client.get(path)).body;
        assert.equal(body.includes('<script>alert'), false, path);
        assert.equal(body.includes('<img src=x'), false, path);
      }
      assert.match((await client.get('/applications')).body, /x&lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;&#39;&amp;/);
    });
  });

  it('escapes every interpolated value and leaves built markup alone', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const name = '"><script>';
    assert.equal(html`<input value="${name}">${html`<b>${name}</b>`}`.value, '<input value="&quot;&gt;&lt;script&gt;"><b>&quot;&gt;&lt;script&gt;</b>');
    assert.equal(html`${null}${undefined}${false}${[1, '<']}`.value, '1&lt;');
  });

  it('revoking a session from the console gets its refresh token refused', async () => {
    await withConsole({}, async (h) => {
      const tokens = await h.login();
      const client = await signedInClient(h);
      const list = await client.get('/sessions');
      assert.match(list.body, new RegExp(tokens.session_state));
      assert.equal((await client.post(`/sessions/${tokens.session_state}/revoke`)).statusCode, 303);
      const refused = await h.refresh(tokens.refresh_token);
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.json<{ error_description: string }>().error_description, 'Session not active');
    });
  });

  it('the audit trail filters by kind and exports what it shows as JSON lines', async () => {
    await withConsole({}, async (h) => {
      await h.login();
      await h.token({ username: CLIENT.username, password: 'wrong' });
      const client = await signedInClient(h);
      const filtered = await client.get('/audit?kind=login_failed');
      assert.equal(filtered.statusCode, 200);
      assert.match(filtered.body, /<td>login_failed<\/td>/);
      assert.doesNotMatch(filtered.body, /<td>login_succeeded<\/td>/);
      const exported = await client.get('/audit/export?kind=login_succeeded');
      assert.match(String(exported.headers['content-disposition']), /^attachment; filename="antpeer-audit-/);
      const lines = exported.body.trim().split('\n').map((line) => JSON.parse(line) as { kind: string; user: string });
      assert.deepEqual(lines.map((line) => [line.kind, line.user]), [['login_succeeded', CLIENT.username]]);
      assert.equal((await client.get('/audit?since=yesterday')).statusCode, 400);
    });
  });

  it('the token endpoint still answers as before with the console on', async () => {
    await withConsole({}, async (h) => {
      const response = await h.server.app.inject({ method: 'POST', url: TOKEN_PATH, payload: CLIENT, headers: { 'content-type': 'application/json' } });
      assert.equal(response.statusCode, 200);
    });
  });
});
