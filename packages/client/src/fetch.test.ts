import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isReplayable } from './fetch.js';
import { setup } from './test/setup.js';

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

describe('fetch with the token', () => {
  test('adds Authorization: Bearer and resolves a relative URL under the base URL', async (t) => {
    const { manager, server } = await setup(t);
    const response = await manager.fetch('accounts/42?x=1', { headers: { 'x-trace': 'abc' } });
    assert.equal(response.status, 200);
    const body = await json(response);
    assert.equal(body.path, '/bankit-api/antPeer/v1/accounts/42');
    assert.equal(server.counts.app, 1);
  });

  test('a Request object with an absolute URL on the base origin works', async (t) => {
    const { manager, server } = await setup(t);
    const request = new Request(`${server.baseUrl}/payments`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    const response = await manager.fetch(request);
    const body = await json(response);
    assert.equal(body.method, 'POST');
    assert.equal(body.body, '{"a":1}');
  });

  test('refuses to send the token to an origin that is not trusted', async (t) => {
    const { manager, server } = await setup(t);
    await assert.rejects(manager.fetch('https://attacker.example/steal'), /Refusing to send the access token/);
    assert.equal(server.counts.token, 0, 'not even a login');
  });

  test('a 401 invalid_token forces one refresh and one retry', async (t) => {
    const { manager, server, events } = await setup(t);
    await manager.getAccessToken();
    server.revokeAccessTokens();
    const response = await manager.fetch('accounts', { method: 'POST', body: JSON.stringify({ amount: 1 }) });
    assert.equal(response.status, 200);
    assert.equal((await json(response)).body, '{"amount":1}', 'the body was sent again');
    assert.equal(server.counts.app, 2);
    assert.equal(server.counts.refresh, 1);
    assert.ok(events.some((e) => e.type === 'retry' && (e.event as { operation: string }).operation === 'request'));
  });

  test('concurrent 401s for one token share one refresh', async (t) => {
    const { manager, server } = await setup(t);
    await manager.getAccessToken();
    server.revokeAccessTokens();
    const responses = await Promise.all(Array.from({ length: 50 }, () => manager.fetch('accounts')));
    assert.ok(responses.every((r) => r.status === 200));
    await Promise.all(responses.map((r) => r.body?.cancel()));
    assert.equal(server.counts.refresh, 1);
    assert.equal(server.counts.app, 100);
  });

  test('a server that refuses every token gets one refresh and one retry, never a loop', async (t) => {
    const { manager, server } = await setup(t);
    await manager.getAccessToken();
    server.rejectAllTokens = true;
    const first = await manager.fetch('accounts');
    assert.equal(first.status, 401);
    assert.equal(server.counts.app, 2);
    assert.equal(server.counts.token, 2);
    const second = await manager.fetch('accounts');
    assert.equal(second.status, 401, 'the caller gets the 401');
    assert.equal(server.counts.app, 3, 'no retry for the token that just replaced a refused one');
    assert.equal(server.counts.token, 2, 'no refresh either');
  });

  test('a 401 without error="invalid_token" is returned as is, with no refresh', async (t) => {
    const realFetch = globalThis.fetch;
    const { manager, server } = await setup(t, {
      manager: {
        fetch: async (input, init) =>
          String(input).includes('/auth/')
            ? realFetch(input, init)
            : new Response('{}', { status: 401, headers: { 'www-authenticate': 'Bearer realm="x", error="insufficient_scope"' } }),
      },
    });
    const response = await manager.fetch('accounts');
    assert.equal(response.status, 401);
    assert.equal(server.counts.token, 1);
  });

  test('a streamed body is not sent twice, but the refused token is still replaced for the next call', async (t) => {
    const { manager, server } = await setup(t);
    await manager.getAccessToken();
    server.revokeAccessTokens();
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('once'));
        controller.close();
      },
    });
    const response = await manager.fetch('upload', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    assert.equal(response.status, 401);
    assert.equal(server.counts.app, 1);
    const next = await manager.fetch('accounts');
    assert.equal(next.status, 200);
    assert.equal(server.counts.refresh, 1);
  });

  test('bodies that can be sent again are told apart from streams', () => {
    assert.equal(isReplayable('https://x', undefined), true);
    assert.equal(isReplayable('https://x', { body: 'a' }), true);
    assert.equal(isReplayable('https://x', { body: new URLSearchParams('a=1') }), true);
    assert.equal(isReplayable('https://x', { body: new Uint8Array(2) }), true);
    assert.equal(isReplayable('https://x', { body: new Blob(['a']) }), true);
    assert.equal(isReplayable('https://x', { body: new FormData() }), true);
    assert.equal(isReplayable('https://x', { body: new ReadableStream() }), false);
    assert.equal(isReplayable(new Request('https://x', { method: 'POST', body: 'a' }), undefined), false);
  });

  test("the caller's AbortSignal reaches the request", async (t) => {
    const { manager } = await setup(t);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await assert.rejects(manager.fetch('accounts', { signal: controller.signal }), /stop/);
  });
});
