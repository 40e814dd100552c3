import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BASE, CLIENT, TEST_ACTOR, startHarness, type Harness } from '../test/harness.js';
import { addClientApplication, setIntrospection } from '../credentials/client-applications.js';
import { pushNotBefore } from './not-before.js';

const SECOND = 1000;

function post(h: Harness, path: string, payload: Record<string, string>, headers: Record<string, string> = {}) {
  return h.server.app.inject({
    method: 'POST',
    url: `${BASE}${path}`,
    remoteAddress: '203.0.113.50',
    headers: { 'content-type': 'application/json', 'user-agent': 'trail-test/1.0', ...headers },
    payload: JSON.stringify(payload),
  });
}

async function events(h: Harness, type: string) {
  return h.server.auth.store.audit.list({ type, limit: 100 });
}

describe('session endings leave a trace', () => {
  it('a replay inside the grace window is recorded with its source and user agent', async () => {
    const h = await startHarness();
    try {
      const login = await h.login();
      assert.equal((await post(h, '/auth/token', { refresh_token: login.refresh_token, grant_type: 'refresh_token' })).statusCode, 200);
      assert.equal((await post(h, '/auth/token', { refresh_token: login.refresh_token, grant_type: 'refresh_token' })).statusCode, 200);
      const [replay] = await events(h, 'refresh_token_replay');
      assert.equal(replay?.sessionId, login.session_state);
      assert.equal(replay?.sourceAddress, '203.0.113.50');
      assert.equal(replay?.userAgent, 'trail-test/1.0');
    } finally {
      await h.close();
    }
  });

  for (const path of ['/auth/revoke', '/auth/logout']) {
    it(`an old, no longer live refresh token sent to ${path} ends the session and is recorded`, async () => {
      const h = await startHarness();
      try {
        const login = await h.login();
        await h.refresh(login.refresh_token);
        h.clock.advance(60 * SECOND);
        const body: Record<string, string> = path === '/auth/revoke' ? { token: login.refresh_token } : { refresh_token: login.refresh_token };
        const response = await post(h, path, body);
        assert.ok(response.statusCode === 200 || response.statusCode === 204, response.body);
        assert.notEqual((await h.server.auth.store.sessions.get(login.session_state))?.endedAt, null);
        const [event] = await events(h, path === '/auth/revoke' ? 'session_revoked' : 'session_logout');
        assert.equal(event?.sessionId, login.session_state);
        assert.equal(event?.sourceAddress, '203.0.113.50');
        assert.equal(event?.userAgent, 'trail-test/1.0');
        assert.match(event?.detail ?? '', /no longer live/);
      } finally {
        await h.close();
      }
    });
  }
});

describe('same-second revocation', () => {
  it('an access token issued earlier in the same second as the not-before policy is refused everywhere', async () => {
    const h = await startHarness();
    try {
      const start = Math.ceil(h.clock.now() / SECOND) * SECOND;
      h.clock.advance(start - h.clock.now() + 300);
      const login = await h.login();
      h.clock.advance(100);
      await pushNotBefore(h.server.auth, TEST_ACTOR);
      h.clock.advance(SECOND);
      const basic = `Basic ${Buffer.from(`${CLIENT.username}:${CLIENT.password}`).toString('base64')}`;
      const introspection = await post(h, '/auth/introspect', { token: login.access_token }, { authorization: basic });
      assert.deepEqual(introspection.json(), { active: false });
      const gateway = await h.server.app.inject({ method: 'GET', url: `${BASE}/payments`, headers: { authorization: `Bearer ${login.access_token}` } });
      assert.equal(gateway.statusCode, 401);
      assert.equal((await h.refresh(login.refresh_token)).json<{ error_description: string }>().error_description, 'Stale token');
      const after = await h.login();
      const fresh = await post(h, '/auth/introspect', { token: after.access_token }, { authorization: basic });
      assert.equal(fresh.json<{ active: boolean }>().active, true, 'a token issued after the policy is accepted');
    } finally {
      await h.close();
    }
  });

  it('tokens issued after the policy, within the second it rounds up to, are accepted everywhere', async () => {
    const h = await startHarness();
    try {
      const start = Math.ceil(h.clock.now() / SECOND) * SECOND;
      h.clock.advance(start - h.clock.now() + 300);
      await pushNotBefore(h.server.auth, TEST_ACTOR);
      h.clock.advance(100);
      const login = await h.login();
      const basic = `Basic ${Buffer.from(`${CLIENT.username}:${CLIENT.password}`).toString('base64')}`;
      const introspection = await post(h, '/auth/introspect', { token: login.access_token }, { authorization: basic });
      assert.equal(introspection.json<{ active: boolean }>().active, true);
      const gateway = await h.server.app.inject({ method: 'GET', url: `${BASE}/payments`, headers: { authorization: `Bearer ${login.access_token}` } });
      assert.notEqual(gateway.statusCode, 401);
      const refreshed = await h.refresh(login.refresh_token);
      assert.equal(refreshed.statusCode, 200, refreshed.body);
    } finally {
      await h.close();
    }
  });
});

describe('introspection across client applications (RFC 7662 §4)', () => {
  it("a client application sees its own tokens active, another's inactive, unless granted the permission", async () => {
    const h = await startHarness();
    try {
      const other = { username: 'resource-server', password: 'another long password' };
      const { user } = await addClientApplication(h.server.auth, TEST_ACTOR, other.username, other.password);
      const login = await h.login();
      const basic = `Basic ${Buffer.from(`${other.username}:${other.password}`).toString('base64')}`;
      for (const token of [login.access_token, login.refresh_token]) {
        assert.deepEqual((await post(h, '/auth/introspect', { token }, { authorization: basic })).json(), { active: false });
      }
      await setIntrospection(h.server.auth, TEST_ACTOR, user, true);
      for (const token of [login.access_token, login.refresh_token]) {
        const body = (await post(h, '/auth/introspect', { token }, { authorization: basic })).json<{ active: boolean; username: string }>();
        assert.equal(body.active, true);
        assert.equal(body.username, CLIENT.username);
      }
      const [granted] = await events(h, 'introspection_granted');
      assert.equal(granted?.userId, user.id);
    } finally {
      await h.close();
    }
  });
});

describe('active sessions per client application', () => {
  it('a login past the bound is refused with a clear error and audited; live sessions are never ended to make room', async () => {
    const h = await startHarness({ ANTPEER_MAX_SESSIONS_PER_CLIENT: '2' });
    try {
      const first = await h.login();
      const second = await h.login();
      const refused = await h.token(CLIENT);
      assert.equal(refused.statusCode, 400);
      assert.deepEqual(refused.json(), { error: 'invalid_grant', error_description: 'Too many active sessions' });
      assert.equal((await h.refresh(first.refresh_token)).statusCode, 200, 'the first session lives on');
      assert.equal((await h.refresh(second.refresh_token)).statusCode, 200, 'the second session lives on');
      assert.equal((await events(h, 'session_limit_reached')).length, 1);
    } finally {
      await h.close();
    }
  });

  it('ended and expired sessions make room again', async () => {
    const h = await startHarness({ ANTPEER_MAX_SESSIONS_PER_CLIENT: '1', ANTPEER_SESSION_IDLE: '60' });
    try {
      const first = await h.login();
      assert.equal((await h.token(CLIENT)).statusCode, 400);
      await post(h, '/auth/logout', { refresh_token: first.refresh_token });
      const second = await h.login();
      assert.ok(second.access_token);
      h.clock.advance(60 * SECOND);
      assert.ok((await h.login()).access_token, 'an idle-expired session no longer counts');
    } finally {
      await h.close();
    }
  });
});

describe('logins leave a trace', () => {
  it('success, failure, the lockout that starts and the refusals that follow are recorded with source and user agent', async () => {
    const h = await startHarness({ ANTPEER_LOCKOUT_THRESHOLD: '2', ANTPEER_SOURCE_FAILURE_LIMIT: '1000' });
    try {
      const login = await post(h, '/auth/token', CLIENT);
      assert.equal(login.statusCode, 200);
      for (let i = 0; i < 3; i++) await post(h, '/auth/token', { username: CLIENT.username, password: `wrong ${i} wrong wrong` });
      const trail = await h.server.auth.store.audit.list({ limit: 100 });
      assert.deepEqual(
        trail.map((event) => event.type).reverse(),
        ['user_added', 'user_added', 'login_succeeded', 'login_failed', 'login_failed', 'lockout_started', 'login_locked'],
      );
      const succeeded = trail.find((event) => event.type === 'login_succeeded');
      assert.equal(succeeded?.sessionId, login.json<{ session_state: string }>().session_state);
      for (const event of trail.filter((e) => e.type.startsWith('login') || e.type === 'lockout_started')) {
        assert.equal(event.sourceAddress, '203.0.113.50');
        assert.equal(event.userAgent, 'trail-test/1.0');
        assert.doesNotMatch(JSON.stringify(event), /wrong \d|correct horse/, 'no password in the trail');
      }
    } finally {
      await h.close();
    }
  });
});
