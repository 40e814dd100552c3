/**
 * Every call that waits settles within `deadlineMs`, whatever the token service does. A hung service
 * is real I/O, so those tests use a short deadline in real time; retries and back-off run on the
 * fake clock.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { RateLimitedError, TimeoutError } from './errors.js';
import { FakeClock } from './test/fake-clock.js';
import { PASSWORD, setup, until } from './test/setup.js';
import { TokenManager } from './token-manager.js';

/** Short enough for a test, long beside a loopback round trip. */
const DEADLINE_MS = 500;
const REQUEST_TIMEOUT_MS = 10_000;

/** A TCP server on loopback that accepts connections and never reads or writes a byte. */
async function silentTcpServer(t: TestContext): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/bankit-api/antPeer/v1`;
}

describe('a token service that accepts and never answers', () => {
  test('over TCP (never reads the request): the call rejects with a TimeoutError at the deadline, before one request timeout', async (t) => {
    const baseUrl = await silentTcpServer(t);
    const manager = new TokenManager({ baseUrl, username: 'app', password: PASSWORD, clock: new FakeClock({ auto: true }), deadlineMs: DEADLINE_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    t.after(() => manager.close());
    const started = performance.now();
    const error = await manager.getAccessToken().catch((e: unknown) => e);
    const waited = performance.now() - started;
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.code, 'ERR_TIMEOUT');
    assert.ok(waited < REQUEST_TIMEOUT_MS, `waited ${Math.round(waited)} ms`);
  });

  test('over HTTP (reads the request, never answers): the call rejects with a TimeoutError at the deadline', async (t) => {
    const { manager, server } = await setup(t, { manager: { deadlineMs: DEADLINE_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS } });
    for (let i = 0; i < 10; i++) server.faults.push({ kind: 'hang' });
    const started = performance.now();
    const error = await manager.getAccessToken().catch((e: unknown) => e);
    assert.ok(error instanceof TimeoutError, String(error));
    assert.ok(performance.now() - started < REQUEST_TIMEOUT_MS);
  });

  test('the token operation itself ends at the deadline: the next calls fail fast instead of waiting again', async (t) => {
    const { manager, server, events } = await setup(t, { manager: { deadlineMs: DEADLINE_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS } });
    for (let i = 0; i < 10; i++) server.faults.push({ kind: 'hang' });
    await assert.rejects(manager.getAccessToken(), TimeoutError);
    await until(() => events.some((e) => e.type === 'failure'), 'the operation to give up');
    const failure = events.find((e) => e.type === 'failure')?.event as { error: TimeoutError };
    assert.ok(failure.error instanceof TimeoutError);
    const requests = server.counts.token;
    assert.ok(requests < 4, `gave up before every attempt: ${requests}`);
    const failFast = await manager.getAccessToken().catch((e: unknown) => e);
    assert.equal(failFast, failure.error, 'the same error, at once, during the back-off');
    assert.equal(server.counts.token, requests);
  });

  test("a caller's AbortSignal ends its wait before the deadline", async (t) => {
    const { manager, server } = await setup(t, { manager: { deadlineMs: 60_000, requestTimeoutMs: REQUEST_TIMEOUT_MS } });
    server.faults.push({ kind: 'hang' });
    const controller = new AbortController();
    const waiting = manager.getAccessToken({ signal: controller.signal });
    await until(() => server.counts.token === 1, 'the request');
    controller.abort(new Error('the caller gave up'));
    await assert.rejects(waiting, /the caller gave up/);
  });

  test('logout settles at the deadline too', async (t) => {
    const silent = await silentTcpServer(t);
    // The logout request goes to a server that never answers; logging in works.
    const hangingLogout: typeof fetch = (input, init) =>
      String(input).endsWith('/auth/logout') ? fetch(`${silent}/auth/logout`, init) : fetch(input, init);
    const { manager } = await setup(t, { manager: { deadlineMs: DEADLINE_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, fetch: hangingLogout } });
    const { refreshToken } = await manager.getTokenSet();
    assert.ok(refreshToken);
    const started = performance.now();
    await assert.rejects(manager.logout(), TimeoutError);
    assert.ok(performance.now() - started < REQUEST_TIMEOUT_MS);
  });
});

describe('callers of one token request', () => {
  test('share its outcome, but each keeps its own deadline', async (t) => {
    const { manager, server, events } = await setup(t, { manager: { deadlineMs: DEADLINE_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS } });
    server.faults.push({ kind: 'hang' }); // the first attempt gets no answer; the retry does
    await assert.rejects(manager.getAccessToken(), TimeoutError, 'the first caller gives up at its deadline');
    // The operation goes on with its retry; a caller that comes now joins it, with a deadline of its own.
    assert.match(await manager.getAccessToken(), /^eyJ/);
    assert.deepEqual(
      events.map((e) => e.type),
      ['retry', 'login'],
      'one operation: a retry and a login, no failure and no second operation',
    );
  });
});

describe('retries and back-off', () => {
  test('with the defaults, a Retry-After at the cap is retried only while the 15 s deadline allows', async (t) => {
    const clock = new FakeClock({ auto: true });
    const { manager, server } = await setup(t, { clock });
    for (let i = 0; i < 10; i++) {
      server.faults.push({ kind: 'status', status: 429, headers: { 'retry-after': '10' }, body: { error: 'too_many_requests' } });
    }
    const started = clock.now();
    const error = await manager.getAccessToken().catch((e: unknown) => e);
    assert.ok(error instanceof RateLimitedError, String(error));
    assert.ok(clock.now() - started <= 15_000, `gave up after ${clock.now() - started} ms`);
    assert.equal(server.counts.token, 2, 'the third attempt would have started 20 s in');
  });

  test('long back-offs stop at the deadline, with the last error', async (t) => {
    const clock = new FakeClock({ auto: true });
    const { manager, server } = await setup(t, { clock, manager: { deadlineMs: 15_000, retry: { attempts: 20, baseDelayMs: 4_000, maxDelayMs: 10_000 } } });
    for (let i = 0; i < 20; i++) server.faults.push({ kind: 'status', status: 503 });
    const started = clock.now();
    const error = await manager.getAccessToken().catch((e: unknown) => e);
    assert.equal((error as { status?: number }).status, 503);
    assert.ok(clock.now() - started <= 15_000, `gave up after ${clock.now() - started} ms`);
    assert.ok(server.counts.token >= 2 && server.counts.token < 20, `attempts: ${server.counts.token}`);
  });
});

describe('the deadlineMs option', () => {
  test('must be a positive number', () => {
    const base = { baseUrl: 'https://h/v1', username: 'app', password: 'x' };
    assert.throws(() => new TokenManager({ ...base, deadlineMs: 0 }), /deadlineMs/);
    assert.throws(() => new TokenManager({ ...base, deadlineMs: Number.NaN }), /deadlineMs/);
  });
});
