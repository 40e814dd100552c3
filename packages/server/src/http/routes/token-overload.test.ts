import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { addClientApplication } from '../../credentials/client-applications.js';
import type { LightMyRequestResponse } from 'fastify';
import { BASE, CLIENT, TEST_ACTOR, TOKEN_PATH, startHarness, type Harness } from '../../test/harness.js';
import { HashProbe } from '../../test/hash-probe.js';

const OTHER = { username: 'other-app', password: 'another long enough password' };

/** Waits (bounded) until `condition` holds; the hashing threads move on their own time. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function heldHarness(env: Record<string, string>, options: { listen?: boolean } = {}) {
  const probe = new HashProbe();
  const h = await startHarness(env, { ...options, hashProbe: probe.buffer });
  await addClientApplication(h.server.auth, TEST_ACTOR, OTHER.username, OTHER.password);
  return {
    h,
    probe,
    async close() {
      probe.release();
      await h.close();
    },
  };
}

/**
 * Fills a one-thread, one-place hashing pool (its probe held) with two logins of {@link OTHER}, each
 * from an address of its own; resolves once both are in, with their pending answers.
 */
async function fillPool(h: Harness): Promise<Promise<LightMyRequestResponse>[]> {
  const fromAddress = (remoteAddress: string) =>
    h.server.app.inject({ method: 'POST', url: TOKEN_PATH, remoteAddress, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(OTHER) });
  const held = [fromAddress('198.51.100.1'), fromAddress('198.51.100.2')];
  await until(() => h.server.auth.hasher.load.running === 1 && h.server.auth.hasher.load.queued === 1, 'the pool is full');
  return held;
}

describe('POST {base}/auth/token when password hashing is saturated', () => {
  it('refuses logins beyond the hashing queue with 503, Retry-After and the OAuth error shape, and counts no failure', async () => {
    // One failure from this source, or against this username, would be enough to lock the next try.
    // (Each attempt is reserved before its hash, so the two held logins come from addresses of their own.)
    const { h, probe, close } = await heldHarness({
      ANTPEER_HASH_CONCURRENCY: '1',
      ANTPEER_HASH_QUEUE: '1',
      ANTPEER_LOCKOUT_THRESHOLD: '1',
      ANTPEER_SOURCE_FAILURE_LIMIT: '1',
    });
    try {
      probe.hold();
      const held = await fillPool(h);

      for (const attempt of [{ username: CLIENT.username, password: 'a wrong password' }, { username: 'nobody-here', password: 'a wrong password' }]) {
        const refused = await h.token(attempt);
        assert.equal(refused.statusCode, 503, refused.body);
        assert.equal(refused.headers['retry-after'], '1');
        assert.equal(refused.headers['cache-control'], 'no-store');
        assert.deepEqual(refused.json(), {
          error: 'temporarily_unavailable',
          error_description: 'Too many logins in progress; retry later',
        });
      }

      probe.release();
      for (const response of await Promise.all(held)) assert.equal(response.statusCode, 200, response.body);
      const after = await h.token(CLIENT);
      assert.equal(after.statusCode, 200, `the refused attempts counted as failures: ${after.body}`);
    } finally {
      await close();
    }
  });

  it('sheds a login the hashing threads cannot take before any store work: nothing reserved, nothing audited', async () => {
    const { h, probe, close } = await heldHarness({ ANTPEER_HASH_CONCURRENCY: '1', ANTPEER_HASH_QUEUE: '1' });
    try {
      probe.hold();
      const held = await fillPool(h);

      const { counters, audit } = h.server.auth.store;
      let counterUpdates = 0;
      const update = counters.update.bind(counters);
      counters.update = (...args) => {
        counterUpdates++;
        return update(...args);
      };
      const auditBefore = (await audit.list({ limit: 1000 })).length;
      for (let i = 0; i < 20; i++) {
        const refused = await h.token({ username: `nobody-${i}`, password: 'a wrong password' });
        assert.equal(refused.statusCode, 503, refused.body);
      }
      assert.equal(counterUpdates, 0, 'no failure counter was reserved or released for a shed login');
      assert.equal((await audit.list({ limit: 1000 })).length, auditBefore, 'a shed login is not an audited attempt');

      probe.release();
      for (const response of await Promise.all(held)) assert.equal(response.statusCode, 200, response.body);
    } finally {
      await close();
    }
  });

  it('does not hash the password of a client that closed its connection while its login waited', async () => {
    const { h, probe, close } = await heldHarness({ ANTPEER_HASH_CONCURRENCY: '1', ANTPEER_HASH_QUEUE: '4' }, { listen: true });
    try {
      const { port } = h.server.app.server.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}${TOKEN_PATH}`;
      const startedBefore = probe.started;
      probe.hold();
      const running = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CLIENT) });
      await until(() => h.server.auth.hasher.load.running === 1, 'the first login is being hashed');

      const body = JSON.stringify(OTHER);
      const gone = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      gone.on('error', () => undefined);
      gone.end(body);
      await until(() => h.server.auth.hasher.load.queued === 1, 'the second login waits for a thread');
      gone.destroy();
      await until(() => h.server.auth.hasher.load.queued === 0, 'the abandoned login left the queue');

      probe.release();
      assert.equal((await running).status, 200);
      assert.equal(probe.started, startedBefore + 1, 'only the login whose client stayed was hashed');
      const metrics = await h.server.metrics.registry.metrics();
      assert.match(metrics, /grant="password",outcome="client_closed_request"\} 1/);
    } finally {
      await close();
    }
  });

  it('refresh grants, the JWKS and the gateway answer while every hashing thread is held by a login', async () => {
    // As many hashing threads as libuv has (4 by default): were hashes on libuv's pool, signing
    // (WebCrypto) and everything else there would wait behind these.
    const { h, probe, close } = await heldHarness({ ANTPEER_HASH_CONCURRENCY: '4', ANTPEER_HASH_QUEUE: '4' });
    try {
      const session = await h.login();
      probe.hold();
      const held = Array.from({ length: 8 }, () => h.token(OTHER));
      await until(() => h.server.auth.hasher.load.running === 4 && h.server.auth.hasher.load.queued === 4, 'the pool is full');

      const refreshed = await h.refresh(session.refresh_token);
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      const accessToken = refreshed.json<{ access_token: string }>().access_token;
      const certs = await h.server.app.inject({ method: 'GET', url: `${BASE}/auth/certs` });
      assert.equal(certs.statusCode, 200);
      await jwtVerify(accessToken, createLocalJWKSet(certs.json()), { issuer: h.config.issuer, currentDate: new Date(h.clock.now()) });
      const guarded = (authorization: string) =>
        h.server.app.inject({ method: 'GET', url: `${BASE}/user/accounts`, headers: { authorization } });
      assert.equal((await guarded(`Bearer ${accessToken}`)).statusCode, 404, 'verified, then no such application route');
      assert.equal((await guarded('Bearer abc.def.ghi')).statusCode, 401);
      assert.equal(await settledCount(held), 0, 'the logins were still held while all that was answered');

      probe.release();
      for (const response of await Promise.all(held)) assert.equal(response.statusCode, 200, response.body);
    } finally {
      await close();
    }
  });
});

/** How many of `promises` have settled by the time pending callbacks have run. */
async function settledCount(promises: Promise<unknown>[]): Promise<number> {
  let count = 0;
  for (const promise of promises) promise.then(() => count++, () => count++);
  await new Promise((resolve) => setImmediate(resolve));
  return count;
}
