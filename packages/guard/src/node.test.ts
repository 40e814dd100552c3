import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createNodeGuard, type NodeGuard } from './node.js';
import { AUDIENCE, FakeIssuer, manualClock } from './test/fake-issuer.js';
import { createVerifier, type Verifier } from './verify.js';

const clock = manualClock();
let issuer: FakeIssuer;
let verifier: Verifier;
let server: Server;
let base: string;

function handle(request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ subject: request.auth?.subject ?? null }));
}

before(async () => {
  issuer = await FakeIssuer.start(clock.now);
  verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, clock: clock.now });
  const guard: NodeGuard = createNodeGuard({ verifier, realm: 'accounts', public: ['GET /healthz', '/docs'] });
  server = createServer((request, response) => guard(request, response, () => handle(request, response)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await issuer.close();
});

describe('createNodeGuard (node:http, Express-style)', () => {
  test('protects every path by default and passes the identity on', async () => {
    const denied = await fetch(`${base}/user/addAccount`, { method: 'POST' });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer realm="accounts"');
    assert.equal(((await denied.json()) as { error: string }).error, 'unauthorized');
    const token = await issuer.mint();
    const allowed = await fetch(`${base}/user/addAccount`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(allowed.status, 200);
    assert.deepEqual(await allowed.json(), { subject: 'user-42' });
  });

  test('answers 401 invalid_token and 400 invalid_request per RFC 6750', async () => {
    const bad = await fetch(`${base}/x`, { headers: { authorization: 'Bearer a.b.c' } });
    assert.equal(bad.status, 401);
    assert.match(String(bad.headers.get('www-authenticate')), /error="invalid_token"/);
    const malformed = await fetch(`${base}/x`, { headers: { authorization: 'Bearer a b' } });
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as { error: string }).error, 'invalid_request');
  });

  test('public paths match exactly, by method, ignoring the query', async () => {
    assert.equal((await fetch(`${base}/healthz?verbose=1`)).status, 200);
    assert.equal((await fetch(`${base}/healthz`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${base}/docs`, { method: 'POST' })).status, 200);
    for (const [path, method] of [['/healthz', 'POST'], ['/healthz/', 'GET'], ['/HEALTHZ', 'GET'], ['//healthz', 'GET'], ['/healthz%2F', 'GET']] as const) {
      assert.equal((await fetch(`${base}${path}`, { method })).status, 401, `${method} ${path}`);
    }
  });

  test('uses originalUrl when an Express router stripped a mount path', async () => {
    const guard = createNodeGuard({ verifier, public: ['GET /api/healthz'] });
    let passed = false;
    const request = { method: 'GET', url: '/healthz', originalUrl: '/api/healthz', headers: {} } as unknown as IncomingMessage;
    guard(request, {} as ServerResponse, () => (passed = true));
    assert.ok(passed);
  });

  test('bad options throw TypeError', () => {
    assert.throws(() => createNodeGuard({} as never), TypeError);
    assert.throws(() => createNodeGuard({ verifier, public: ['healthz'] }), TypeError);
    assert.throws(() => createNodeGuard({ verifier, public: ['get /healthz'] }), TypeError);
    assert.throws(() => createNodeGuard({ verifier, public: ['GET /healthz?x=1'] }), TypeError);
    assert.throws(() => createNodeGuard({ verifier, realm: '"' }), TypeError);
  });
});
