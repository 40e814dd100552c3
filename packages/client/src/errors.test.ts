import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { AntPeerClientError } from './errors.js';
import { FakeClock } from './test/fake-clock.js';
import { PASSWORD, setup } from './test/setup.js';
import { TokenManager } from './token-manager.js';

const SECOND = 1000;

function assertNoSecret(value: unknown, secrets: string[]): void {
  const renderings = [
    inspect(value, { depth: Infinity, showHidden: true }),
    JSON.stringify(value, (_key, v: unknown) => (v instanceof Error ? { ...v, message: v.message, stack: v.stack } : v)) ?? '',
    String(value),
    value instanceof Error ? String(value.stack) : '',
  ];
  for (const secret of secrets) {
    for (const text of renderings) assert.ok(!text.includes(secret), `a secret leaked into: ${text.slice(0, 300)}`);
  }
}

test('errors and events never contain the password or a token, even when the server echoes them', async (t) => {
  const { manager, server, clock, events } = await setup(t);
  const first = await manager.getTokenSet();
  const secrets = [PASSWORD, first.accessToken, first.refreshToken ?? 'missing'];
  const errors: unknown[] = [];

  // A refresh refused by a server that echoes the request (and so the refresh token) back…
  server.echoRequestInErrors = true;
  server.endSessions();
  // …then a login refused the same way (echoing the password).
  server.setPassword('app', 'changed');
  clock.advance(901 * SECOND);
  errors.push(await manager.getAccessToken().catch((e: unknown) => e));

  // A 5xx whose description carries a JWT.
  server.setPassword('app', PASSWORD);
  clock.advance(600 * SECOND);
  const jwt = first.accessToken;
  for (let i = 0; i < 4; i++) server.faults.push({ kind: 'status', status: 500, body: { error: 'server_error', error_description: `boom ${jwt}` } });
  errors.push(await manager.getAccessToken().catch((e: unknown) => e));

  assert.ok(errors.every((e) => e instanceof AntPeerClientError), 'every scenario failed');
  assert.equal((errors[0] as AntPeerClientError).code, 'ERR_AUTHENTICATION');
  assert.match((errors[0] as AntPeerClientError).errorDescription ?? '', /\[redacted\]/);
  assert.equal((errors[1] as AntPeerClientError).code, 'ERR_SERVER');
  for (const error of errors) assertNoSecret(error, secrets);
  for (const { event } of events) assertNoSecret(event, secrets);
  assert.ok(events.length > 3);
});

test('network and timeout errors carry no secret either', async (t) => {
  // A port that refuses connections.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const refused = new TokenManager({
    baseUrl: `http://127.0.0.1:${port}/v1`,
    username: 'app',
    password: PASSWORD,
    clock: new FakeClock({ auto: true }),
    retry: { attempts: 2 },
  });
  t.after(() => refused.close());
  const network = await refused.getAccessToken().catch((e: unknown) => e);
  assert.ok(network instanceof AntPeerClientError);
  assert.equal(network.code, 'ERR_NETWORK');
  assertNoSecret(network, [PASSWORD]);

  const { manager, server } = await setup(t, { manager: { requestTimeoutMs: 30, retry: { attempts: 1 } } });
  server.faults.push({ kind: 'hang' });
  const timeout = await manager.getAccessToken().catch((e: unknown) => e);
  assert.ok(timeout instanceof AntPeerClientError);
  assert.equal(timeout.code, 'ERR_TIMEOUT');
  assertNoSecret(timeout, [PASSWORD]);
});
