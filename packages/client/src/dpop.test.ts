/**
 * DPoP end to end (RFC 9449): the client proves its key to the real token service of this
 * repository and to its gateway, over real HTTP on loopback.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { after, afterEach, before, describe, it } from 'node:test';
import { ManualClock, addClientApplication, loadConfig, startServer, type RunningServer } from '@antpeer/server';
import { pino } from 'pino';
import { FileTokenStore } from './stores/file.js';
import { FakeClock } from './test/fake-clock.js';
import { TokenManager } from './token-manager.js';

const CLIENT = { username: 'merchant-app', password: 'correct horse battery staple' };
const CHEAP_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

interface Sandbox {
  server: RunningServer;
  baseUrl: string;
  serverClock: ManualClock;
  dataDir: string;
}

async function startSandbox(env: Record<string, string> = {}): Promise<Sandbox> {
  const dataDir = mkdtempSync(join(tmpdir(), 'antpeer-client-dpop-'));
  const config = loadConfig({ ANTPEER_DATA_DIR: dataDir, PORT: '0', ANTPEER_METRICS_PORT: 'off', ANTPEER_LOG_LEVEL: 'silent', ...env });
  const serverClock = new ManualClock(Date.now());
  const server = await startServer(config, { clock: serverClock, logger: pino({ level: 'silent' }), argon2: CHEAP_ARGON2 });
  await addClientApplication(server.auth, { name: 'test', sourceAddress: 'local', userAgent: 'test' }, CLIENT.username, CLIENT.password);
  const { port } = server.app.server.address() as AddressInfo;
  return { server, serverClock, dataDir, baseUrl: `http://127.0.0.1:${port}${config.basePath}` };
}

async function stopSandbox(sandbox: Sandbox): Promise<void> {
  await sandbox.server.close();
  rmSync(sandbox.dataDir, { recursive: true, force: true });
}

describe('TokenManager with DPoP against the real token service', () => {
  let sandbox: Sandbox;
  let managers: TokenManager[] = [];
  let requests: Array<{ url: string; dpop: boolean; authorization: string | null }>;

  const recordingFetch: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    requests.push({ url: String(input), dpop: headers.has('dpop'), authorization: headers.get('authorization')?.split(' ')[0] ?? null });
    return fetch(input, init);
  };

  const manager = (options: Partial<ConstructorParameters<typeof TokenManager>[0]> = {}) => {
    const created = new TokenManager({
      baseUrl: sandbox.baseUrl,
      ...CLIENT,
      clock: new FakeClock({ start: sandbox.serverClock.now(), auto: true }),
      fetch: recordingFetch,
      random: () => 0.5,
      scheduleRefresh: false,
      dpop: true,
      ...options,
    });
    managers.push(created);
    return created;
  };

  before(async () => {
    sandbox = await startSandbox();
  });
  afterEach(async () => {
    await Promise.all(managers.map((m) => m.close()));
    managers = [];
  });
  after(() => stopSandbox(sandbox));

  it('obtains a DPoP-bound token and its fetch presents it with a proof the gateway accepts', async () => {
    requests = [];
    const m = manager();
    const response = await m.fetch('user/accounts');
    assert.equal(response.status, 404, 'the token and its proof were accepted; no upstream is configured');
    const tokenSet = await m.getTokenSet();
    assert.equal(tokenSet.tokenType, 'dpop');
    assert.match(tokenSet.dpopJkt ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(tokenSet.dpopKey, undefined, 'a memory store never holds the private key');
    assert.deepEqual(
      requests.map(({ dpop, authorization }) => ({ dpop, authorization })),
      [
        { dpop: true, authorization: null },
        { dpop: true, authorization: 'DPoP' },
      ],
    );
    // The same token copied without the key is refused.
    const stolen = await fetch(`${sandbox.baseUrl}/user/accounts`, { headers: { authorization: `Bearer ${tokenSet.accessToken}` } });
    assert.equal(stolen.status, 401);
    assert.match(String(stolen.headers.get('www-authenticate')), /^DPoP /);
  });

  it('a resource server’s use_dpop_nonce challenge gets one retry whose proof carries the nonce', async () => {
    requests = [];
    const seen: Array<{ nonce?: string; htm: string; htu: string }> = [];
    const resource = createServer((request, response) => {
      const claims = JSON.parse(Buffer.from(String(request.headers.dpop).split('.')[1] ?? '', 'base64url').toString()) as { nonce?: string; htm: string; htu: string };
      seen.push(claims);
      if (claims.nonce === 'rs-nonce-1') return void response.writeHead(200).end('ok');
      response.writeHead(401, { 'www-authenticate': 'DPoP algs="ES256", error="use_dpop_nonce"', 'dpop-nonce': 'rs-nonce-1' }).end();
    });
    await new Promise<void>((resolve) => resource.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(resource.address() as AddressInfo).port}`;
    try {
      const m = manager({ trustedOrigins: [origin] });
      const response = await m.fetch(`${origin}/payments?id=7`, { method: 'POST', body: '{}' });
      assert.equal(response.status, 200);
      assert.deepEqual(seen.map((claims) => claims.nonce), [undefined, 'rs-nonce-1']);
      assert.deepEqual(seen[1], { ...seen[1], htm: 'POST', htu: `${origin}/payments` });
      // The nonce is kept for the origin: the next call needs no challenge.
      assert.equal((await m.fetch(`${origin}/payments`)).status, 200);
      assert.equal(seen.length, 3);
    } finally {
      resource.closeAllConnections();
      await new Promise((resolve) => resource.close(resolve));
    }
  });
});

describe('TokenManager with DPoP: refresh, nonces and the file store', () => {
  let sandbox: Sandbox;
  let managers: TokenManager[] = [];

  it('follows a use_dpop_nonce challenge with one retry, and refreshes bound to the same key', async () => {
    sandbox = await startSandbox({ ANTPEER_DPOP_NONCE: 'on' });
    try {
      const grants: string[] = [];
      const clock = new FakeClock({ start: sandbox.serverClock.now(), auto: true });
      const m = new TokenManager({
        baseUrl: sandbox.baseUrl,
        ...CLIENT,
        clock,
        random: () => 0.5,
        scheduleRefresh: false,
        dpop: { algorithm: 'EdDSA' },
        fetch: async (input, init) => {
          if (String(input).endsWith('/auth/token')) grants.push((JSON.parse(String(init?.body)) as { grant_type?: string }).grant_type ?? 'password');
          return fetch(input, init);
        },
      });
      managers.push(m);
      const first = await m.getTokenSet();
      assert.equal(first.tokenType, 'dpop');
      assert.deepEqual(grants, ['password', 'password'], 'the first proof lacked the nonce; the retry carried it');
      assert.equal((await m.fetch('user/accounts')).status, 404);

      sandbox.serverClock.advance(901_000);
      clock.advance(901_000);
      const refreshed = await m.getTokenSet();
      assert.notEqual(refreshed.accessToken, first.accessToken);
      assert.equal(refreshed.dpopJkt, first.dpopJkt);
      // The nonce kept from the login had expired over 15 minutes: one challenge, one retry with the new one.
      assert.deepEqual(grants.slice(2), ['refresh_token', 'refresh_token']);
      assert.equal((await m.fetch('user/accounts')).status, 404);
    } finally {
      await Promise.all(managers.map((m) => m.close()));
      managers = [];
      await stopSandbox(sandbox);
    }
  });

  it('the file store keeps the key with the tokens at mode 0600, so another process refreshes the session', async () => {
    sandbox = await startSandbox();
    const directory = mkdtempSync(join(tmpdir(), 'antpeer-client-dpop-store-'));
    try {
      const store = new FileTokenStore({ directory });
      const clock = new FakeClock({ start: sandbox.serverClock.now(), auto: true });
      const options = { baseUrl: sandbox.baseUrl, ...CLIENT, clock, random: () => 0.5, scheduleRefresh: false, dpop: true, store } as const;
      const first = new TokenManager(options);
      managers.push(first);
      const initial = await first.getTokenSet();
      assert.ok(initial.dpopKey, 'a shared store carries the key');
      const file = readdirSync(directory).find((name) => name.endsWith('.json'));
      assert.ok(file);
      assert.equal(statSync(join(directory, file)).mode & 0o777, 0o600);
      assert.match(readFileSync(join(directory, file), 'utf8'), /"d":/);

      sandbox.serverClock.advance(901_000);
      clock.advance(901_000);
      const second = new TokenManager(options);
      managers.push(second);
      const refreshed = await second.getTokenSet();
      assert.notEqual(refreshed.accessToken, initial.accessToken);
      assert.equal(refreshed.dpopJkt, initial.dpopJkt, 'the refresh proved the stored key');
      assert.equal(refreshed.sessionState, initial.sessionState, 'the same session, refreshed, not a new login');
      assert.equal((await second.fetch('user/accounts')).status, 404);
    } finally {
      await Promise.all(managers.map((m) => m.close()));
      managers = [];
      rmSync(directory, { recursive: true, force: true });
      await stopSandbox(sandbox);
    }
  });
});
