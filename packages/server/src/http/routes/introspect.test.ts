import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BASE_PATH } from '../../test/http.js';
import { CLIENT, startHarness, type Harness } from '../../test/harness.js';

describe('POST {base}/auth/introspect (RFC 7662)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const basic = `Basic ${Buffer.from(`${CLIENT.username}:${CLIENT.password}`).toString('base64')}`;
  const introspect = (token: string, authorization?: string, hint?: string) =>
    h.server.app.inject({
      method: 'POST',
      url: `${BASE_PATH}/auth/introspect`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
      payload: new URLSearchParams({ token, ...(hint ? { token_type_hint: hint } : {}) }).toString(),
    });

  it('refuses an unauthenticated caller with 401 invalid_client', async () => {
    const login = await h.login();
    for (const authorization of [undefined, 'Basic bm9ib2R5Om5vcGU=', `Basic ${Buffer.from(`${CLIENT.username}:wrong`).toString('base64')}`, 'Bearer not-a-token', 'Digest abc']) {
      const response = await introspect(login.access_token, authorization);
      assert.equal(response.statusCode, 401, String(authorization));
      assert.equal(response.json<{ error: string }>().error, 'invalid_client');
      assert.match(String(response.headers['www-authenticate']), /^Basic realm=/);
    }
  });

  it('describes an active access token to a caller with HTTP Basic credentials', async () => {
    const login = await h.login();
    const response = await introspect(login.access_token, basic);
    assert.equal(response.statusCode, 200);
    const body = response.json<Record<string, unknown>>();
    assert.equal(body.active, true);
    assert.equal(body.client_id, CLIENT.username);
    assert.equal(body.username, CLIENT.username);
    assert.equal(body.sid, login.session_state);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(typeof body.exp, 'number');
  });

  it('accepts a Bearer access token as the caller’s credential', async () => {
    const caller = await h.login();
    const subject = await h.login();
    const response = await introspect(subject.access_token, `Bearer ${caller.access_token}`);
    assert.equal(response.json<{ active: boolean }>().active, true);
  });

  it('describes the live refresh token, and calls a rotated one inactive', async () => {
    const login = await h.login();
    const live = await introspect(login.refresh_token, basic, 'refresh_token');
    assert.equal(live.json<{ active: boolean; token_type: string }>().active, true);
    assert.equal(live.json<{ token_type: string }>().token_type, 'refresh_token');
    await h.refresh(login.refresh_token);
    assert.deepEqual((await introspect(login.refresh_token, basic)).json(), { active: false });
  });

  it('calls an access token inactive once its session is revoked, before it expires', async () => {
    const login = await h.login();
    await h.server.auth.store.sessions.end(login.session_state, 'revoked', h.clock.now());
    assert.deepEqual((await introspect(login.access_token, basic)).json(), { active: false });
  });

  it('calls expired, stale, foreign and garbage tokens inactive', async () => {
    const login = await h.login();
    h.clock.advance(901_000);
    assert.deepEqual((await introspect(login.access_token, basic)).json(), { active: false }, 'expired');
    const fresh = await h.login();
    h.clock.advance(1000);
    await h.server.auth.store.settings.setRealmNotBefore(h.clock.now());
    h.clock.advance(1000);
    const caller = await h.login();
    assert.deepEqual((await introspect(fresh.access_token, `Bearer ${caller.access_token}`)).json(), { active: false }, 'stale');
    const [header, payload] = fresh.access_token.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(86)}`;
    for (const token of [forged, 'garbage', 'E'.repeat(43)]) {
      assert.deepEqual((await introspect(token, basic)).json(), { active: false }, token.slice(0, 10));
    }
  });

  it('answers 400 invalid_request without a token', async () => {
    const response = await h.server.app.inject({
      method: 'POST',
      url: `${BASE_PATH}/auth/introspect`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      payload: '',
    });
    assert.equal(response.statusCode, 400);
  });
});
