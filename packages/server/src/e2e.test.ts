import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import {
  BASE_PATH,
  assertTokenResponse,
  login,
  postToken,
  refresh,
  type TokenResponse,
} from './test/http.js';
import { makeDataDir, runCli, startServe, type ServeProcess } from './test/process.js';

const GENERATED = /Its password \(shown once, stored only as a hash\): (\S+)/;
const CREATED = 'Created the first client application "antpeer-client".';

function assertNoStore(headers: Headers): void {
  assert.equal(headers.get('cache-control'), 'no-store');
  assert.equal(headers.get('pragma'), 'no-cache');
  assert.match(headers.get('content-type') ?? '', /^application\/json/);
}

/** The bytes of the embedded database and its WAL/shared-memory files as they are on disk now. */
function databaseBytes(dataDir: string): Buffer {
  const files = ['antpeer.sqlite', 'antpeer.sqlite-wal', 'antpeer.sqlite-shm']
    .map((name) => join(dataDir, name))
    .filter((path) => existsSync(path));
  return Buffer.concat(files.map((path) => readFileSync(path)));
}

function assertNotStored(bytes: Buffer, secret: string, what: string): void {
  assert.equal(bytes.includes(Buffer.from(secret, 'utf8')), false, `${what} is in the database as text`);
  const raw = Buffer.from(secret, 'base64url');
  if (raw.length >= 16) assert.equal(bytes.includes(raw), false, `${what} is in the database as raw bytes`);
}

describe('antpeer-auth serve, spawned as a real process over a fresh data directory', () => {
  const data = makeDataDir();
  let serve: ServeProcess;
  let password = '';
  const issuedRefreshTokens: string[] = [];
  let first: TokenResponse;

  before(async () => {
    serve = await startServe({ dataDir: data.dir });
  });

  after(async () => {
    await serve?.stop('SIGKILL');
    data.cleanup();
  });

  test('the first start creates "antpeer-client" and prints its generated password once', async () => {
    const match = await serve.waitForStdout(GENERATED);
    password = match[1] ?? '';
    assert.ok(password.length >= 16, 'the generated password is long enough');
    assert.ok(serve.stdout().includes(CREATED));
    assert.equal(serve.stdout().split(password).length - 1, 1, 'the password appears exactly once on stdout');
    assert.equal(serve.stderr().includes(password), false);
  });

  test("the page's token request answers every field of the contract with no-store headers", async () => {
    const response = await fetch(serve.tokenUrl, {
      method: 'POST',
      headers: { 'Content-type': 'application/json' },
      body: JSON.stringify({ username: 'antpeer-client', password }),
    });
    assert.equal(response.status, 200);
    assertNoStore(response.headers);
    const body: unknown = await response.json();
    assertTokenResponse(body);
    first = body;
    issuedRefreshTokens.push(body.refresh_token);
  });

  test("the page's refresh request rotates the refresh token and keeps the session", async () => {
    const response = await fetch(serve.tokenUrl, {
      method: 'POST',
      headers: { 'Content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: first.refresh_token, grant_type: 'refresh_token' }),
    });
    assert.equal(response.status, 200);
    assertNoStore(response.headers);
    const body: unknown = await response.json();
    assertTokenResponse(body);
    assert.notEqual(body.refresh_token, first.refresh_token);
    assert.notEqual(body.access_token, first.access_token);
    assert.equal(body.session_state, first.session_state);
    issuedRefreshTokens.push(body.refresh_token);
  });

  test('an access token verifies against the published JWKS with the default issuer', async () => {
    const certs = await fetch(`${serve.origin}${BASE_PATH}/auth/certs`);
    assert.equal(certs.status, 200);
    const jwks = (await certs.json()) as JSONWebKeySet;
    assert.ok(jwks.keys.length >= 1);
    const { payload, protectedHeader } = await jwtVerify(first.access_token, createLocalJWKSet(jwks), {
      issuer: `http://127.0.0.1:${serve.port}${BASE_PATH}`,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.ok(jwks.keys.some((key) => key.kid === protectedHeader.kid));
    assert.equal(payload.client_id, 'antpeer-client');
    assert.equal(payload.sid, first.session_state);
    assert.equal(typeof payload.sub, 'string');
    assert.equal(typeof payload.jti, 'string');
    assert.ok(payload.aud !== undefined);
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 900);
  });

  test('a wrong password answers 401 invalid_grant with no-store headers', async () => {
    const response = await postToken(serve.tokenUrl, { username: 'antpeer-client', password: `${password}x` });
    assert.equal(response.status, 401);
    assertNoStore(response.headers);
    assert.deepEqual(response.body, { error: 'invalid_grant', error_description: 'Invalid user credentials' });
  });

  test('/healthz and /readyz answer 200', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`${serve.origin}${path}`);
      assert.equal(response.status, 200, path);
      await response.arrayBuffer();
    }
  });

  test('the data directory holds antpeer.sqlite and a secret.key, both readable only by their owner', () => {
    for (const name of ['antpeer.sqlite', 'antpeer.sqlite-wal', 'secret.key']) {
      const file = statSync(join(data.dir, name));
      assert.ok(file.isFile(), name);
      assert.equal(file.mode & 0o777, 0o600, name);
    }
  });

  test('the database files hold neither a refresh token, the password, nor the server secret', () => {
    const bytes = databaseBytes(data.dir);
    // The search does see what was written: the username is stored as text.
    assert.ok(bytes.includes(Buffer.from('antpeer-client')));
    for (const token of issuedRefreshTokens) assertNotStored(bytes, token, 'a refresh token');
    assertNotStored(bytes, password, 'the password');
    assertNotStored(bytes, readFileSync(join(data.dir, 'secret.key'), 'utf8').trim(), 'the server secret');
  });

  test('SIGTERM shuts the server down with exit code 0', async () => {
    const exit = await serve.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
    // Checkpointed on close: still nothing secret in the files.
    const bytes = databaseBytes(data.dir);
    for (const token of issuedRefreshTokens) assertNotStored(bytes, token, 'a refresh token');
    assertNotStored(bytes, password, 'the password');
  });

  test('a second start over the same data directory prints no password and keeps the first one valid', async () => {
    serve = await startServe({ dataDir: data.dir });
    const token = await login(serve.tokenUrl, 'antpeer-client', password);
    assertTokenResponse(token);
    // The refresh token of the first run still works: tokens outlive a restart.
    const renewed = await refresh(serve.tokenUrl, issuedRefreshTokens.at(-1) as string);
    assert.equal(renewed.status, 200);
    assert.equal(serve.stdout().includes('Its password'), false);
    assert.equal(serve.stdout().includes('Created the first client application'), false);
    assert.equal(serve.stdout().includes(password), false);
    assert.deepEqual(await serve.stop('SIGTERM'), { code: 0, signal: null });
  });
});

describe('antpeer-auth serve with ANTPEER_BOOTSTRAP_USERNAME and ANTPEER_BOOTSTRAP_PASSWORD', () => {
  const data = makeDataDir();
  let serve: ServeProcess | undefined;

  after(async () => {
    await serve?.stop('SIGKILL');
    data.cleanup();
  });

  test('creates that client application, prints no password, and the page requests work with it', async () => {
    const credentials = { username: 'merchant-app', password: 'bootstrap password 42' };
    serve = await startServe({
      dataDir: data.dir,
      env: { ANTPEER_BOOTSTRAP_USERNAME: credentials.username, ANTPEER_BOOTSTRAP_PASSWORD: credentials.password },
    });
    await serve.waitForStdout(/Created the first client application "merchant-app"\./);
    assert.equal(serve.stdout().includes('Its password'), false);
    assert.equal(serve.stdout().includes(credentials.password), false);

    const token = await login(serve.tokenUrl, credentials.username, credentials.password);
    assertTokenResponse(token);
    const renewed = await refresh(serve.tokenUrl, token.refresh_token);
    assert.equal(renewed.status, 200);
    assertTokenResponse(renewed.body);

    // No antpeer-client was made beside it.
    const other = await postToken(serve.tokenUrl, { username: 'antpeer-client', password: credentials.password });
    assert.equal(other.status, 401);
    assert.equal(other.body.error, 'invalid_grant');
  });

  test('SIGINT shuts the server down with exit code 0', async () => {
    assert.ok(serve, 'started by the previous test');
    assert.deepEqual(await serve.stop('SIGINT'), { code: 0, signal: null });
  });
});

describe('antpeer-auth serve with a bad environment value', () => {
  const data = makeDataDir();
  after(() => data.cleanup());

  const cases: Array<[string, string, string]> = [
    ['PORT', 'abc', 'PORT'],
    ['ANTPEER_SESSION_IDLE', '-5', 'ANTPEER_SESSION_IDLE'],
    ['DATABASE_URL', 'mysql://x', 'DATABASE_URL'],
  ];
  for (const [name, value, named] of cases) {
    test(`${name}=${value} stops the process at start with a non-zero exit and a message naming ${named}`, async () => {
      const result = await runCli(['serve'], { dataDir: data.dir, env: { PORT: '0', [name]: value }, timeoutMs: 15_000 });
      assert.notEqual(result.code, 0);
      assert.equal(result.signal, null, 'it exits by itself, it is not killed');
      assert.match(result.stderr, new RegExp(`\\b${named}\\b`));
    });
  }
});
