// Switching ANTPEER_SIGNING_ALG (README, "Signing algorithms and resource servers"): what the
// README promises an operator, on a real SQLite data directory with an injected clock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { pino } from 'pino';
import { ManualClock } from './clock.js';
import { loadConfig } from './config.js';
import { addClientApplication } from './credentials/client-applications.js';
import { startServer, type RunningServer } from './server.js';
import { BASE, CLIENT, TEST_ACTOR, TEST_ARGON2, TOKEN_PATH } from './test/harness.js';

describe('switching the signing algorithm from EdDSA to RS256', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'antpeer-alg-'));
  const clock = new ManualClock();
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  const start = (alg: string) =>
    startServer(loadConfig({ ANTPEER_DATA_DIR: dataDir, PORT: '0', ANTPEER_SIGNING_ALG: alg }), {
      clock,
      logger: pino({ level: 'silent' }),
      argon2: TEST_ARGON2,
      listen: false,
    });
  const accessToken = async (server: RunningServer) => {
    const response = await server.app.inject({ method: 'POST', url: TOKEN_PATH, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(CLIENT) });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<{ access_token: string }>().access_token;
  };
  const verify = (server: RunningServer, token: string) =>
    server.app.inject({ method: 'GET', url: `${BASE}/auth/verify`, headers: { authorization: `Bearer ${token}` } });
  const jwks = async (server: RunningServer) => (await server.app.inject({ method: 'GET', url: `${BASE}/auth/certs` })).json<{ keys: JWK[] }>().keys;

  it('signs with RS256 from the restart on, keeps accepting and publishing the EdDSA key until its tokens have expired, and an RS256-only verifier accepts the new tokens', async () => {
    const before = await start('EdDSA');
    await addClientApplication(before.auth, TEST_ACTOR, CLIENT.username, CLIENT.password);
    const old = await accessToken(before);
    assert.equal(decodeProtectedHeader(old).alg, 'EdDSA');
    await before.close();

    const server = await start('RS256');
    try {
      const fresh = await accessToken(server);
      assert.equal(decodeProtectedHeader(fresh).alg, 'RS256');
      assert.deepEqual((await jwks(server)).map((key) => key.kty).sort(), ['OKP', 'RSA']);
      assert.equal((await verify(server, old)).statusCode, 200, 'a live EdDSA token still works');
      assert.equal((await verify(server, fresh)).statusCode, 200);
      const metadata = await server.app.inject({ method: 'GET', url: `${BASE}/.well-known/oauth-authorization-server` });
      assert.deepEqual(metadata.json<{ access_token_signing_alg_values_supported: string[] }>().access_token_signing_alg_values_supported, ['RS256']);

      // A resource server whose library has no OKP keys: it reads only the RSA keys of the JWKS.
      const rsaOnly = createLocalJWKSet({ keys: (await jwks(server)).filter((key) => key.kty === 'RSA') });
      const { payload } = await jwtVerify(fresh, rsaOnly, { algorithms: ['RS256'], issuer: server.auth.config.issuer, currentDate: new Date(clock.now()) });
      assert.equal(payload.client_id, CLIENT.username);

      // The EdDSA key leaves the JWKS once every token it signed has expired (TTL + 5 min margin).
      clock.advance((900 + 5 * 60) * 1000 + 1000);
      assert.deepEqual((await jwks(server)).map((key) => key.kty), ['RSA']);
    } finally {
      await server.close();
    }
  });
});
