/**
 * The console as an outside attacker sees it: forged and cross-site requests, planted cookies,
 * framing, the application namespace, guessing administrator names, and what reaches the log.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { BASE_PATH } from '../test/http.js';
import { HashProbe } from '../test/hash-probe.js';
import { startHarness, type Harness } from '../test/harness.js';
import { ADMIN, CONSOLE, CONSOLE_ENV, addTestAdministrator, consoleCookie, csrfOf, postLogin, signedInClient } from '../test/console.js';

async function withConsole(fn: (h: Harness, logs: string[]) => Promise<void>, options: { hashProbe?: SharedArrayBuffer } = {}): Promise<void> {
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
  const h = await startHarness({ ...CONSOLE_ENV }, { logger, ...options });
  try {
    await addTestAdministrator(h);
    await fn(h, logs);
  } finally {
    await h.close();
  }
}

async function auditKinds(h: Harness): Promise<string[]> {
  return (await h.server.auth.store.audit.list({ limit: 100 })).map((event) => event.type);
}

describe('attacks on the web console', () => {
  it('a repeated query parameter is read as its first value, never a 500 (it crashed the list, audit and export pages)', async () => {
    await withConsole(async (h, logs) => {
      const client = await signedInClient(h);
      for (const path of ['/applications?q=a&q=b', '/audit?since=1h&since=2h', '/audit?application=a&application=b', '/audit/export?since=24h&since=x', '/sessions?application=a&application=b', '/login?expired=1&expired=2']) {
        const response = await client.get(path);
        assert.ok(response.statusCode < 500, `${path} answered ${response.statusCode}`);
      }
      assert.equal((await client.get('/audit?since=x&since=24h')).statusCode, 400, 'the first value is the one checked');
      for (const path of ['/audit?since=99999999999999999999d', '/audit?until=99999999999999999999d', '/audit/export?since=99999999999999999999d']) {
        assert.equal((await client.get(path)).statusCode, 400, `${path}: a time beyond any date is refused, not a 500 on PostgreSQL`);
      }
      assert.ok(!logs.some((line) => /"level":50/.test(line)), 'nothing was logged as an unexpected error');
    });
  });

  it('a cross-site sign-in (Sec-Fetch-Site, a foreign or opaque Origin) is refused with 403 and signs nobody in', async () => {
    await withConsole(async (h) => {
      const crossSite: Record<string, string>[] = [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'https://evil.example' }, { origin: 'null' }, { origin: 'not a url' }];
      for (const headers of crossSite) {
        const response = await postLogin(h, ADMIN.name, ADMIN.password, headers);
        assert.equal(response.statusCode, 403, JSON.stringify(headers));
        assert.equal(consoleCookie(response), null);
        assert.match(String(response.headers['content-security-policy']), /frame-ancestors 'none'/);
      }
      assert.ok(!(await auditKinds(h)).includes('console_login_succeeded'));
      const sameOrigin = await postLogin(h, ADMIN.name, ADMIN.password, { 'sec-fetch-site': 'same-origin', origin: 'http://auth.example.com:8443', host: 'auth.example.com:8443' });
      assert.equal(sameOrigin.statusCode, 303, 'the console’s own form still signs in');
    });
  });

  it('a same-origin change through a proxy whose Host names the default port is not refused as cross-site (every console change answered 403)', async () => {
    await withConsole(async (h) => {
      const client = await signedInClient(h);
      const page = await client.get('/keys/rotate');
      for (const [host, origin] of [['auth.example.com:443', 'https://auth.example.com'], ['localhost:80', 'http://localhost'], ['[::1]:80', 'http://[::1]']]) {
        const response = await h.server.app.inject({
          method: 'POST',
          url: `${CONSOLE}/keys/rotate`,
          headers: { host, origin, 'sec-fetch-site': 'same-origin', cookie: `antpeer_console=${client.cookie}`, 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ _csrf: csrfOf(page.body) }).toString(),
        });
        assert.equal(response.statusCode, 303, `${host} ${origin}: ${response.body.slice(0, 200)}`);
      }
      const otherPort = await postLogin(h, ADMIN.name, ADMIN.password, { host: 'auth.example.com:8443', origin: 'https://auth.example.com' });
      assert.equal(otherPort.statusCode, 403, 'another port is another origin');
    });
  });

  it('a cookie planted before sign-in, real or made up, is never the session the sign-in hands out', async () => {
    await withConsole(async (h) => {
      const attacker = await signedInClient(h);
      for (const planted of [attacker.cookie, 'A'.repeat(43), '']) {
        const response = await postLogin(h, ADMIN.name, ADMIN.password, { cookie: `antpeer_console=${planted}` });
        const fresh = consoleCookie(response);
        assert.ok(fresh && fresh !== planted && fresh.length >= 43);
      }
      assert.equal((await attacker.get('/')).statusCode, 303, 'the planted session ended');
    });
  });

  it('every console answer, errors, redirects, 404s and the router’s own 400 and 414 included, forbids framing (the router’s had no framing headers)', async () => {
    await withConsole(async (h) => {
      const client = await signedInClient(h);
      const anonymous = (method: 'GET' | 'POST' | 'PUT', path: string) => h.server.app.inject({ method, url: `${CONSOLE}${path}` });
      const answers = [
        await anonymous('GET', '/login'),
        await anonymous('GET', '/applications'),
        await anonymous('PUT', '/login'),
        await anonymous('POST', '/login'),
        await anonymous('GET', '/assets/nothing.css'),
        await anonymous('GET', '/assets/console.css'),
        await client.get('/no-such-page'),
        await client.get('/applications/not-an-id/disable'),
        await client.get('/applications/1/unknown-action'),
        await client.get('/audit?since=garbage'),
        await client.post('/keys/rotate', {}, { csrf: 'forged' }),
        await client.post('/applications', { username: '' }),
        await anonymous('GET', '/applications/%ZZ/disable'),
        await anonymous('GET', `/sessions/${'x'.repeat(5000)}/revoke`),
      ];
      for (const response of answers) {
        assert.match(String(response.headers['content-security-policy']), /frame-ancestors 'none'/, `${response.statusCode} ${response.body.slice(0, 80)}`);
        assert.equal(response.headers['x-frame-options'], 'DENY');
        assert.equal(response.headers['x-content-type-options'], 'nosniff');
      }
      assert.deepEqual(answers.map((response) => response.statusCode), [200, 303, 303, 401, 404, 200, 404, 404, 404, 400, 403, 400, 400, 414]);
    });
  });

  it('the console cookie is scoped to the console and is no credential in the application namespace', async () => {
    await withConsole(async (h) => {
      const login = await postLogin(h, ADMIN.name, ADMIN.password);
      assert.match(String(login.headers['set-cookie']), /; Path=\/admin;/);
      const cookie = consoleCookie(login);
      for (const path of [`${BASE_PATH}/accounts`, `${BASE_PATH}/auth/verify`]) {
        const response = await h.server.app.inject({ method: 'GET', url: path, headers: { cookie: `antpeer_console=${cookie}` } });
        assert.equal(response.statusCode, 401, path);
        assert.ok(!response.body.includes(String(cookie)));
      }
      const token = await h.server.app.inject({ method: 'POST', url: `${BASE_PATH}/auth/token`, headers: { cookie: `antpeer_console=${cookie}`, 'content-type': 'application/json' }, payload: '{}' });
      assert.equal(token.statusCode, 400);
    });
  });

  it('an unknown administrator name costs a password hash and answers like a wrong password (no enumeration)', async () => {
    const probe = new HashProbe();
    await withConsole(
      async (h) => {
        const before = probe.started;
        const unknown = await postLogin(h, 'nobody-here', ADMIN.password);
        const afterUnknown = probe.started;
        const wrong = await postLogin(h, ADMIN.name, 'not the password');
        assert.equal(afterUnknown - before, 1, 'the unknown name was hashed against');
        assert.equal(probe.started - afterUnknown, 1);
        assert.equal(unknown.statusCode, wrong.statusCode);
        assert.equal(unknown.body.replace('nobody-here', ADMIN.name), wrong.body);
        const details = (await h.server.auth.store.audit.list({ type: 'console_login_failed', limit: 5 })).map((event) => event.detail);
        assert.equal(new Set(details).size, 1, 'the audit trail does not tell them apart either');
      },
      { hashProbe: probe.buffer },
    );
  });

  it('no log line holds a session cookie, a CSRF token or a password, whatever was sent', async () => {
    await withConsole(async (h, logs) => {
      const client = await signedInClient(h);
      const page = await client.get('/applications');
      const csrf = csrfOf(page.body);
      await client.post('/applications', { username: 'console-made-app' });
      await client.post('/keys/rotate', {}, { csrf: `${csrf}x` });
      await h.server.app.inject({ method: 'GET', url: `${CONSOLE}/audit?since=${csrf}`, headers: { cookie: `antpeer_console=${client.cookie}` } });
      await postLogin(h, ADMIN.name, `${ADMIN.password}!`, { cookie: `antpeer_console=${client.cookie}` });
      assert.ok(logs.length > 0);
      for (const secret of [client.cookie, csrf, ADMIN.password]) {
        const leaked = logs.filter((line) => line.includes(secret));
        assert.deepEqual(leaked, [], 'a log line holds a console secret');
      }
    });
  });
});
