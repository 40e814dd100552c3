// Interoperability of sender-constrained tokens (RFC 9449) with a DPoP client nobody here wrote:
// oauth4webapi (panva), unchanged, over real HTTP, obtains and refreshes DPoP-bound tokens from the
// server and calls a route guarded by @antpeer/guard with its proofs.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { antpeerGuard, createVerifier } from '@antpeer/guard';
import Fastify, { type FastifyInstance } from 'fastify';
import * as oauth from 'oauth4webapi';
import { pino } from 'pino';
import { ManualClock } from './clock.js';
import { loadConfig } from './config.js';
import { addClientApplication } from './credentials/client-applications.js';
import { startServer, type RunningServer } from './server.js';
import { CLIENT, TEST_ACTOR, TEST_ARGON2 } from './test/harness.js';
import { freePort } from './test/process.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('oauth4webapi as the DPoP client', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'antpeer-dpop-interop-'));
  let server: RunningServer;
  let resource: FastifyInstance;
  let resourceUrl: URL;
  let as: oauth.AuthorizationServer;
  const client: oauth.Client = { client_id: CLIENT.username };
  const options = { [oauth.allowInsecureRequests]: true };

  before(async () => {
    const config = loadConfig({ ANTPEER_DATA_DIR: dataDir, PORT: String(await freePort()), ANTPEER_METRICS_PORT: 'off' });
    // The server's clock is the wall clock here: oauth4webapi stamps its proofs with Date.now().
    server = await startServer(config, { clock: new ManualClock(Date.now()), logger: pino({ level: 'silent' }), argon2: TEST_ARGON2 });
    await addClientApplication(server.auth, TEST_ACTOR, CLIENT.username, CLIENT.password);
    const issuer = new URL(config.issuer);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...options }));

    resource = Fastify();
    await resource.register(antpeerGuard, { verifier: createVerifier({ issuer: issuer.href, audience: issuer.href }) });
    resource.get('/accounts', async (request) => ({ username: request.auth.username }));
    await resource.listen({ port: 0, host: '127.0.0.1' });
    resourceUrl = new URL(`http://127.0.0.1:${(resource.server.address() as AddressInfo).port}/accounts`);
  });

  after(async () => {
    await resource?.close();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('discovers the proof algorithms in the metadata', () => {
    assert.deepEqual(as.dpop_signing_alg_values_supported, ['EdDSA', 'Ed25519', 'ES256', 'PS256', 'RS256']);
  });

  for (const alg of ['ES256', 'EdDSA', 'PS256']) {
    it(`obtains and refreshes ${alg}-bound tokens, and its proofs pass the guard`, async () => {
      const DPoP = oauth.DPoP(client, await oauth.generateKeyPair(alg));
      const login = await oauth.processGenericTokenEndpointResponse(
        as,
        client,
        await oauth.genericTokenEndpointRequest(as, client, oauth.None(), 'password', { username: CLIENT.username, password: CLIENT.password }, { DPoP, ...options }),
      );
      assert.equal(login.token_type, 'dpop');

      const call = (token: string) => oauth.protectedResourceRequest(token, 'GET', resourceUrl, undefined, undefined, { DPoP, ...options });
      const answer = await call(login.access_token);
      assert.equal(answer.status, 200);
      assert.deepEqual(await answer.json(), { username: CLIENT.username });

      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, oauth.None(), login.refresh_token!, { DPoP, ...options }),
      );
      assert.equal(refreshed.token_type, 'dpop');
      assert.notEqual(refreshed.access_token, login.access_token);
      assert.equal((await call(refreshed.access_token)).status, 200);

      // The same refresh token from a client with another key is refused.
      const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      await assert.rejects(
        async () =>
          oauth.processRefreshTokenResponse(
            as,
            client,
            await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshed.refresh_token!, { DPoP: thief, ...options }),
          ),
        (error: unknown) => (error as { error?: string }).error === 'invalid_grant',
      );
    });
  }
});
