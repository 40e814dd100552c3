import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { login, refresh, type TokenResponse } from './test/http.js';
import { makeDataDir, startServe, type ServeProcess } from './test/process.js';

const CLIENT = { username: 'durable-app', password: 'durability test password' };
const BOOTSTRAP = { ANTPEER_BOOTSTRAP_USERNAME: CLIENT.username, ANTPEER_BOOTSTRAP_PASSWORD: CLIENT.password };

/** SIGKILL: no shutdown hook runs, nothing is flushed or checkpointed. */
async function killHard(serve: ServeProcess): Promise<void> {
  const exit = await serve.stop('SIGKILL');
  assert.equal(exit.signal, 'SIGKILL');
}

function refreshTokenOf(response: { status: number; body: unknown }): string {
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return (response.body as TokenResponse).refresh_token;
}

describe('refresh tokens survive kill -9 of the server', () => {
  const running = new Set<ServeProcess>();
  const dirs: Array<{ cleanup(): void }> = [];

  async function start(dataDir: string, env: Record<string, string>): Promise<ServeProcess> {
    const serve = await startServe({ dataDir, env: { ...BOOTSTRAP, ...env } });
    running.add(serve);
    return serve;
  }

  function dataDir(): string {
    const data = makeDataDir();
    dirs.push(data);
    return data.dir;
  }

  after(async () => {
    await Promise.all([...running].map((serve) => serve.stop('SIGKILL')));
    dirs.forEach((data) => data.cleanup());
  });

  test('the delivered token works after kill -9 and the consumed one is a reuse that revokes the session', async () => {
    const dir = dataDir();
    const env = { ANTPEER_REFRESH_GRACE: '0', ANTPEER_SESSION_REFRESH_LIMIT: '100000' };
    let serve = await start(dir, env);
    const tokenA = (await login(serve.tokenUrl, CLIENT.username, CLIENT.password)).refresh_token;
    const tokenB = refreshTokenOf(await refresh(serve.tokenUrl, tokenA));
    await killHard(serve);

    serve = await start(dir, env);
    const tokenC = refreshTokenOf(await refresh(serve.tokenUrl, tokenB));

    const reuse = await refresh(serve.tokenUrl, tokenA);
    assert.equal(reuse.status, 400);
    assert.deepEqual(reuse.body, { error: 'invalid_grant', error_description: 'Refresh token reuse detected' });

    const afterReuse = await refresh(serve.tokenUrl, tokenC);
    assert.equal(afterReuse.status, 400);
    assert.deepEqual(afterReuse.body, { error: 'invalid_grant', error_description: 'Session not active' });
  });

  test('after many refreshes and kill -9, the last delivered token works and the one before it is consumed', async () => {
    const dir = dataDir();
    const env = { ANTPEER_REFRESH_GRACE: '0', ANTPEER_SESSION_REFRESH_LIMIT: '100000' };
    let serve = await start(dir, env);
    const tokens = [(await login(serve.tokenUrl, CLIENT.username, CLIENT.password)).refresh_token];
    for (let i = 0; i < 100; i += 1) tokens.push(refreshTokenOf(await refresh(serve.tokenUrl, tokens.at(-1) as string)));
    await killHard(serve);

    serve = await start(dir, env);
    const last = tokens.at(-1) as string;
    const next = refreshTokenOf(await refresh(serve.tokenUrl, last));
    assert.notEqual(next, last);
    const previous = await refresh(serve.tokenUrl, tokens.at(-2) as string);
    assert.equal(previous.status, 400);
    assert.deepEqual(previous.body, { error: 'invalid_grant', error_description: 'Refresh token reuse detected' });
  });

  test('a retry of the previous token after kill -9, within the grace window, converges on the token already delivered', async () => {
    const dir = dataDir();
    // A generous window: the restart happens in real time.
    const env = { ANTPEER_REFRESH_GRACE: '120' };
    let serve = await start(dir, env);
    const tokenA = (await login(serve.tokenUrl, CLIENT.username, CLIENT.password)).refresh_token;
    const tokenB = refreshTokenOf(await refresh(serve.tokenUrl, tokenA));
    await killHard(serve);

    serve = await start(dir, env);
    // The client never saw B (its response was lost) and retries with A.
    assert.equal(refreshTokenOf(await refresh(serve.tokenUrl, tokenA)), tokenB);
    // The session did not fork: B is still the one live token and rotates normally.
    const tokenC = refreshTokenOf(await refresh(serve.tokenUrl, tokenB));
    assert.notEqual(tokenC, tokenB);
  });
});
