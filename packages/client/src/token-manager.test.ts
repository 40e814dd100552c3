import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AntPeerClientError,
  AuthenticationError,
  ClosedError,
  RateLimitedError,
  ServerError,
  TokenRequestError,
} from './errors.js';
import { MemoryTokenStore } from './stores/memory.js';
import type { TokenSet, TokenStore } from './stores/token-store.js';
import { FakeClock } from './test/fake-clock.js';
import { PASSWORD, setup, until } from './test/setup.js';
import { TokenManager } from './token-manager.js';

const SECOND = 1000;

describe('logging in', () => {
  test('logs in with the password grant as raw JSON and returns the access token', async (t) => {
    const { manager, server } = await setup(t);
    const token = await manager.getAccessToken();
    assert.equal(server.counts.password, 1);
    const [request] = server.tokenRequests;
    assert.deepEqual(request?.body, { username: 'app', password: PASSWORD });
    assert.equal(request?.contentType, 'application/json');
    assert.match(token, /^eyJ/);
  });

  test('reuses the token while it is valid: one login for many calls', async (t) => {
    const { manager, server, clock } = await setup(t);
    const first = await manager.getAccessToken();
    for (let i = 0; i < 20; i++) {
      clock.advance(30 * SECOND);
      assert.equal(await manager.getAccessToken(), first);
    }
    assert.equal(server.counts.token, 1);
  });

  test('1,000 concurrent calls with no token make exactly one token request', async (t) => {
    const { manager, server } = await setup(t);
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => manager.getAccessToken()));
    assert.equal(server.counts.token, 1);
    assert.equal(new Set(tokens).size, 1);
  });

  test('the password function is called at each login, not at each call', async (t) => {
    let calls = 0;
    const { manager, server } = await setup(t, { manager: { password: async () => (calls++, PASSWORD) } });
    await manager.getAccessToken();
    await manager.getAccessToken();
    assert.equal(calls, 1);
    assert.equal(server.counts.password, 1);
  });
});

describe('refreshing', () => {
  test('1,000 concurrent calls across an expiry make exactly one token request', async (t) => {
    const { manager, server, clock } = await setup(t);
    const before = await manager.getAccessToken();
    clock.advance(901 * SECOND);
    const responses = await Promise.all(Array.from({ length: 1000 }, () => manager.fetch('accounts')));
    assert.equal(server.counts.token, 2);
    assert.equal(server.counts.refresh, 1);
    assert.ok(responses.every((response) => response.status === 200));
    await Promise.all(responses.map((response) => response.body?.cancel()));
    assert.notEqual(await manager.getAccessToken(), before);
  });

  test('refreshes ahead of expiry in the background while calls keep the current token', async (t) => {
    const { manager, server, clock } = await setup(t);
    const first = await manager.getAccessToken();
    clock.advance(676 * SECOND); // past 75 % of 900 s, well before expiry
    assert.equal(await manager.getAccessToken(), first, 'the call does not wait for the refresh');
    await until(() => server.counts.refresh === 1, 'the background refresh');
    await until(() => server.tokenRequests.length === 2);
    let second = first;
    await until(() => {
      void manager.getAccessToken().then((token) => (second = token));
      return second !== first;
    }, 'the new token');
    assert.equal(server.counts.token, 2);
  });

  test('jitter spreads the refresh point over the last share of the lifetime', async (t) => {
    const points: number[] = [];
    for (const random of [0, 0.999]) {
      const { manager, clock } = await setup(t, { manager: { random: () => random } });
      const tokenSet = await manager.getTokenSet();
      points.push((tokenSet.refreshAt - clock.now()) / (tokenSet.expiresAt - clock.now()));
    }
    assert.ok(Math.abs((points[0] ?? 0) - 0.8) < 0.001, `random 0 refreshes at 80 %: ${points[0]}`);
    assert.ok(Math.abs((points[1] ?? 0) - 0.7) < 0.001, `random ~1 refreshes at 70 %: ${points[1]}`);
  });

  test('a scheduled timer refreshes ahead of expiry without any call', async (t) => {
    const clock = new FakeClock();
    const { manager, server } = await setup(t, { clock, manager: { scheduleRefresh: true } });
    await manager.getAccessToken();
    assert.equal(clock.pendingTimers, 1);
    clock.advance(674 * SECOND);
    assert.equal(server.counts.refresh, 0);
    clock.advance(2 * SECOND);
    await until(() => server.counts.refresh === 1, 'the timed refresh');
    await until(() => clock.pendingTimers === 1, 'the next timer');
  });

  test('a lost refresh response is retried and the grace window returns the same new token', async (t) => {
    const { manager, server, clock, events } = await setup(t);
    await manager.getAccessToken();
    clock.advance(901 * SECOND);
    server.faults.push({ kind: 'drop-after' });
    const token = await manager.getAccessToken();
    assert.equal(server.counts.password, 1, 'no new login');
    assert.equal(server.counts.refresh, 2);
    const [lost, retried] = server.tokenRequests.slice(1);
    assert.equal(retried?.body.refresh_token, lost?.body.refresh_token, 'the retry presents the same refresh token');
    assert.ok(events.some((e) => e.type === 'retry' && (e.event as { code: string }).code === 'ERR_NETWORK'));
    // The session survived: the next refresh works and no reuse was detected.
    clock.advance(901 * SECOND);
    assert.notEqual(await manager.getAccessToken(), token);
    assert.equal(server.counts.password, 1);
    assert.equal(server.activeSessions, 1);
  });

  test('503s during refresh while the token is still valid: calls keep succeeding and nobody logs in', async (t) => {
    const { manager, server, clock } = await setup(t);
    await manager.getAccessToken();
    clock.advance(680 * SECOND);
    for (let i = 0; i < 40; i++) server.faults.push({ kind: 'status', status: 503, body: { error: 'server_error' } });
    for (let i = 0; i < 20; i++) {
      const response = await manager.fetch('accounts');
      assert.equal(response.status, 200);
      await response.body?.cancel();
      clock.advance(5 * SECOND);
    }
    assert.equal(server.counts.password, 1);
    assert.ok(server.counts.refresh > 1, 'refresh was retried');
    assert.ok(server.counts.refresh < 40, `refreshes are spaced by back-off, not one per call: ${server.counts.refresh}`);
    server.faults.length = 0;
    const before = server.counts.refresh;
    await until(() => {
      void manager.getAccessToken().catch(() => undefined);
      clock.advance(SECOND);
      return server.counts.refresh > before;
    }, 'a refresh after the outage');
    assert.equal(server.counts.password, 1);
  });

  test('timeouts during refresh while the token is still valid: calls keep succeeding', async (t) => {
    const { manager, server, clock } = await setup(t, { manager: { requestTimeoutMs: 50 } });
    const first = await manager.getAccessToken();
    clock.advance(680 * SECOND);
    server.faults.push({ kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' });
    // Calls go on while the background refresh times out and retries; on a loaded machine the two
    // attempts may take longer than ten calls at 20 ms, so call until they happened (bounded).
    for (let i = 0; i < 10 || (server.counts.refresh < 2 && i < 250); i++) {
      assert.equal(await manager.getAccessToken(), first);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(server.counts.password, 1);
    assert.ok(server.counts.refresh >= 2, 'the refresh was retried after timing out');
  });

  test('an expired token and a brief outage: the waiting call gets a token after retries, without a login', async (t) => {
    const { manager, server, clock } = await setup(t);
    await manager.getAccessToken();
    clock.advance(901 * SECOND);
    server.faults.push({ kind: 'status', status: 503 }, { kind: 'reset' }, { kind: 'status', status: 502 });
    await manager.getAccessToken();
    assert.equal(server.counts.refresh, 4);
    assert.equal(server.counts.password, 1);
  });

  test('a 429 is retried no sooner than its Retry-After', async (t) => {
    const { manager, server, clock } = await setup(t);
    await manager.getAccessToken();
    clock.advance(901 * SECOND);
    server.faults.push({ kind: 'status', status: 429, headers: { 'retry-after': '3' }, body: { error: 'too_many_requests' } });
    await manager.getAccessToken();
    const [limited, retried] = server.tokenRequests.slice(1);
    assert.ok((retried?.at ?? 0) - (limited?.at ?? 0) >= 3 * SECOND);
    assert.equal(server.counts.password, 1);
  });

  test('when every attempt fails, waiting calls get the error and then fail fast during the back-off', async (t) => {
    const { manager, server, clock } = await setup(t);
    await manager.getAccessToken();
    clock.advance(901 * SECOND);
    for (let i = 0; i < 10; i++) server.faults.push({ kind: 'status', status: 503 });
    const error = await manager.getAccessToken().catch((e: unknown) => e);
    assert.ok(error instanceof ServerError);
    assert.equal(error.status, 503);
    assert.equal(server.counts.refresh, 4, 'bounded by retry.attempts');
    const failFast = await manager.getAccessToken().catch((e: unknown) => e);
    assert.equal(failFast, error);
    assert.equal(server.counts.refresh, 4, 'no request during the back-off');
    assert.equal(server.counts.password, 1, 'a 5xx never causes a login');
  });

  test('a Retry-After longer than the retry cap ends the operation and calls back off for it', async (t) => {
    const { manager, server, clock } = await setup(t);
    await manager.getAccessToken();
    clock.advance(901 * SECOND);
    server.faults.push({ kind: 'status', status: 429, headers: { 'retry-after': '120' } });
    const error = await manager.getAccessToken().catch((e: unknown) => e);
    assert.ok(error instanceof RateLimitedError);
    assert.equal(error.retryAfterMs, 120 * SECOND);
    assert.ok((error.retryAt ?? 0) >= clock.now() + 119 * SECOND);
    clock.advance(60 * SECOND);
    await assert.rejects(manager.getAccessToken(), RateLimitedError);
    assert.equal(server.counts.token, 2);
    clock.advance(61 * SECOND);
    await manager.getAccessToken();
    assert.equal(server.counts.token, 3);
  });

  test('invalid_grant on refresh leads to exactly one login', async (t) => {
    const { manager, server, clock, events } = await setup(t);
    await manager.getAccessToken();
    server.endSessions();
    clock.advance(901 * SECOND);
    await manager.getAccessToken();
    assert.equal(server.counts.refresh, 1);
    assert.equal(server.counts.password, 2);
    const failure = events.find((e) => e.type === 'failure');
    assert.equal((failure?.event as { operation: string }).operation, 'refresh');
  });

  test('a refresh token past refresh_expires_in is not presented: the manager logs in instead', async (t) => {
    const { manager, server, clock } = await setup(t);
    await manager.getAccessToken();
    clock.advance(1801 * SECOND);
    await manager.getAccessToken();
    assert.equal(server.counts.refresh, 0);
    assert.equal(server.counts.password, 2);
  });

  test('a camelCase refreshToken in the answers is used for the refresh', async (t) => {
    const { manager, server, clock } = await setup(t, { server: { refreshTokenField: 'refreshToken' } });
    await manager.getAccessToken();
    clock.advance(901 * SECOND);
    await manager.getAccessToken();
    clock.advance(901 * SECOND);
    await manager.getAccessToken();
    assert.equal(server.counts.refresh, 2);
    assert.equal(server.counts.password, 1);
    assert.ok(server.tokenRequests.slice(1).every((r) => typeof r.body.refresh_token === 'string'));
  });

  test('a refresh answer without a refresh token keeps the old one', async (t) => {
    const { manager, server, clock, events } = await setup(t, { server: { refreshTokenField: 'none-on-refresh', graceMs: 0 } });
    const { refreshToken } = await manager.getTokenSet();
    clock.advance(901 * SECOND);
    const after = await manager.getTokenSet();
    assert.equal(after.refreshToken, refreshToken);
    assert.equal((events.find((e) => e.type === 'refresh')?.event as { rotated: boolean }).rotated, false);
    clock.advance(901 * SECOND);
    await manager.getAccessToken();
    assert.equal(server.counts.refresh, 2, 'the kept refresh token works again');
    assert.equal(server.counts.password, 1);
  });
});

describe('wrong credentials', () => {
  test('raise an AuthenticationError, and calls fail fast during a growing back-off', async (t) => {
    const { manager, server, clock } = await setup(t, { manager: { password: 'wrong' } });
    const errors = await Promise.all(Array.from({ length: 50 }, () => manager.getAccessToken().catch((e: unknown) => e)));
    assert.equal(server.counts.token, 1, 'one request for 50 concurrent calls, never retried');
    const [first] = errors;
    assert.ok(first instanceof AuthenticationError);
    assert.equal(first.code, 'ERR_AUTHENTICATION');
    assert.equal(first.status, 401);
    assert.equal(first.error, 'invalid_grant');
    assert.equal(first.errorDescription, 'Invalid user credentials');
    assert.ok(errors.every((e) => e === first));

    const firstWait = (first.retryAt ?? 0) - clock.now();
    assert.ok(firstWait >= 2_500, `backs off: ${firstWait}`);
    for (let i = 0; i < 10; i++) await assert.rejects(manager.getAccessToken(), AuthenticationError);
    assert.equal(server.counts.token, 1, 'fail fast during the back-off');

    clock.advance(firstWait + 1);
    const second = await manager.getAccessToken().catch((e: unknown) => e);
    assert.ok(second instanceof AuthenticationError);
    assert.equal(server.counts.token, 2);
    assert.ok((second.retryAt ?? 0) - clock.now() > firstWait / 2 + 2_500, 'the back-off grows');
  });

  test('after the password is fixed on the server side, the next attempt past the back-off succeeds', async (t) => {
    const { manager, server, clock } = await setup(t, { manager: { password: 'new secret' } });
    await assert.rejects(manager.getAccessToken(), AuthenticationError);
    server.setPassword('app', 'new secret');
    clock.advance(10 * SECOND);
    await manager.getAccessToken();
    assert.equal(server.counts.password, 2);
  });

  test('a disabled account (400 invalid_grant) is an AuthenticationError too', async (t) => {
    const { manager, server } = await setup(t);
    server.faults.push({ kind: 'status', status: 400, body: { error: 'invalid_grant', error_description: 'Account disabled' } });
    const error = await manager.getAccessToken().catch((e: unknown) => e);
    assert.ok(error instanceof AuthenticationError);
    assert.equal(error.errorDescription, 'Account disabled');
  });

  test('an error the request itself caused (invalid_request) is not retried', async (t) => {
    const { manager, server } = await setup(t);
    server.faults.push({ kind: 'status', status: 400, body: { error: 'invalid_request', error_description: 'Missing parameter: username' } });
    await assert.rejects(manager.getAccessToken(), TokenRequestError);
    assert.equal(server.counts.token, 1);
  });

  test('a redirect from the token endpoint is not followed', async (t) => {
    const { manager, server } = await setup(t);
    server.faults.push({ kind: 'status', status: 307, headers: { location: 'http://127.0.0.1:1/steal' } });
    const error = await manager.getAccessToken().catch((e: unknown) => e);
    assert.ok(error instanceof TokenRequestError);
    assert.match(error.message, /redirect/);
    assert.equal(server.counts.token, 1);
  });
});

describe('clock skew', () => {
  for (const offsetMinutes of [10, -10, -20]) {
    test(`a server clock ${offsetMinutes > 0 ? 'ahead' : 'behind'} by ${Math.abs(offsetMinutes)} minutes changes nothing`, async (t) => {
      const offset = offsetMinutes * 60 * SECOND;
      const { manager, server, clock, events } = await setup(t, { serverClockOffsetMs: offset });
      const tokenSet = await manager.getTokenSet();
      const lifetime = tokenSet.expiresAt - tokenSet.obtainedAt;
      assert.ok(lifetime > 898 * SECOND && lifetime <= 900 * SECOND, `lifetime from the answer: ${lifetime}`);
      assert.ok(Math.abs((tokenSet.serverSkewMs ?? 0) - offset) <= 1000, `skew measured: ${tokenSet.serverSkewMs}`);
      assert.equal((events.find((e) => e.type === 'login')?.event as { serverSkewMs: number }).serverSkewMs, tokenSet.serverSkewMs);
      // Call every 30 s for two lifetimes: never a 401, one refresh per lifetime.
      for (let elapsed = 0; elapsed <= 1800; elapsed += 30) {
        const response = await manager.fetch('accounts');
        assert.equal(response.status, 200, `at ${elapsed} s`);
        await response.body?.cancel();
        clock.advance(30 * SECOND);
      }
      await until(() => server.tokenRequests.length >= 3);
      assert.equal(server.counts.password, 1);
      assert.ok(server.counts.refresh >= 2 && server.counts.refresh <= 3, `refreshes: ${server.counts.refresh}`);
    });
  }
});

describe('sessions in a store', () => {
  test('a stored session is reused by the next manager: no login after a restart', async (t) => {
    const store = new MemoryTokenStore();
    const { manager, server, another } = await setup(t, { manager: { store } });
    const token = await manager.getAccessToken();
    await manager.close();
    const restarted = another({ store });
    assert.equal(await restarted.getAccessToken(), token);
    assert.equal(server.counts.token, 1);
  });

  test('two managers sharing a store make one refresh between them', async (t) => {
    const store = new MemoryTokenStore();
    const { manager, server, clock, another } = await setup(t, { manager: { store } });
    await manager.getAccessToken();
    const second = another({ store });
    await second.getAccessToken();
    clock.advance(901 * SECOND);
    const [a, b] = await Promise.all([manager.getAccessToken(), second.getAccessToken()]);
    assert.equal(a, b);
    assert.equal(server.counts.refresh, 1);
    assert.equal(server.counts.password, 1);
  });

  test('a malformed record in the store is ignored with a warning', async (t) => {
    const store = new MemoryTokenStore();
    await store.set('x', { version: 2 } as unknown as TokenSet);
    const { manager, server, events } = await setup(t, { manager: { store, storeKey: 'x' } });
    await manager.getAccessToken();
    assert.equal(server.counts.password, 1);
    assert.ok(events.some((e) => e.type === 'warning'));
  });

  test('a store that cannot be written does not lose the token', async (t) => {
    const broken: TokenStore = {
      get: async () => undefined,
      set: async () => {
        throw new Error('disk full');
      },
      delete: async () => undefined,
    };
    const { manager, server, events } = await setup(t, { manager: { store: broken } });
    const token = await manager.getAccessToken();
    assert.equal(await manager.getAccessToken(), token);
    assert.equal(server.counts.token, 1);
    assert.ok(events.some((e) => e.type === 'failure' && (e.event as { operation: string }).operation === 'store'));
  });
});

describe('signals, logout and close', () => {
  test("a caller's AbortSignal stops its wait but not the shared token request", async (t) => {
    const { manager, server } = await setup(t, { server: { tokenDelayMs: 50 } });
    const controller = new AbortController();
    const aborted = manager.getAccessToken({ signal: controller.signal });
    const patient = manager.getAccessToken();
    controller.abort(new Error('caller gave up'));
    await assert.rejects(aborted, /caller gave up/);
    assert.match(await patient, /^eyJ/);
    assert.equal(server.counts.token, 1);
  });

  test('logout ends the session on the server, and the next call logs in again', async (t) => {
    const { manager, server, events } = await setup(t);
    const { refreshToken } = await manager.getTokenSet();
    await manager.logout();
    assert.equal(server.counts.logout, 1);
    assert.equal(server.activeSessions, 0);
    assert.ok(events.some((e) => e.type === 'logout'));
    assert.ok(refreshToken);
    await manager.getAccessToken();
    assert.equal(server.counts.password, 2);
  });

  test('logout of a session the server already ended succeeds', async (t) => {
    const { manager, server } = await setup(t);
    await manager.getAccessToken();
    server.endSessions();
    await manager.logout();
  });

  test('close rejects pending and later calls with ClosedError', async (t) => {
    const { manager } = await setup(t, { server: { tokenDelayMs: 100 } });
    const pending = manager.getAccessToken();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await manager.close();
    await assert.rejects(pending, ClosedError);
    await assert.rejects(manager.getAccessToken(), ClosedError);
    await manager.close();
  });
});

describe('options', () => {
  const base = { username: 'app', password: 'x' };

  test('plain http to a host that is not loopback needs dangerouslyAllowInsecureHttp', () => {
    assert.throws(() => new TokenManager({ ...base, baseUrl: 'http://api.example.com/v1' }), /https/);
    const warn = console.warn;
    const warnings: unknown[] = [];
    console.warn = (message: unknown) => void warnings.push(message);
    try {
      new TokenManager({ ...base, baseUrl: 'http://api.example.com/v1', dangerouslyAllowInsecureHttp: true });
    } finally {
      console.warn = warn;
    }
    assert.equal(warnings.length, 1);
    new TokenManager({ ...base, baseUrl: 'http://127.0.0.1:8080/v1' });
    new TokenManager({ ...base, baseUrl: 'http://localhost:8080/v1' });
  });

  test('bad options throw a TypeError naming the option', () => {
    assert.throws(() => new TokenManager({ ...base, baseUrl: 'not a url' }), TypeError);
    assert.throws(() => new TokenManager({ ...base, baseUrl: 'https://u:p@h/v1' }), /credentials/);
    assert.throws(() => new TokenManager({ ...base, username: '', baseUrl: 'https://h/v1' }), /username/);
    assert.throws(() => new TokenManager({ ...base, password: '', baseUrl: 'https://h/v1' }), /password/);
    assert.throws(() => new TokenManager({ ...base, baseUrl: 'https://h/v1', refreshRatio: 2 }), /refreshRatio/);
    assert.throws(() => new TokenManager({ ...base, baseUrl: 'https://h/v1', requestTimeoutMs: 0 }), /requestTimeoutMs/);
    assert.throws(() => new TokenManager({ ...base, baseUrl: 'https://h/v1', retry: { baseDelayMs: 10, maxDelayMs: 1 } }), /retry.maxDelayMs/);
  });

  test('every thrown error is an AntPeerClientError with a stable code', async (t) => {
    const { manager, server } = await setup(t);
    server.faults.push({ kind: 'status', status: 418, body: 'not json' });
    const error = await manager.getAccessToken().catch((e: unknown) => e);
    assert.ok(error instanceof AntPeerClientError);
    assert.equal(error.code, 'ERR_TOKEN_REQUEST');
    assert.equal(error.retryable, false);
  });
});
