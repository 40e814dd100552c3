import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BASE_PATH } from '../../test/http.js';
import { startHarness, type Harness } from '../../test/harness.js';

describe('RFC 8414 metadata', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const paths = [`/.well-known/oauth-authorization-server${BASE_PATH}`, `${BASE_PATH}/.well-known/oauth-authorization-server`];

  it('is served at the RFC 8414 §3.1 path and under the base, and names every endpoint', async () => {
    for (const url of paths) {
      const response = await h.server.app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, url);
      const body = response.json<Record<string, unknown>>();
      assert.equal(body.issuer, h.config.issuer);
      assert.equal(body.token_endpoint, `${h.config.issuer}/auth/token`);
      assert.equal(body.jwks_uri, `${h.config.issuer}/auth/certs`);
      assert.equal(body.revocation_endpoint, `${h.config.issuer}/auth/revoke`);
      assert.equal(body.introspection_endpoint, `${h.config.issuer}/auth/introspect`);
      assert.deepEqual(body.grant_types_supported, ['password', 'refresh_token']);
      assert.equal(body.not_before_policy, 0);
    }
  });

  it('carries the realm-wide not-before policy once it is set', async () => {
    await h.server.auth.store.settings.setRealmNotBefore(1_800_000_123_000);
    const response = await h.server.app.inject({ method: 'GET', url: paths[0] as string });
    assert.equal(response.json<{ not_before_policy: number }>().not_before_policy, 1_800_000_123);
  });
});
