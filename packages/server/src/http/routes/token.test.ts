import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { disableUser } from '../../test/admin.js';
import { BASE_PATH, assertTokenResponse } from '../../test/http.js';
import { CLIENT, TOKEN_PATH, startHarness, type Harness, type TokenBody } from '../../test/harness.js';

function assertNoStore(response: { headers: Record<string, unknown> }): void {
  assert.equal(response.headers['cache-control'], 'no-store');
  assert.equal(response.headers.pragma, 'no-cache');
}

function assertError(
  response: { statusCode: number; body: string; headers: Record<string, unknown> },
  status: number,
  error: string,
  description?: string,
): void {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  assertNoStore(response);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description']);
  assert.equal(body.error, error);
  assert.equal(typeof body.error_description, 'string');
  if (description !== undefined) assert.equal(body.error_description, description);
}

describe('POST {base}/auth/token: the contract', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('answers the password grant with every field of the page, typed as the page says', async () => {
    const response = await h.token(CLIENT);
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assertNoStore(response);
    const body: unknown = response.json();
    assertTokenResponse(body);
    // Exact values at the defaults, with nothing elapsed and no policy set.
    assert.equal(body.refresh_expires_in, 1800);
    assert.equal(body['not-before-policy'], 0);
    assert.match(body.refresh_token, /^[A-Za-z0-9_-]{70}$/, 'session, generation and a 256-bit MAC, base64url');
  });

  it('issues an RFC 9068 access token that verifies against the published JWKS', async () => {
    const body = await h.login();
    const certs = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/auth/certs` });
    assert.equal(certs.statusCode, 200);
    const header = decodeProtectedHeader(body.access_token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'EdDSA');
    assert.equal(typeof header.kid, 'string');
    const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(certs.json()), {
      issuer: h.config.issuer,
      audience: h.config.audience,
      typ: 'at+jwt',
      currentDate: new Date(h.clock.now()),
    });
    assert.equal(payload.client_id, CLIENT.username);
    assert.equal(payload.sid, body.session_state);
    assert.equal(typeof payload.sub, 'string');
    assert.equal(typeof payload.jti, 'string');
    assert.equal((payload.exp as number) - (payload.iat as number), 900);
  });

  it('answers the refresh grant with the same fields and a new refresh token', async () => {
    const first = await h.login();
    const response = await h.refresh(first.refresh_token);
    assert.equal(response.statusCode, 200, response.body);
    assertNoStore(response);
    const body = response.json<TokenBody>();
    assert.equal(body.session_state, first.session_state);
    assert.notEqual(body.refresh_token, first.refresh_token);
    assert.notEqual(body.access_token, first.access_token);
    assert.equal(body.id_token, null);
    assert.equal(body.token_type, 'bearer');
  });

  it('accepts the form encoding of RFC 6749 and answers without the null id_token', async () => {
    const form = new URLSearchParams({ grant_type: 'password', ...CLIENT }).toString();
    const response = await h.tokenForm(form);
    assert.equal(response.statusCode, 200, response.body);
    assertNoStore(response);
    const body = response.json<Record<string, unknown>>();
    assert.equal(body.token_type, 'bearer');
    assert.equal(Object.hasOwn(body, 'id_token'), false);
    const refreshed = await h.tokenForm(
      new URLSearchParams({ grant_type: 'refresh_token', refresh_token: body.refresh_token as string }).toString(),
    );
    assert.equal(refreshed.statusCode, 200, refreshed.body);
  });

  it('ignores client_id and HTTP Basic client credentials that standard OAuth2 clients send', async () => {
    const basic = `Basic ${Buffer.from('some-client:some-secret').toString('base64')}`;
    const form = new URLSearchParams({ grant_type: 'password', client_id: 'some-client', ...CLIENT }).toString();
    const response = await h.tokenForm(form, { authorization: basic });
    assert.equal(response.statusCode, 200, response.body);
    const json = await h.token({ ...CLIENT, client_id: 'x', client_secret: 'y' }, { authorization: basic });
    assert.equal(json.statusCode, 200, json.body);
  });

  it('treats a body with only a refresh token as the refresh grant (grant_type defaults to refresh_token)', async () => {
    const first = await h.login();
    const response = await h.token({ refresh_token: first.refresh_token });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json<TokenBody>().session_state, first.session_state);
  });

  it('accepts "application/json; charset=utf-8"', async () => {
    const response = await h.server.app.inject({
      method: 'POST',
      url: TOKEN_PATH,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify(CLIENT),
    });
    assert.equal(response.statusCode, 200, response.body);
  });
});

describe('POST {base}/auth/token: every row of the error table', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('400 invalid_request when the body is not JSON', async () => {
    assertError(await h.token('{"username": '), 400, 'invalid_request', 'Request body is not valid JSON');
  });

  it('400 invalid_request when the JSON body is not an object', async () => {
    for (const body of ['[]', '"text"', '42', 'null', 'true']) {
      assertError(await h.token(body), 400, 'invalid_request', 'Request body must be a JSON object');
    }
  });

  it('400 invalid_request for a content type other than JSON or form', async () => {
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const response = await h.server.app.inject({
        method: 'POST',
        url: TOKEN_PATH,
        headers: { 'content-type': type },
        payload: JSON.stringify(CLIENT),
      });
      assertError(response, 400, 'invalid_request');
      assert.match(response.json<{ error_description: string }>().error_description, /Content-Type/);
    }
  });

  it('400 invalid_request when there is no body and no content type', async () => {
    const response = await h.server.app.inject({ method: 'POST', url: TOKEN_PATH });
    assertError(response, 400, 'invalid_request');
  });

  it('400 invalid_request for a form field given twice, naming it', async () => {
    const response = await h.tokenForm(`username=${CLIENT.username}&password=a&password=b`);
    assertError(response, 400, 'invalid_request', 'Duplicated parameter: password');
  });

  it('413 invalid_request for a body over the limit', async () => {
    const response = await h.token({ username: 'x', password: 'y'.repeat(17 * 1024) });
    assertError(response, 413, 'invalid_request');
  });

  it('400 invalid_request "Missing parameter: username" when username is missing or not a string', async () => {
    for (const body of [{ password: 'p' }, { username: 42, password: 'p' }, { username: null, password: 'p' }, { username: '', password: 'p' }, { username: ['a'], password: 'p' }, { username: { a: 1 }, password: 'p' }]) {
      assertError(await h.token(body), 400, 'invalid_request', 'Missing parameter: username');
    }
  });

  it('400 invalid_request "Missing parameter: password" when password is missing or not a string', async () => {
    for (const body of [{ username: 'u' }, { username: 'u', password: 1 }, { username: 'u', password: false }]) {
      assertError(await h.token(body), 400, 'invalid_request', 'Missing parameter: password');
    }
  });

  it('401 invalid_grant "Invalid user credentials" for an unknown user and for a wrong password, identically', async () => {
    const unknown = await h.token({ username: 'nobody', password: CLIENT.password });
    const wrong = await h.token({ username: CLIENT.username, password: 'not the password' });
    assertError(unknown, 401, 'invalid_grant', 'Invalid user credentials');
    assertError(wrong, 401, 'invalid_grant', 'Invalid user credentials');
    assert.equal(unknown.body, wrong.body);
    const headerNames = (r: { headers: Record<string, unknown> }) =>
      Object.keys(r.headers).filter((name) => name !== 'date').sort();
    assert.deepEqual(headerNames(unknown), headerNames(wrong));
  });

  it('400 invalid_grant "Account disabled" for the right password of a disabled account', async () => {
    await disableUser(h, CLIENT.username);
    try {
      assertError(await h.token(CLIENT), 400, 'invalid_grant', 'Account disabled');
      // the wrong password still says nothing about the account
      assertError(await h.token({ ...CLIENT, password: 'wrong password!' }), 401, 'invalid_grant', 'Invalid user credentials');
    } finally {
      await disableUser(h, CLIENT.username, true);
    }
  });

  it('400 unsupported_grant_type for any other grant_type', async () => {
    for (const grantType of ['client_credentials', 'authorization_code', 'PASSWORD', 'urn:ietf:params:oauth:grant-type:jwt-bearer']) {
      assertError(await h.token({ ...CLIENT, grant_type: grantType }), 400, 'unsupported_grant_type');
    }
  });

  it('400 invalid_request when grant_type is not a string', async () => {
    assertError(await h.token({ ...CLIENT, grant_type: ['password'] }), 400, 'invalid_request');
  });

  it('400 invalid_request "No refresh token" when the refresh grant has none', async () => {
    assertError(await h.token({ grant_type: 'refresh_token' }), 400, 'invalid_request', 'No refresh token');
    assertError(await h.token({ grant_type: 'refresh_token', refresh_token: 5 }), 400, 'invalid_request');
  });

  it('400 invalid_grant "Invalid refresh token" for an unknown or malformed refresh token', async () => {
    for (const token of ['not-a-token', 'A'.repeat(43), 'eyJhbGciOiJub25lIn0.e30.', 'x'.repeat(5000)]) {
      assertError(await h.refresh(token), 400, 'invalid_grant', 'Invalid refresh token');
    }
  });

  it('400 invalid_grant "Token is not active" for an expired refresh token', async () => {
    const body = await h.login();
    h.clock.advance(1800 * 1000);
    assertError(await h.refresh(body.refresh_token), 400, 'invalid_grant', 'Token is not active');
  });

  it('400 invalid_grant "Session not active" after logout', async () => {
    const body = await h.login();
    const logout = await h.server.app.inject({
      method: 'POST',
      url: `${BASE_PATH}/auth/logout`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ refresh_token: body.refresh_token }),
    });
    assert.equal(logout.statusCode, 204);
    assertError(await h.refresh(body.refresh_token), 400, 'invalid_grant', 'Session not active');
  });

  it('400 invalid_grant "Stale token" for a token issued before the not-before policy', async () => {
    const body = await h.login();
    h.clock.advance(1000);
    await h.server.auth.store.settings.setRealmNotBefore(h.clock.now());
    h.clock.advance(1000);
    assertError(await h.refresh(body.refresh_token), 400, 'invalid_grant', 'Stale token');
    await h.server.auth.store.settings.setRealmNotBefore(0);
  });

  it('400 invalid_grant "Refresh token reuse detected" for a rotated token presented again', async () => {
    const body = await h.login();
    assert.equal((await h.refresh(body.refresh_token)).statusCode, 200);
    h.clock.advance(11_000);
    // From another source than the one that rotated it (that one's late retry converges).
    const replay = await h.token({ refresh_token: body.refresh_token, grant_type: 'refresh_token' }, { 'user-agent': 'another client' });
    assertError(replay, 400, 'invalid_grant', 'Refresh token reuse detected');
  });

  it('500 server_error with nothing internal when something unexpected fails', async () => {
    const users = h.server.auth.store.users;
    const original = users.findByUsername.bind(users);
    users.findByUsername = async () => {
      throw new Error('disk on fire at /secret/path');
    };
    try {
      const response = await h.token(CLIENT);
      assertError(response, 500, 'server_error', 'Internal server error');
      assert.doesNotMatch(response.body, /disk|secret|path/);
    } finally {
      users.findByUsername = original;
    }
  });
});
