import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { disableUser } from '../test/admin.js';
import { BASE, CLIENT, TEST_ACTOR, startHarness, type Harness, type TokenBody } from '../test/harness.js';
import { addClientApplication } from '../credentials/client-applications.js';
import { pushNotBefore } from '../sessions/not-before.js';

const SECOND = 1000;

async function refreshOk(h: Harness, token: string): Promise<TokenBody> {
  const response = await h.refresh(token);
  assert.equal(response.statusCode, 200, response.body);
  return response.json<TokenBody>();
}

async function refreshError(h: Harness, token: string): Promise<string> {
  const response = await h.refresh(token);
  assert.equal(response.statusCode, 400, response.body);
  return response.json<{ error_description: string }>().error_description;
}

describe('sessions: idle timeout and max lifetime', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('slides the idle timeout on every refresh', async () => {
    let body = await h.login();
    for (let i = 0; i < 4; i++) {
      h.clock.advance(1700 * SECOND);
      body = await refreshOk(h, body.refresh_token);
      assert.equal(body.refresh_expires_in, 1800);
    }
  });

  it('ends the session when it sits idle past the idle timeout', async () => {
    const body = await h.login();
    h.clock.advance(1799 * SECOND);
    const next = await refreshOk(h, body.refresh_token);
    h.clock.advance(1800 * SECOND);
    assert.equal(await refreshError(h, next.refresh_token), 'Token is not active');
  });

  it('never slides past the max lifetime: refresh_expires_in and expires_in shrink to what is left', async () => {
    // 36000 s max: refresh every 1500 s, 23 times (34500 s), then once more at 35500 s.
    const fresh = await h.login();
    let token = fresh.refresh_token;
    for (let i = 0; i < 23; i++) {
      h.clock.advance(1500 * SECOND);
      token = (await refreshOk(h, token)).refresh_token;
    }
    h.clock.advance(1000 * SECOND); // 35500 s since login
    const late = await refreshOk(h, token);
    assert.equal(late.refresh_expires_in, 500);
    assert.equal(late.expires_in, 500);
    h.clock.advance(500 * SECOND);
    assert.equal(await refreshError(h, late.refresh_token), 'Token is not active');
  });
});

describe('sessions: max lifetime shorter than the access token', () => {
  it('caps expires_in and refresh_expires_in by the session max lifetime', async () => {
    const h = await startHarness({ ANTPEER_SESSION_MAX: '600', ANTPEER_SESSION_IDLE: '600' });
    try {
      const body = await h.login();
      assert.equal(body.expires_in, 600);
      assert.equal(body.refresh_expires_in, 600);
      h.clock.advance(400 * SECOND);
      const next = await refreshOk(h, body.refresh_token);
      assert.equal(next.expires_in, 200);
      assert.equal(next.refresh_expires_in, 200);
    } finally {
      await h.close();
    }
  });
});

describe('refresh rotation: grace window and reuse detection', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('a retry of the previous token within the grace window gets the same new refresh token', async () => {
    const login = await h.login();
    const first = await refreshOk(h, login.refresh_token);
    h.clock.advance(9 * SECOND);
    const retry = await refreshOk(h, login.refresh_token);
    assert.equal(retry.refresh_token, first.refresh_token);
    assert.equal(retry.session_state, first.session_state);
    // the converged token is live: it rotates normally
    const next = await refreshOk(h, retry.refresh_token);
    assert.notEqual(next.refresh_token, retry.refresh_token);
  });

  it('the previous token after its successor was used is reuse, and revokes the session', async () => {
    const login = await h.login();
    const first = await refreshOk(h, login.refresh_token);
    const second = await refreshOk(h, first.refresh_token);
    // login's successor (first) has been used, so login's token no longer converges
    assert.equal(await refreshError(h, login.refresh_token), 'Refresh token reuse detected');
    assert.equal(await refreshError(h, second.refresh_token), 'Session not active');
  });

  const fromThief = (token: string) =>
    h.token({ refresh_token: token, grant_type: 'refresh_token' }, { 'user-agent': 'stolen-token-replayer/1.0' });

  it('the previous token after the grace window, from another source, is reuse', async () => {
    const login = await h.login();
    const first = await refreshOk(h, login.refresh_token);
    h.clock.advance(10 * SECOND + 1);
    assert.equal((await fromThief(login.refresh_token)).json<{ error_description: string }>().error_description, 'Refresh token reuse detected');
    assert.equal(await refreshError(h, first.refresh_token), 'Session not active');
  });

  it('the previous token after the grace window, from the source that rotated it, converges: a slow answer is not theft', async () => {
    const login = await h.login();
    const first = await refreshOk(h, login.refresh_token);
    h.clock.advance(60 * SECOND);
    const retry = await refreshOk(h, login.refresh_token);
    assert.equal(retry.refresh_token, first.refresh_token);
    await refreshOk(h, retry.refresh_token);
    assert.equal(await refreshError(h, login.refresh_token), 'Refresh token reuse detected', 'once the successor is used, it is reuse');
  });

  it('a retry of the previous token converges again while its successor is still unused', async () => {
    const login = await h.login();
    const first = await refreshOk(h, login.refresh_token);
    const second = await refreshOk(h, first.refresh_token);
    const retry = await refreshOk(h, first.refresh_token);
    assert.equal(retry.refresh_token, second.refresh_token);
  });

  it('reuse records an audit event with the source address and user agent', async () => {
    const login = await h.login();
    await refreshOk(h, login.refresh_token);
    h.clock.advance(11 * SECOND);
    const response = await h.token(
      { refresh_token: login.refresh_token, grant_type: 'refresh_token' },
      { 'user-agent': 'stolen-token-replayer/1.0' },
    );
    assert.equal(response.statusCode, 400);
    const [event] = await h.server.auth.store.audit.list({ limit: 1 });
    assert.equal(event?.type, 'refresh_token_reuse');
    assert.equal(event?.sessionId, login.session_state);
    assert.equal(event?.userAgent, 'stolen-token-replayer/1.0');
    assert.equal(event?.sourceAddress, '127.0.0.1');
    assert.doesNotMatch(JSON.stringify(event), new RegExp(login.refresh_token));
  });

  it('reuse leaves other sessions of the same client application alone', async () => {
    const victim = await h.login();
    const bystander = await h.login();
    await refreshOk(h, victim.refresh_token);
    h.clock.advance(11 * SECOND);
    assert.equal((await fromThief(victim.refresh_token)).statusCode, 400);
    await refreshOk(h, bystander.refresh_token);
  });
});

describe('refresh rotation with grace 0', () => {
  it('is strict single use: any second presentation is reuse', async () => {
    const h = await startHarness({ ANTPEER_REFRESH_GRACE: '0' });
    try {
      const login = await h.login();
      await refreshOk(h, login.refresh_token);
      assert.equal(await refreshError(h, login.refresh_token), 'Refresh token reuse detected');
    } finally {
      await h.close();
    }
  });
});

describe('not-before policy', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await addClientApplication(h.server.auth, TEST_ACTOR, 'other-app', 'another long password');
  });
  after(() => h.close());

  it('realm-wide: refuses older refresh tokens and reports the policy time in new answers', async () => {
    const before = await h.login();
    h.clock.advance(SECOND);
    const at = await pushNotBefore(h.server.auth, TEST_ACTOR);
    h.clock.advance(SECOND);
    assert.equal(await refreshError(h, before.refresh_token), 'Stale token');
    const after = await h.login();
    assert.equal(after['not-before-policy'], Math.floor(at / 1000));
    await refreshOk(h, after.refresh_token);
  });

  it('per user: refuses that user’s older tokens only', async () => {
    const mine = await h.login();
    const otherLogin = await h.token({ username: 'other-app', password: 'another long password' });
    const theirs = otherLogin.json<TokenBody>();
    h.clock.advance(SECOND);
    const user = await h.server.auth.store.users.findByUsername(CLIENT.username);
    const at = await pushNotBefore(h.server.auth, TEST_ACTOR, user?.id);
    h.clock.advance(SECOND);
    assert.equal(await refreshError(h, mine.refresh_token), 'Stale token');
    await refreshOk(h, theirs.refresh_token);
    const again = await h.login();
    assert.equal(again['not-before-policy'], Math.floor(at / 1000));
  });
});

describe('sessions end at once', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const logout = (token: unknown, contentType = 'application/json') =>
    h.server.app.inject({
      method: 'POST',
      url: `${BASE}/auth/logout`,
      headers: { 'content-type': contentType },
      payload: contentType === 'application/json' ? JSON.stringify({ refresh_token: token }) : `refresh_token=${String(token)}`,
    });

  it('logout ends the session; the refresh token is then refused', async () => {
    const body = await h.login();
    const response = await logout(body.refresh_token);
    assert.equal(response.statusCode, 204);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(await refreshError(h, body.refresh_token), 'Session not active');
  });

  it('logout accepts the form encoding', async () => {
    const body = await h.login();
    assert.equal((await logout(body.refresh_token, 'application/x-www-form-urlencoded')).statusCode, 204);
  });

  it('logout of an ended session, an unknown token or no token is a 400', async () => {
    const body = await h.login();
    await logout(body.refresh_token);
    assert.equal((await logout(body.refresh_token)).json<{ error_description: string }>().error_description, 'Session not active');
    const unknown = await logout('B'.repeat(43));
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json<{ error_description: string }>().error_description, 'Invalid refresh token');
    const missing = await logout(undefined);
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json<{ error: string }>().error, 'invalid_request');
  });

  it('disabling the client application ends its sessions', async () => {
    const body = await h.login();
    await disableUser(h, CLIENT.username);
    try {
      assert.equal(await refreshError(h, body.refresh_token), 'Session not active');
    } finally {
      await disableUser(h, CLIENT.username, true);
    }
    assert.equal(await refreshError(h, body.refresh_token), 'Session not active', 're-enabling does not revive sessions');
  });

  it('admin revocation ends the session', async () => {
    const body = await h.login();
    await h.server.auth.store.sessions.end(body.session_state, 'revoked', h.clock.now());
    assert.equal(await refreshError(h, body.refresh_token), 'Session not active');
  });
});

describe('concurrent refreshes of one token', () => {
  it('50 concurrent requests over real HTTP produce one rotation and all get the same new token', async () => {
    const h = await startHarness({}, { listen: true });
    try {
      const login = await h.login();
      const address = h.server.app.server.address();
      assert.ok(address && typeof address === 'object');
      const url = `http://127.0.0.1:${address.port}${BASE}/auth/token`;
      const responses = await Promise.all(
        Array.from({ length: 50 }, () =>
          fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ refresh_token: login.refresh_token, grant_type: 'refresh_token' }),
          }),
        ),
      );
      const bodies = await Promise.all(responses.map((r) => r.json() as Promise<TokenBody>));
      assert.deepEqual(responses.map((r) => r.status), Array(50).fill(200));
      const tokens = new Set(bodies.map((b) => b.refresh_token));
      assert.equal(tokens.size, 1, 'every answer carries the same new refresh token');
      const [successor] = [...tokens] as [string];
      const { refreshTokens, store } = h.server.auth;
      const session = await store.sessions.get(login.session_state);
      assert.deepEqual(refreshTokens.read(successor), { sessionId: login.session_state, generation: 1, jkt: null });
      assert.equal(session?.generation, 1, 'the one new token is the live one: the session rotated once');
      // one rotation: the successor's successor is what the next refresh yields
      const next = await refreshOk(h, successor);
      assert.equal(next.refresh_token, refreshTokens.mint(login.session_state, 2));
    } finally {
      await h.close();
    }
  });
});
