import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BASE_PATH } from '../../test/http.js';
import { startHarness, type Harness } from '../../test/harness.js';

describe('POST {base}/auth/revoke (RFC 7009)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const revoke = (body: Record<string, string>, form = true) =>
    h.server.app.inject({
      method: 'POST',
      url: `${BASE_PATH}/auth/revoke`,
      headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
      payload: form ? new URLSearchParams(body).toString() : JSON.stringify(body),
    });

  it('revoking a refresh token ends its session, with no client authentication', async () => {
    const login = await h.login();
    const response = await revoke({ token: login.refresh_token, token_type_hint: 'refresh_token' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['cache-control'], 'no-store');
    const refresh = await h.refresh(login.refresh_token);
    assert.equal(refresh.json<{ error_description: string }>().error_description, 'Session not active');
  });

  it('revoking an access token ends its session too (JSON body accepted)', async () => {
    const login = await h.login();
    assert.equal((await revoke({ token: login.access_token }, false)).statusCode, 200);
    const refresh = await h.refresh(login.refresh_token);
    assert.equal(refresh.json<{ error_description: string }>().error_description, 'Session not active');
  });

  it('a wrong token_type_hint does not stop the revocation', async () => {
    const login = await h.login();
    assert.equal((await revoke({ token: login.refresh_token, token_type_hint: 'access_token' })).statusCode, 200);
    assert.equal((await h.refresh(login.refresh_token)).statusCode, 400);
  });

  it('answers 200 for an unknown, malformed or already revoked token', async () => {
    for (const token of ['D'.repeat(43), 'garbage', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzaWQiOiJ4In0.']) {
      assert.equal((await revoke({ token })).statusCode, 200, token);
    }
  });

  it('answers 400 invalid_request without a token', async () => {
    const response = await revoke({});
    assert.equal(response.statusCode, 400);
    assert.equal(response.json<{ error: string }>().error, 'invalid_request');
  });
});
