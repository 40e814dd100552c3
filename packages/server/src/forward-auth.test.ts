// Forward authentication end to end: a real nginx with the README's configuration in front of a
// real application server, asking a real antpeer-auth (over loopback HTTP, with an injected clock
// so that expiry needs no waiting) about every request.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { disableUser } from './test/admin.js';
import { BASE, CLIENT, startHarness, type Harness, type TokenBody } from './test/harness.js';
import { findNginx, readmeForwardAuthConfig, startNginx, type Nginx } from './test/nginx.js';
import { freePort } from './test/process.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaderNames: string[];
  body: string;
}

const IDENTITY = ['x-auth-subject', 'x-auth-username', 'x-auth-session', 'x-auth-token-id'];

const nginxBinary = findNginx();
const missing = nginxBinary === null ? 'nginx is not installed (apt-get install -y nginx)' : false;

describe('forward authentication through a real nginx (auth_request, the README configuration)', { skip: process.env.CI === 'true' ? false : missing }, () => {
  let h: Harness;
  let nginx: Nginx;
  let application: Server;
  const seen: Seen[] = [];

  before(async () => {
    // In CI a missing nginx is a failure, not a skip: .ci/run installs it.
    assert.ok(nginxBinary, 'nginx is not installed; .ci/run installs the Debian package');
    h = await startHarness({}, { listen: true });
    application = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const rawHeaderNames = request.rawHeaders.filter((_, index) => index % 2 === 0);
        seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, rawHeaderNames, body: Buffer.concat(chunks).toString() });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"accounts":[]}');
      });
    });
    await new Promise<void>((resolve) => application.listen(0, '127.0.0.1', resolve));
    const port = await freePort();
    const config = readmeForwardAuthConfig({
      nginx: port,
      antpeer: (h.server.app.server.address() as AddressInfo).port,
      application: (application.address() as AddressInfo).port,
    });
    nginx = await startNginx(nginxBinary, config, port);
  });
  after(async () => {
    await nginx?.stop();
    await new Promise((resolve) => application?.close(resolve));
    await h?.close();
  });

  /** A request through nginx; returns the answer and what the application saw of it (null: nothing). */
  async function call(path: string, init: RequestInit = {}): Promise<{ response: Response; body: string; upstream: Seen | null }> {
    const before = seen.length;
    const response = await fetch(`${nginx.origin}${BASE}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
    const body = await response.text();
    assert.ok(seen.length - before <= 1);
    return { response, body, upstream: seen.length > before ? (seen.at(-1) as Seen) : null };
  }

  /** Logs in through nginx: the token service's own endpoints need no token. */
  async function login(): Promise<TokenBody> {
    const { response, body } = await call('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(CLIENT),
    });
    assert.equal(response.status, 200, body);
    return JSON.parse(body) as TokenBody;
  }

  function assertRefused(result: { response: Response; body: string; upstream: Seen | null }, challenge: RegExp): void {
    assert.equal(result.response.status, 401, result.body);
    assert.match(result.response.headers.get('www-authenticate') ?? '', challenge);
    assert.equal(result.response.headers.get('content-type'), 'application/json');
    assert.equal(JSON.parse(result.body).error, 'unauthorized');
    assert.equal(result.upstream, null, 'the application saw the refused request');
  }

  it('passes a request with a valid token to the application with the verified identity, without the token', async () => {
    const token = await login();
    const claims = JSON.parse(Buffer.from(token.access_token.split('.')[1] as string, 'base64url').toString()) as { sub: string; jti: string };
    const { response, body, upstream } = await call('/user/accounts?page=2', {
      method: 'POST',
      headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
      body: '{"amount": 42}',
    });
    assert.equal(response.status, 200, body);
    assert.ok(upstream);
    assert.equal(upstream.method, 'POST');
    assert.equal(upstream.url, `${BASE}/user/accounts?page=2`);
    assert.equal(upstream.body, '{"amount": 42}');
    assert.equal(upstream.headers['x-auth-subject'], claims.sub);
    assert.equal(upstream.headers['x-auth-username'], CLIENT.username);
    assert.equal(upstream.headers['x-auth-session'], token.session_state);
    assert.equal(upstream.headers['x-auth-token-id'], claims.jti);
    assert.equal(upstream.headers.authorization, undefined);
  });

  it('never lets spoofed identity headers reach the application, with or without a valid token', async () => {
    const token = await login();
    const spoofed = {
      'X-Auth-Username': 'admin',
      X_Auth_Username: 'admin',
      'x-auth-subject': 'someone-else',
      X_AUTH_SUBJECT: 'someone-else',
      'X-Auth-Session': 'forged',
      'X-Auth-Token-Id': 'forged',
    };
    const allowed = await call('/payments', { headers: { ...spoofed, authorization: `Bearer ${token.access_token}` } });
    assert.equal(allowed.response.status, 200, allowed.body);
    assert.ok(allowed.upstream);
    assert.equal(allowed.upstream.headers['x-auth-username'], CLIENT.username);
    assert.equal(allowed.upstream.headers['x-auth-session'], token.session_state);
    assert.notEqual(allowed.upstream.headers['x-auth-subject'], 'someone-else');
    assert.notEqual(allowed.upstream.headers['x-auth-token-id'], 'forged');
    for (const name of allowed.upstream.rawHeaderNames) assert.doesNotMatch(name, /_/, `${name} reached the application`);
    const identity = allowed.upstream.rawHeaderNames.filter((name) => /^x-auth-/i.test(name));
    assert.deepEqual(identity.map((name) => name.toLowerCase()).sort(), [...IDENTITY].sort(), 'each identity header exactly once');

    assertRefused(await call('/payments', { headers: spoofed }), /^Bearer realm="[^"]+"$/);
  });

  it('refuses a request without a token with 401 and a Bearer challenge, and the application sees nothing', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      assertRefused(await call('/user/accounts', { method }), /^Bearer realm="[^"]+"$/);
    }
  });

  it('refuses an expired token', async () => {
    const token = await login();
    h.clock.advance(900_000);
    assertRefused(await call('/user/accounts', { headers: { authorization: `Bearer ${token.access_token}` } }), /error="invalid_token"/);
  });

  it('refuses a token whose session was revoked, at once', async () => {
    const token = await login();
    const headers = { authorization: `Bearer ${token.access_token}` };
    assert.equal((await call('/user/accounts', { headers })).response.status, 200);
    const revoke = await call('/auth/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: token.refresh_token }).toString(),
    });
    assert.equal(revoke.response.status, 200);
    assertRefused(await call('/user/accounts', { headers }), /error="invalid_token"/);
  });

  it('refuses a tampered token', async () => {
    const token = await login();
    const [header, payload, signature] = token.access_token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, client_id: 'admin' })).toString('base64url');
    assertRefused(await call('/user/accounts', { headers: { authorization: `Bearer ${header}.${forged}.${signature}` } }), /error="invalid_token"/);
  });

  it('refuses the token of a disabled client application', async () => {
    const token = await login();
    await disableUser(h, CLIENT.username);
    try {
      assertRefused(await call('/user/accounts', { headers: { authorization: `Bearer ${token.access_token}` } }), /error="invalid_token"/);
    } finally {
      await disableUser(h, CLIENT.username, true);
    }
  });

  it('lets a request whose raw URI carries UTF-8 bytes past the check (X-Original-URI is not refused)', async () => {
    const token = await login();
    const status = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(nginx.origin).port), '127.0.0.1', () => {
        socket.write(Buffer.concat([
          Buffer.from(`GET ${BASE}/caf`),
          Buffer.from('é/€', 'utf8'),
          Buffer.from(` HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token.access_token}\r\nConnection: close\r\n\r\n`),
        ]));
      });
      let answer = '';
      socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
      socket.once('end', () => resolve(answer.split('\r\n')[0] ?? ''));
      socket.once('error', reject);
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    });
    // A refusal would be 401, a verify answer nginx cannot use its 500 (503 here); the request got
    // through to the application, whose own HTTP parser (Node's) refuses raw UTF-8 in a URI.
    assert.equal(status, 'HTTP/1.1 400 Bad Request', nginx.stderr());
  });

  it('answers a malformed Authorization header with 401, not nginx’s 500', async () => {
    assertRefused(await call('/user/accounts', { headers: { authorization: 'Bearer a b' } }), /error="invalid_request"/);
  });
});
