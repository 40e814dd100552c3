/**
 * The client against the real token service of this repository (in-process, over real HTTP on
 * loopback), with the server's and the client's clocks advanced together.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { ManualClock, addClientApplication, loadConfig, startServer, type RunningServer } from '@antpeer/server';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AuthenticationError } from './errors.js';
import { TokenManager } from './token-manager.js';
import { FakeClock } from './test/fake-clock.js';

const CLIENT = { username: 'merchant-app', password: 'correct horse battery staple' };
const CHEAP_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

describe('TokenManager against the real AntPeer token service', () => {
  let server: RunningServer;
  let dataDir: string;
  let baseUrl: string;
  const start = Date.now();
  const serverClock = new ManualClock(start);
  let clientClock: FakeClock;
  let tokenRequests: Array<{ grant: string }>;
  let managers: TokenManager[] = [];

  /** Moves both clocks by `ms`. */
  const advance = (ms: number) => {
    serverClock.advance(ms);
    clientClock.advance(ms);
  };

  /** A fetch that counts token requests and can drop the response of the next one. */
  let dropNextTokenResponse = false;
  const countingFetch: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.endsWith('/auth/token')) {
      const body = JSON.parse(String(init?.body ?? '{}')) as { grant_type?: string };
      tokenRequests.push({ grant: body.grant_type ?? 'password' });
      if (dropNextTokenResponse) {
        dropNextTokenResponse = false;
        const response = await fetch(input, init);
        await response.arrayBuffer(); // the server did the work; the answer is lost on the way
        throw new TypeError('fetch failed: connection reset');
      }
    }
    return fetch(input, init);
  };

  const manager = (options: Partial<ConstructorParameters<typeof TokenManager>[0]> = {}) => {
    const created = new TokenManager({
      baseUrl,
      ...CLIENT,
      clock: clientClock,
      fetch: countingFetch,
      dangerouslyAllowInsecureHttp: true,
      random: () => 0.5,
      // The refresh timer is only an optimisation; here every read decides, as the clocks say.
      scheduleRefresh: false,
      ...options,
    });
    managers.push(created);
    return created;
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'antpeer-client-real-'));
    const config = loadConfig({ ANTPEER_DATA_DIR: dataDir, PORT: '0', ANTPEER_METRICS_PORT: 'off', ANTPEER_LOG_LEVEL: 'silent' });
    server = await startServer(config, { clock: serverClock, logger: pino({ level: 'silent' }), argon2: CHEAP_ARGON2 });
    await addClientApplication(server.auth, { name: 'test', sourceAddress: 'local', userAgent: 'test' }, CLIENT.username, CLIENT.password);
    const { port } = server.app.server.address() as AddressInfo;
    baseUrl = `http://127.0.0.1:${port}${config.basePath}`;
  });

  afterEach(async () => {
    await Promise.all(managers.map((m) => m.close()));
    managers = [];
  });

  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const reset = () => {
    // auto: back-off timers fire at once and move the client clock; the server's lags by seconds at most.
    clientClock = new FakeClock({ start: serverClock.now(), auto: true });
    tokenRequests = [];
  };

  it('logs in and its fetch passes the real gateway (404 after authentication, not 401)', async () => {
    reset();
    const m = manager();
    const response = await m.fetch('user/accounts');
    assert.equal(response.status, 404, 'the token was accepted; no upstream is configured');
    assert.deepEqual(tokenRequests, [{ grant: 'password' }]);
  });

  it('1,000 concurrent calls across an expiry make exactly one token request', async () => {
    reset();
    const m = manager();
    await m.getAccessToken();
    tokenRequests = [];
    advance(901_000);
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => m.getAccessToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.deepEqual(tokenRequests, [{ grant: 'refresh_token' }]);
    const response = await m.fetch('anything');
    assert.equal(response.status, 404);
  });

  it('a refresh whose answer was lost is retried, and the server’s grace window returns the same token', async () => {
    reset();
    const m = manager();
    await m.getAccessToken();
    const [session] = await server.auth.store.sessions.listActive(serverClock.now(), { limit: 1000 });
    assert.ok(session, 'the newest session is this manager’s');
    advance(901_000);
    dropNextTokenResponse = true;
    await m.getAccessToken();
    assert.deepEqual(tokenRequests.map((r) => r.grant), ['password', 'refresh_token', 'refresh_token']);
    // no reuse was detected: the same session lives on and refreshes again
    advance(901_000);
    await m.getAccessToken();
    assert.equal(tokenRequests.at(-1)?.grant, 'refresh_token');
    const after = await server.auth.store.sessions.get(session.id);
    assert.equal(after?.endedAt, null);
    const [audit] = await server.auth.store.audit.list({ limit: 1 });
    assert.notEqual(audit?.type, 'refresh_token_reuse');
  });

  it('a refresh the server refuses (session revoked) leads to exactly one new login', async () => {
    reset();
    const m = manager();
    await m.getAccessToken();
    const [session] = await server.auth.store.sessions.listActive(serverClock.now(), { limit: 1000 });
    assert.ok(session);
    await server.auth.store.sessions.endAllOfUser(session.userId, 'revoked', serverClock.now());
    advance(901_000);
    await m.getAccessToken();
    assert.deepEqual(tokenRequests.map((r) => r.grant), ['password', 'refresh_token', 'password']);
  });

  it('a 401 invalid_token from an application endpoint forces one refresh and one retry', async () => {
    reset();
    const m = manager();
    await m.getAccessToken();
    const [session] = await server.auth.store.sessions.listActive(serverClock.now(), { limit: 1000 });
    assert.ok(session);
    await server.auth.store.sessions.endAllOfUser(session.userId, 'revoked', serverClock.now());
    const response = await m.fetch('user/accounts');
    assert.equal(response.status, 404, 'the retried request carried a fresh, accepted token');
    assert.deepEqual(tokenRequests.map((r) => r.grant), ['password', 'refresh_token', 'password']);
  });

  it('wrong credentials raise a typed error after one attempt', async () => {
    reset();
    const m = manager({ password: 'not the password at all' });
    await assert.rejects(m.getAccessToken(), AuthenticationError);
    await assert.rejects(m.getAccessToken(), AuthenticationError);
    assert.equal(tokenRequests.length, 1, 'the second call failed fast without a request');
  });

  it('logout ends the session on the server', async () => {
    reset();
    const m = manager();
    await m.getAccessToken();
    const before = await server.auth.store.sessions.listActive(serverClock.now(), { limit: 1000 });
    await m.logout();
    const after = await server.auth.store.sessions.listActive(serverClock.now(), { limit: 1000 });
    assert.equal(after.length, before.length - 1);
  });
});
