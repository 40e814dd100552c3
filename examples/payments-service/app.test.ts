import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { assertAllRoutesProtected } from '@antpeer/guard';
import type { FastifyInstance } from 'fastify';
import { login } from '../../packages/server/src/test/http.js';
import { freePort, makeDataDir, startServe, type ServeProcess } from '../../packages/server/src/test/process.js';
import { buildPaymentsService } from './app.js';

const CLIENT = { username: 'merchant-app', password: 'correct horse battery staple' };

describe('end to end: token service → gateway → payments service', () => {
  let data: ReturnType<typeof makeDataDir>;
  let server: ServeProcess;
  let service: FastifyInstance;
  let serviceUrl: string;

  before(async () => {
    data = makeDataDir();
    // The service must know the token service's issuer before either starts: reserve its port first.
    const gatewayPort = await freePort();
    const issuer = `http://127.0.0.1:${gatewayPort}/bankit-api/antPeer/v1`;
    service = await buildPaymentsService({ issuer });
    await service.listen({ port: 0, host: '127.0.0.1' });
    serviceUrl = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
    server = await startServe({
      dataDir: data.dir,
      env: {
        PORT: String(gatewayPort),
        ANTPEER_UPSTREAM: serviceUrl,
        // The service verifies the token itself (defence in depth), so it needs the caller's header.
        ANTPEER_UPSTREAM_FORWARD_AUTHORIZATION: 'true',
        ANTPEER_BOOTSTRAP_USERNAME: CLIENT.username,
        ANTPEER_BOOTSTRAP_PASSWORD: CLIENT.password,
        ANTPEER_LOG_LEVEL: 'warn',
      },
    });
  });

  after(async () => {
    await server?.stop();
    await service?.close();
    data?.cleanup();
  });

  it('a token from the server opens the service through the gateway, and the service sees the verified identity', async () => {
    const tokens = await login(server.tokenUrl, CLIENT.username, CLIENT.password);
    const response = await fetch(`${server.issuer}/user/addAccount`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ accountNumber: '0123456789', bankCode: '058' }),
    });
    assert.equal(response.status, 201);
    const body = (await response.json()) as { account: { owner: string }; verifiedBy: { guard: string; gateway: string }; session: string };
    assert.equal(body.account.owner, CLIENT.username);
    assert.equal(body.verifiedBy.guard, body.verifiedBy.gateway, 'the guard and the gateway agree on the subject');
    assert.equal(body.session, tokens.session_state);

    const list = await fetch(`${server.issuer}/user/accounts`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(((await list.json()) as { accounts: unknown[] }).accounts.length, 1);
  });

  it('the gateway refuses a request without a token before it reaches the service', async () => {
    const response = await fetch(`${server.issuer}/user/addAccount`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
  });

  it('the service refuses a request without a token when called directly, except its public health route', async () => {
    const direct = await fetch(`${serviceUrl}/user/accounts`);
    assert.equal(direct.status, 401);
    const unknown = await fetch(`${serviceUrl}/no/such/route`);
    assert.equal(unknown.status, 401, '401 before 404 in the service too');
    assert.equal((await fetch(`${serviceUrl}/health`)).status, 200);
  });

  it('the service validates its own input once the caller is authenticated', async () => {
    const tokens = await login(server.tokenUrl, CLIENT.username, CLIENT.password);
    const response = await fetch(`${server.issuer}/user/addAccount`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ accountNumber: 'not digits', bankCode: '058' }),
    });
    assert.equal(response.status, 400);
  });

  it('every route of the service is protected except the one declared public', async () => {
    assertAllRoutesProtected(service, { public: ['GET /health'] });
  });
});
