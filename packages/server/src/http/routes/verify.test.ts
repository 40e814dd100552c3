import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { disableUser } from '../../test/admin.js';
import { BASE, CLIENT, startHarness, type Harness, type TokenBody } from '../../test/harness.js';

const VERIFY = `${BASE}/auth/verify`;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

function assertIdentity(response: LightMyRequestResponse, login: TokenBody, user = CLIENT.username): void {
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.headers['x-auth-username'], user);
  assert.equal(response.headers['x-auth-session'], login.session_state);
  const claims = JSON.parse(Buffer.from(login.access_token.split('.')[1] as string, 'base64url').toString()) as { sub: string; jti: string };
  assert.equal(response.headers['x-auth-subject'], claims.sub);
  assert.equal(response.headers['x-auth-token-id'], claims.jti);
  assert.equal(response.headers['cache-control'], 'no-store');
}

function assertRefused(response: LightMyRequestResponse, challenge: RegExp): void {
  assert.equal(response.statusCode, 401, response.body);
  assert.match(String(response.headers['www-authenticate']), challenge);
  for (const name of ['x-auth-subject', 'x-auth-username', 'x-auth-session', 'x-auth-token-id']) {
    assert.equal(response.headers[name], undefined, name);
  }
}

const INVALID_TOKEN = /^Bearer realm="127\.0\.0\.1:0", error="invalid_token"/;

describe('{base}/auth/verify: forward authentication', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const verify = (headers: Record<string, string | string[]> = {}, options: { method?: (typeof METHODS)[number]; url?: string; payload?: string } = {}) =>
    h.server.app.inject({ method: options.method ?? 'GET', url: options.url ?? VERIFY, headers, ...(options.payload === undefined ? {} : { payload: options.payload }) });
  const bearer = (login: TokenBody) => ({ authorization: `Bearer ${login.access_token}` });

  it('answers 200 with the identity headers for a valid token, for any method', async () => {
    const login = await h.login();
    for (const method of METHODS) assertIdentity(await verify(bearer(login), { method }), login);
  });

  it('accepts the original path appended to it, as Envoy ext_authz sends it with path_prefix', async () => {
    const login = await h.login();
    for (const suffix of ['/', '/bankit-api/antPeer/v1/user/accounts?page=2', '/a/b/c']) {
      assertIdentity(await verify(bearer(login), { method: 'POST', url: `${VERIFY}${suffix}` }), login);
    }
  });

  it('ignores a forwarded body of any content type', async () => {
    const login = await h.login();
    for (const type of ['application/json', 'text/plain', 'application/octet-stream']) {
      const response = await verify({ ...bearer(login), 'content-type': type }, { method: 'POST', payload: '{"not": json' });
      assertIdentity(response, login);
    }
  });

  it('reads the original request from nginx and Traefik headers without letting it change the answer', async () => {
    const login = await h.login();
    const forwarded: Array<Record<string, string>> = [
      { 'x-original-method': 'DELETE', 'x-original-uri': '/bankit-api/antPeer/v1/user/accounts/7?force=1' },
      { 'x-forwarded-method': 'PATCH', 'x-forwarded-uri': '/anything' },
      { 'x-original-uri': 'http://api.example.com/bankit-api/antPeer/v1/x' },
      // Raw UTF-8 as nginx forwards it and Node reads it (Latin-1): "café", "€", "à".
      { 'x-original-uri': Buffer.from('/café/€/à', 'utf8').toString('latin1') },
    ];
    for (const headers of forwarded) {
      assertIdentity(await verify({ ...bearer(login), ...headers }), login);
      assertRefused(await verify(headers), /^Bearer realm="127\.0\.0\.1:0"$/);
    }
  });

  it('answers 401 with a bare Bearer challenge when no token is presented', async () => {
    for (const authorization of [undefined, '', 'Basic bWVyY2hhbnQtYXBwOng=']) {
      const response = await verify(authorization === undefined ? {} : { authorization });
      assertRefused(response, /^Bearer realm="127\.0\.0\.1:0"$/);
      assert.equal(response.json<{ error: string }>().error, 'unauthorized');
    }
  });

  it('answers 401, not 400, with error="invalid_request" for a malformed Authorization header (nginx passes only 401 and 403)', async () => {
    for (const authorization of ['Bearer', 'Bearer a b', 'Bearer ä', 'Bearer a=b']) {
      const response = await verify({ authorization });
      assertRefused(response, /^Bearer realm="127\.0\.0\.1:0", error="invalid_request"/);
      assert.equal(response.json<{ error: string }>().error, 'invalid_request');
    }
  });

  it('refuses a tampered token', async () => {
    const login = await h.login();
    const [header, payload, signature] = login.access_token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, client_id: 'admin' })).toString('base64url');
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const token of [`${header}.${forgedPayload}.${signature}`, `${header}.${payload}.${flipped}`, 'garbage']) {
      assertRefused(await verify({ authorization: `Bearer ${token}` }), INVALID_TOKEN);
    }
  });

  it('refuses an expired token', async () => {
    const login = await h.login();
    h.clock.advance(900_000);
    assertRefused(await verify(bearer(login)), INVALID_TOKEN);
  });

  it('refuses a token whose session was revoked, before the token expires', async () => {
    const login = await h.login();
    assertIdentity(await verify(bearer(login)), login);
    const revoke = await h.server.app.inject({
      method: 'POST',
      url: `${BASE}/auth/revoke`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token: login.refresh_token }).toString(),
    });
    assert.equal(revoke.statusCode, 200);
    assertRefused(await verify(bearer(login)), INVALID_TOKEN);
  });

  it('refuses a token of a disabled client application', async () => {
    const login = await h.login();
    await disableUser(h, CLIENT.username);
    try {
      assertRefused(await verify(bearer(login)), INVALID_TOKEN);
    } finally {
      await disableUser(h, CLIENT.username, true);
    }
  });

  it('refuses a token issued before the not-before policy', async () => {
    const login = await h.login();
    h.clock.advance(1000);
    await h.server.auth.store.settings.setRealmNotBefore(h.clock.now());
    h.clock.advance(1000);
    assertRefused(await verify(bearer(login)), INVALID_TOKEN);
    const fresh = await h.login();
    assertIdentity(await verify(bearer(fresh)), fresh);
  });

  it('answers 400 invalid_request, naming the header, for forwarded headers no proxy sends, and changes nothing', async () => {
    const login = await h.login();
    const malformed: Array<[Record<string, string | string[]>, RegExp]> = [
      [{ 'x-original-uri': 'no-slash' }, /x-original-uri is not a request target/],
      [{ 'x-original-uri': '/a b' }, /x-original-uri is not a request target/],
      [{ 'x-original-uri': '/a\tb' }, /x-original-uri is not a request target/],
      [{ 'x-forwarded-uri': `/${'a'.repeat(9000)}` }, /x-forwarded-uri is not a request target/],
      [{ 'x-forwarded-uri': 'ftp://host/x' }, /x-forwarded-uri is not a request target/],
      [{ 'x-original-method': 'GE T' }, /x-original-method is not an HTTP method/],
      [{ 'x-forwarded-method': '' }, /x-forwarded-method is not an HTTP method/],
      [{ 'x-original-uri': ['/a', '/b'] }, /x-original-uri given more than once/],
      [{ 'x-forwarded-method': ['GET', 'POST'] }, /x-forwarded-method given more than once/],
    ];
    for (const [headers, description] of malformed) {
      for (const authorization of [{}, bearer(login)]) {
        const response = await verify({ ...authorization, ...headers });
        assert.equal(response.statusCode, 400, JSON.stringify(headers));
        assert.equal(response.headers['x-auth-subject'], undefined);
        const body = response.json<{ error: string; error_description: string }>();
        assert.equal(body.error, 'invalid_request');
        assert.match(body.error_description, description);
      }
    }
    assertIdentity(await verify(bearer(login)), login);
    assert.equal((await h.refresh(login.refresh_token)).statusCode, 200);
  });

  it('leaves every path beside it to the gateway', async () => {
    const login = await h.login();
    for (const path of ['/auth/verifyx', '/auth/verif', '/authverify']) {
      const response = await h.server.app.inject({ method: 'GET', url: `${BASE}${path}`, headers: { 'x-auth-username': 'admin' } });
      assert.equal(response.statusCode, 401, path);
      const authorized = await h.server.app.inject({ method: 'GET', url: `${BASE}${path}`, headers: bearer(login) });
      assert.equal(authorized.statusCode, 404, path);
    }
  });
});
