import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { CLIENT, TOKEN_PATH, startHarness, type Harness } from '../test/harness.js';
import { MetricsProbe } from '../test/metrics.js';
import { BASE_PATH } from '../test/http.js';
import { sendRaw, wire } from '../test/raw-http.js';
import { startRecordingUpstream, type Arrival, type RecordingUpstream } from '../test/recording-upstream.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const;

const last = (upstream: RecordingUpstream) => upstream.arrivals.at(-1) as Arrival;

describe('application endpoints without an upstream', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('require a token before anything else is said: 401 before 404, for any method', async () => {
    for (const method of METHODS) {
      for (const path of ['/user/addAccount', '/no/such/thing', '/', '/auth', '/auth/tokenx']) {
        const response = await h.server.app.inject({ method, url: `${BASE_PATH}${path}` });
        assert.equal(response.statusCode, 401, `${method} ${path}`);
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="127.0.0.1:0"');
      }
    }
  });

  it('answer a bad token with 401 invalid_token and a malformed header with 400', async () => {
    const bad = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/x`, headers: { authorization: 'Bearer abc.def.ghi' } });
    assert.equal(bad.statusCode, 401);
    assert.match(String(bad.headers['www-authenticate']), /error="invalid_token"/);
    const malformed = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/x`, headers: { authorization: 'Bearer' } });
    assert.equal(malformed.statusCode, 400);
    assert.match(String(malformed.headers['www-authenticate']), /error="invalid_request"/);
  });

  it('answer 404 only once the token checks out', async () => {
    const login = await h.login();
    const response = await h.server.app.inject({
      method: 'GET',
      url: `${BASE_PATH}/no/such/thing`,
      headers: { authorization: `Bearer ${login.access_token}` },
    });
    assert.equal(response.statusCode, 404);
  });

  it('a wrong method on an auth endpoint is a 405 naming the right one', async () => {
    const response = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/auth/token` });
    assert.equal(response.statusCode, 405);
    assert.equal(response.headers.allow, 'POST');
  });
});

describe('the gateway to an upstream', () => {
  let h: Harness;
  let upstream: RecordingUpstream;
  before(async () => {
    upstream = await startRecordingUpstream((seen) =>
      seen.url.startsWith('/svc/slow') ? { status: 200, body: '{}', delayMs: 3000 } : { status: 201, body: JSON.stringify({ echoed: seen.body.length }) },
    );
    h = await startHarness({ ANTPEER_UPSTREAM: `${upstream.url}/svc`, ANTPEER_UPSTREAM_TIMEOUT: '1', ANTPEER_GATEWAY_BODY_LIMIT: String(4 * 1024 * 1024) });
  });
  after(async () => {
    await h.close();
    await upstream.close();
  });

  it('never lets an unauthenticated request reach the upstream', async () => {
    const before = upstream.arrivals.length;
    for (const method of METHODS) {
      const response = await h.server.app.inject({ method, url: `${BASE_PATH}/user/addAccount`, payload: method === 'GET' || method === 'HEAD' ? undefined : '{"a":1}', headers: { 'content-type': 'application/json', 'x-auth-username': 'admin' } });
      assert.equal(response.statusCode, 401);
    }
    assert.equal(upstream.arrivals.length, before);
  });

  it('proxies method, path, query and body under the upstream prefix, and passes the verified identity', async () => {
    const login = await h.login();
    const body = JSON.stringify({ accountNumber: '0123456789', bank: '058' });
    const response = await h.server.app.inject({
      method: 'POST',
      url: `${BASE_PATH}/user/addAccount?dryRun=1&x=%20y`,
      headers: { authorization: `Bearer ${login.access_token}`, 'content-type': 'application/json' },
      payload: body,
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.headers['x-upstream'], 'yes');
    const seen = last(upstream);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/svc/user/addAccount?dryRun=1&x=%20y');
    assert.equal(seen.body, body);
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.equal(seen.headers['x-auth-username'], 'merchant-app');
    assert.equal(seen.headers['x-auth-session'], login.session_state);
    assert.equal(typeof seen.headers['x-auth-subject'], 'string');
    assert.equal(typeof seen.headers['x-auth-token-id'], 'string');
  });

  it('streams a large body through untouched, up to the gateway’s own limit (not the auth endpoints’)', async () => {
    const login = await h.login();
    const big = 'x'.repeat(2 * 1024 * 1024);
    const response = await h.server.app.inject({
      method: 'PUT',
      url: `${BASE_PATH}/files/upload`,
      headers: { authorization: `Bearer ${login.access_token}`, 'content-type': 'application/octet-stream' },
      payload: big,
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.json<{ echoed: number }>().echoed, big.length);
  });

  it('stops a revoked session at once, before its access token expires', async () => {
    const login = await h.login();
    const call = () =>
      h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/user/accounts`, headers: { authorization: `Bearer ${login.access_token}` } });
    assert.equal((await call()).statusCode, 201);
    await h.server.auth.store.sessions.end(login.session_state, 'revoked', h.clock.now());
    const response = await call();
    assert.equal(response.statusCode, 401);
    assert.match(String(response.headers['www-authenticate']), /error="invalid_token"/);
  });

  it('answers a store that fails the session check with 503 (unreachable) or 500, at once or later, counting a gateway error, and forwards nothing', async () => {
    const login = await h.login();
    const call = () =>
      h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/user/accounts`, headers: { authorization: `Bearer ${login.access_token}` } });
    // Verified once: from now on the token is answered from the guard's cache, the context from memory.
    assert.equal((await call()).statusCode, 201);
    const probe = new MetricsProbe(() => h.server.metrics.registry.metrics());
    const sessions = h.server.auth.store.sessions;
    const original = sessions.getContext;
    const locked = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const failures: Array<[string, () => never | Promise<never>, number]> = [
      ['unreachable, at once', () => { throw locked(); }, 503],
      ['unreachable, later', () => Promise.reject(locked()), 503],
      ['broken, at once', () => { throw new Error('SECRET broken'); }, 500],
      ['broken, later', () => Promise.reject(new Error('SECRET broken')), 500],
    ];
    try {
      for (const [name, fail, status] of failures) {
        sessions.getContext = fail;
        const arrived = upstream.arrivals.length;
        await probe.mark();
        const response = await call();
        await probe.read();
        assert.equal(response.statusCode, status, name);
        assert.doesNotMatch(response.body, /SECRET|locked/, name);
        assert.equal(probe.change('antpeer_gateway_requests_total', { outcome: 'error' }), 1, name);
        assert.equal(upstream.arrivals.length, arrived, name);
      }
    } finally {
      sessions.getContext = original;
    }
    assert.equal((await call()).statusCode, 201, 'the store back: the same token passes again');
  });

  it('refuses an access token issued before the not-before policy', async () => {
    const login = await h.login();
    h.clock.advance(1000);
    await h.server.auth.store.settings.setRealmNotBefore(h.clock.now());
    h.clock.advance(1000);
    const response = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/user/accounts`, headers: { authorization: `Bearer ${login.access_token}` } });
    assert.equal(response.statusCode, 401);
    await h.server.auth.store.settings.setRealmNotBefore(0);
  });

  it('answers 504 with a JSON error when the upstream is too slow, never hanging', async () => {
    const login = await h.login();
    const response = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/slow`, headers: { authorization: `Bearer ${login.access_token}` } });
    assert.equal(response.statusCode, 504);
    assert.deepEqual(response.json(), { error: 'gateway_timeout', error_description: 'The upstream service did not answer in time' });
  });
});

describe('what the gateway passes on, by configuration', () => {
  let upstream: RecordingUpstream;
  before(async () => {
    upstream = await startRecordingUpstream();
  });
  after(() => upstream.close());

  for (const forward of [false, true]) {
    it(`the caller’s Authorization and Cookie reach the upstream ${forward ? 'when' : 'only when'} configured`, async () => {
      const h = await startHarness({
        ANTPEER_UPSTREAM: upstream.url,
        ANTPEER_UPSTREAM_FORWARD_AUTHORIZATION: String(forward),
        ANTPEER_UPSTREAM_FORWARD_COOKIES: String(forward),
      });
      try {
        const login = await h.login();
        const authorization = `Bearer ${login.access_token}`;
        await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/x`, headers: { authorization, cookie: 'app=1' } });
        assert.equal(last(upstream).headers.authorization, forward ? authorization : undefined);
        assert.equal(last(upstream).headers.cookie, forward ? 'app=1' : undefined);
      } finally {
        await h.close();
      }
    });
  }

  /** What the upstream is told about a request from `remoteAddress` carrying `headers`. */
  async function forwardedFor(trustProxy: string, remoteAddress: string, headers: Record<string, string>): Promise<Arrival> {
    const h = await startHarness({ ANTPEER_UPSTREAM: upstream.url, ANTPEER_TRUST_PROXY: trustProxy });
    try {
      const login = await h.login();
      await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/x`, remoteAddress, headers: { authorization: `Bearer ${login.access_token}`, ...headers } });
      return last(upstream);
    } finally {
      await h.close();
    }
  }

  const spoofed = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' };

  it('with one trusted hop, the address is the one the proxy appended, not one the client wrote', async () => {
    const seen = await forwardedFor('1', '10.0.0.2', spoofed);
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-host'], 'api.example.com');
  });

  it('with a list of proxies, a peer on the list is believed and any other is not', async () => {
    const trusted = await forwardedFor('10.0.0.0/8', '10.0.0.2', spoofed);
    assert.equal(trusted.headers['x-forwarded-for'], '203.0.113.9');
    const untrusted = await forwardedFor('10.0.0.0/8', '192.0.2.50', spoofed);
    assert.equal(untrusted.headers['x-forwarded-for'], '192.0.2.50');
    assert.equal(untrusted.headers['x-forwarded-proto'], 'http');
    assert.notEqual(untrusted.headers['x-forwarded-host'], 'api.example.com');
  });

  it('with one trusted hop, writing a new X-Forwarded-For entry each time does not escape the per-source limit', async () => {
    const h = await startHarness({ ANTPEER_TRUST_PROXY: '1', ANTPEER_SOURCE_FAILURE_LIMIT: '3', ANTPEER_LOCKOUT_THRESHOLD: '1000' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const response = await h.token({ username: `nobody-${i}`, password: 'wrong password!' }, { 'x-forwarded-for': `6.6.6.${i}, 198.51.100.7` });
        statuses.push(response.statusCode);
      }
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    } finally {
      await h.close();
    }
  });
});

describe('the logs', () => {
  it('never hold a query string or a credential, whatever the request and however it fails', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => lines.push(line) });
    const upstream = await startRecordingUpstream((seen) => (seen.url.includes('reset') ? 'reset' : { status: 200 }));
    const h = await startHarness({ ANTPEER_UPSTREAM: upstream.url }, { listen: true, logger });
    const port = (h.server.app.server.address() as AddressInfo).port;
    try {
      const login = await h.login();
      const token = login.access_token;
      const secrets = [CLIENT.password, token, token.split('.')[2] as string, login.refresh_token, 'SECRET'];
      const authorization = `Bearer ${token}`;
      const query = `?refresh_token=SECRET-${login.refresh_token}&access_token=SECRET-Q`;
      await h.refresh(login.refresh_token);
      await h.server.app.inject({ method: 'POST', url: `${TOKEN_PATH}${query}`, payload: { username: CLIENT.username, password: `${CLIENT.password}x` } });
      for (const path of ['/ok', '/reset', '/%zz', '/a/../b', '/']) {
        await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}${path}${query}`, headers: { authorization, cookie: 'session=SECRET-COOKIE' } });
      }
      await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/x${query}`, headers: { authorization: 'Bearer SECRET.bad.token' } });
      await h.server.app.inject({ method: 'GET', url: `/nowhere${query}` });
      await sendRaw(port, wire(`POST ${BASE_PATH}/x${query} HTTP/1.1`, ['Host: a', authorization, 'Content-Length: 3', 'Transfer-Encoding: chunked'], '0\r\n\r\n'));
      await sendRaw(port, wire(`GET ${BASE_PATH}/x${query} HTTP/1.1`, ['Host: a', authorization, `X-Long: ${'y'.repeat(20_000)}`]));
      assert.ok(lines.some((line) => line.includes('upstream request failed')), 'the failing upstream was logged');
      for (const line of lines) {
        assert.ok(!line.includes('?'), `a log line holds a query string: ${line}`);
        for (const secret of secrets) assert.ok(!line.includes(secret), `a log line holds a credential: ${line}`);
      }
    } finally {
      await h.close();
      await upstream.close();
    }
  });
});

describe('the gateway when the upstream is down', () => {
  it('answers 502 with a JSON error', async () => {
    const upstream = await startRecordingUpstream();
    await upstream.close();
    const h = await startHarness({ ANTPEER_UPSTREAM: upstream.url });
    try {
      const login = await h.login();
      const response = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/user/accounts`, headers: { authorization: `Bearer ${login.access_token}` } });
      assert.equal(response.statusCode, 502);
      assert.deepEqual(response.json(), { error: 'bad_gateway', error_description: 'The upstream service could not be reached' });
    } finally {
      await h.close();
    }
  });
});

describe('the gateway to an https upstream', () => {
  it('refuses an upstream whose certificate it cannot verify (502), instead of sending it the identity', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'antpeer-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    let reached = 0;
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_request, response) => {
      reached += 1;
      response.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const h = await startHarness({ ANTPEER_UPSTREAM: `https://127.0.0.1:${(server.address() as AddressInfo).port}` });
    try {
      const login = await h.login();
      const response = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/user/accounts`, headers: { authorization: `Bearer ${login.access_token}` } });
      assert.equal(response.statusCode, 502);
      assert.equal(reached, 0, 'no request reached the unverified upstream');
    } finally {
      await h.close();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
