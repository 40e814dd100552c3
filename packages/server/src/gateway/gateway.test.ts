import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BASE_PATH } from '../test/http.js';
import { startHarness, type Harness } from '../test/harness.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real upstream on loopback that records what reached it. */
async function startUpstream(handler?: (seen: Seen) => { status: number; body: string; delayMs?: number }) {
  const seen: Seen[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString() };
      seen.push(entry);
      const answer = handler?.(entry) ?? { status: 200, body: JSON.stringify({ ok: true }) };
      setTimeout(() => {
        response.writeHead(answer.status, { 'content-type': 'application/json', 'x-upstream': 'yes' }).end(answer.body);
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const;

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
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  before(async () => {
    upstream = await startUpstream((seen) =>
      seen.url.startsWith('/svc/slow') ? { status: 200, body: '{}', delayMs: 3000 } : { status: 201, body: JSON.stringify({ echoed: seen.body.length }) },
    );
    h = await startHarness({ ANTPEER_UPSTREAM: `${upstream.url}/svc`, ANTPEER_UPSTREAM_TIMEOUT: '1' });
  });
  after(async () => {
    await h.close();
    await upstream.close();
  });

  it('never lets an unauthenticated request reach the upstream', async () => {
    const before = upstream.seen.length;
    for (const method of METHODS) {
      const response = await h.server.app.inject({ method, url: `${BASE_PATH}/user/addAccount`, payload: method === 'GET' || method === 'HEAD' ? undefined : '{"a":1}', headers: { 'content-type': 'application/json', 'x-auth-username': 'admin' } });
      assert.equal(response.statusCode, 401);
    }
    assert.equal(upstream.seen.length, before);
  });

  it('proxies method, path, query and body, and passes the verified identity', async () => {
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
    const seen = upstream.seen.at(-1) as Seen;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/svc/user/addAccount?dryRun=1&x=%20y');
    assert.equal(seen.body, body);
    assert.equal(seen.headers['x-auth-username'], 'merchant-app');
    assert.equal(seen.headers['x-auth-session'], login.session_state);
    assert.equal(typeof seen.headers['x-auth-subject'], 'string');
    assert.equal(typeof seen.headers['x-auth-token-id'], 'string');
  });

  it('strips every client-sent X-Auth-* header so identity cannot be spoofed', async () => {
    const login = await h.login();
    await h.server.app.inject({
      method: 'GET',
      url: `${BASE_PATH}/user/accounts`,
      headers: {
        authorization: `Bearer ${login.access_token}`,
        'x-auth-username': 'admin',
        'X-Auth-Subject': 'root',
        'x-auth-role': 'superuser',
        'x-auth-session': 'forged',
      },
    });
    const seen = upstream.seen.at(-1) as Seen;
    assert.equal(seen.headers['x-auth-username'], 'merchant-app');
    assert.notEqual(seen.headers['x-auth-subject'], 'root');
    assert.equal(seen.headers['x-auth-role'], undefined);
    assert.equal(seen.headers['x-auth-session'], login.session_state);
  });

  it('streams a large body through untouched (not limited by the auth endpoints’ body limit)', async () => {
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
    assert.equal(response.json<{ error: string }>().error, 'gateway_timeout');
  });
});

describe('the gateway when the upstream is down', () => {
  it('answers 502 with a JSON error', async () => {
    const upstream = await startUpstream();
    await upstream.close();
    const h = await startHarness({ ANTPEER_UPSTREAM: upstream.url });
    try {
      const login = await h.login();
      const response = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/user/accounts`, headers: { authorization: `Bearer ${login.access_token}` } });
      assert.equal(response.statusCode, 502);
      assert.equal(response.json<{ error: string }>().error, 'bad_gateway');
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
