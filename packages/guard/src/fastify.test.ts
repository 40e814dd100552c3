import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { antpeerGuard } from './fastify.js';
import { assertAllRoutesProtected } from './testing.js';
import { AUDIENCE, FakeIssuer, manualClock } from './test/fake-issuer.js';
import { createVerifier, type Verifier } from './verify.js';

const clock = manualClock();
let issuer: FakeIssuer;
let verifier: Verifier;

before(async () => {
  issuer = await FakeIssuer.start(clock.now);
  verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, clock: clock.now });
});
after(() => issuer.close());

async function buildApp(routes: (app: FastifyInstance) => void = () => {}): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(antpeerGuard, { verifier, realm: 'accounts' });
  app.get('/healthz', { config: { auth: false } }, async () => ({ ok: true }));
  app.post('/user/addAccount', async (request) => ({ subject: request.auth.subject, username: request.auth.username }));
  app.get('/user/:id/accounts', async (request) => ({ session: request.auth.sessionId }));
  routes(app);
  return app;
}

describe('antpeerGuard (Fastify)', () => {
  test('a route is protected by default and sees the verified identity', async () => {
    const app = await buildApp();
    const token = await issuer.mint();
    const denied = await app.inject({ method: 'POST', url: '/user/addAccount' });
    assert.equal(denied.statusCode, 401);
    assert.equal(denied.headers['www-authenticate'], 'Bearer realm="accounts"');
    const allowed = await app.inject({ method: 'POST', url: '/user/addAccount', headers: { authorization: `Bearer ${token}` } });
    assert.equal(allowed.statusCode, 200);
    assert.deepEqual(allowed.json(), { subject: 'user-42', username: 'fintech-app' });
    const again = await app.inject({ method: 'GET', url: '/user/7/accounts', headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(again.json(), { session: 'session-7' });
    await app.close();
  });

  test('a bad token gets 401 invalid_token, a malformed header 400 invalid_request, with JSON bodies', async () => {
    const app = await buildApp();
    const bad = await app.inject({ method: 'POST', url: '/user/addAccount', headers: { authorization: 'Bearer x.y.z' } });
    assert.equal(bad.statusCode, 401);
    assert.match(String(bad.headers['www-authenticate']), /^Bearer realm="accounts", error="invalid_token"/);
    assert.equal(bad.json().error, 'invalid_token');
    const malformed = await app.inject({ method: 'POST', url: '/user/addAccount', headers: { authorization: 'Bearer' } });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().error, 'invalid_request');
    await app.close();
  });

  test('config: { auth: false } makes a route public, HEAD included', async () => {
    const app = await buildApp();
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'HEAD', url: '/healthz' })).statusCode, 200);
    await app.close();
  });

  test('any other value of config.auth throws when the route is registered', async () => {
    for (const value of [true, 'false', 0, null, {}]) {
      const app = Fastify();
      await app.register(antpeerGuard, { verifier });
      assert.throws(() => app.get('/x', { config: { auth: value as false } }, async () => 'x'), TypeError);
      await app.close();
    }
  });

  test('a path that matches no route needs a token before it is a 404', async () => {
    const app = await buildApp();
    assert.equal((await app.inject({ method: 'DELETE', url: '/nowhere' })).statusCode, 401);
    const token = await issuer.mint();
    const found = await app.inject({ method: 'DELETE', url: '/nowhere', headers: { authorization: `Bearer ${token}` } });
    assert.equal(found.statusCode, 404);
    await app.close();
  });

  test('lists the public routes when ready', async () => {
    const app = await buildApp((inner) => inner.post('/webhooks', { config: { auth: false } }, async () => 'x'));
    await app.ready();
    assert.deepEqual(
      app.authGuard.publicRoutes().map((route) => `${route.method} ${route.url}`),
      ['GET /healthz', 'POST /webhooks'],
    );
    await app.close();
  });

  test('an unreachable issuer answers 503, not 401', async () => {
    const fake = await FakeIssuer.start(clock.now);
    fake.down = true;
    const app = Fastify();
    await app.register(antpeerGuard, { verifier: createVerifier({ issuer: fake.issuer, audience: AUDIENCE, clock: clock.now }) });
    app.get('/x', async () => 'x');
    const response = await app.inject({ method: 'GET', url: '/x', headers: { authorization: `Bearer ${await fake.mint()}` } });
    assert.equal(response.statusCode, 503);
    assert.equal(response.json().error, 'temporarily_unavailable');
    await app.close();
    await fake.close();
  });

  test('reading request.auth on a public route is a bug and fails loudly', async () => {
    const app = await buildApp((inner) => inner.get('/oops', { config: { auth: false } }, async (request) => request.auth.subject));
    assert.equal((await app.inject({ method: 'GET', url: '/oops' })).statusCode, 500);
    await app.close();
  });

  test('caller misuse throws at registration', async () => {
    for (const options of [{} as never, { verifier, realm: 'a"b' }]) {
      const app = Fastify();
      void app.register(antpeerGuard, options);
      await assert.rejects(async () => app.ready(), TypeError);
    }
  });
});

describe('assertAllRoutesProtected', () => {
  test('passes when only the expected routes are public', async () => {
    const app = await buildApp();
    await assertAllRoutesProtected(app, { public: ['GET /healthz'] });
    await app.close();
  });

  test('catches a route made public by accident', async () => {
    const app = await buildApp((inner) => inner.delete('/user/:id', { config: { auth: false } }, async () => 'gone'));
    await assert.rejects(assertAllRoutesProtected(app, { public: ['GET /healthz'] }), /DELETE \/user\/:id is public/);
    await app.close();
  });

  test('catches an expected public route that no longer exists', async () => {
    const app = await buildApp();
    await assert.rejects(assertAllRoutesProtected(app, { public: ['GET /healthz', '/metrics'] }), /"\/metrics" is expected to be public/);
    await app.close();
  });

  test('catches routes outside the guard', async () => {
    const app = Fastify();
    await app.register(async (child) => {
      await child.register(antpeerGuard, { verifier });
      child.get('/inside', async () => 'x');
    });
    app.get('/outside', async () => 'x');
    await assert.rejects(assertAllRoutesProtected(app), /not registered on this instance/);
    await app.close();
  });
});
