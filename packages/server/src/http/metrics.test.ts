import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AUDIT_KINDS } from '../audit/kinds.js';
import { addClientApplication } from '../credentials/client-applications.js';
import { CLIENT, TEST_ACTOR, startHarness, type Harness } from '../test/harness.js';
import { BASE_PATH } from '../test/http.js';
import { MetricsProbe, parseExposition, sampleValue } from '../test/metrics.js';
import { startRecordingUpstream, type RecordingUpstream } from '../test/recording-upstream.js';
import { ACTIVE_SESSIONS_MAX_AGE_MS } from './metrics.js';

const AUDIT = 'antpeer_audit_events_total';
const RESPONSES = 'antpeer_http_responses_total';
const GATEWAY = 'antpeer_gateway_requests_total';
const FORWARD_AUTH = 'antpeer_forward_auth_requests_total';

/** A probe on the text the metrics listener serves (the registry's exposition). */
function probe(h: Harness): MetricsProbe {
  return new MetricsProbe(() => h.server.metrics.registry.metrics());
}

describe('metrics of the token endpoint', () => {
  it('every audit kind is exposed from the start, at zero, so that an alert sees the first event', async () => {
    const h = await startHarness();
    try {
      const samples = parseExposition(await h.server.metrics.registry.metrics());
      for (const kind of Object.keys(AUDIT_KINDS)) {
        assert.ok(samples.some((sample) => sample.name === AUDIT && sample.labels.kind === kind), kind);
      }
      assert.equal(sampleValue(samples, AUDIT, { kind: 'refresh_token_reuse' }), 0);
    } finally {
      await h.close();
    }
  });

  it('a converged retry counts one replay; an older refresh token counts one reuse detection, a 400 and an invalid_grant', async () => {
    const h = await startHarness();
    try {
      const login = await h.login();
      const first = (await h.refresh(login.refresh_token)).json<{ refresh_token: string }>();
      const p = probe(h);
      await p.mark();
      const retried = await h.refresh(login.refresh_token);
      assert.equal(retried.json<{ refresh_token: string }>().refresh_token, first.refresh_token);
      await p.read();
      assert.equal(p.change(AUDIT, { kind: 'refresh_token_replay' }), 1);
      assert.equal(p.changeOfAll(AUDIT), 1);

      await h.refresh(first.refresh_token);
      await p.mark();
      const reused = await h.refresh(login.refresh_token);
      assert.equal(reused.json<{ error_description: string }>().error_description, 'Refresh token reuse detected');
      await p.read();
      assert.equal(p.change(AUDIT, { kind: 'refresh_token_reuse' }), 1);
      assert.equal(p.changeOfAll(AUDIT), 1);
      assert.equal(p.change('antpeer_token_grants_total', { grant: 'refresh_token', outcome: 'invalid_grant' }), 1);
      assert.equal(p.change(RESPONSES, { route: '/auth/token', status: '400' }), 1);
      assert.equal(p.changeOfAll(RESPONSES), 1);
    } finally {
      await h.close();
    }
  });

  it('the failure that reaches the lockout threshold starts one lockout; a login while locked is counted as refused', async () => {
    const h = await startHarness({ ANTPEER_LOCKOUT_THRESHOLD: '2' });
    try {
      const p = probe(h);
      await p.mark();
      for (let i = 0; i < 2; i += 1) assert.equal((await h.token({ ...CLIENT, password: 'wrong' })).statusCode, 401);
      await p.read();
      assert.equal(p.change(AUDIT, { kind: 'login_failed' }), 2);
      assert.equal(p.change(AUDIT, { kind: 'lockout_started' }), 1);
      await p.mark();
      assert.equal((await h.token(CLIENT)).statusCode, 401, 'the right password, but locked');
      await p.read();
      assert.equal(p.change(AUDIT, { kind: 'login_locked' }), 1);
      assert.equal(p.change(AUDIT, { kind: 'lockout_started' }), 0);
      assert.equal(p.change(RESPONSES, { route: '/auth/token', status: '401' }), 1);
    } finally {
      await h.close();
    }
  });

  it('a 429 is counted by route, and a login over ANTPEER_MAX_SESSIONS_PER_CLIENT as one session-limit refusal', async () => {
    const h = await startHarness({ ANTPEER_SOURCE_FAILURE_LIMIT: '2', ANTPEER_MAX_SESSIONS_PER_CLIENT: '1' });
    try {
      const p = probe(h);
      await p.mark();
      await h.login();
      const refused = await h.token(CLIENT);
      assert.equal(refused.json<{ error_description: string }>().error_description, 'Too many active sessions');
      await p.read();
      assert.equal(p.change(AUDIT, { kind: 'session_limit_reached' }), 1);
      assert.equal(p.change(AUDIT, { kind: 'login_succeeded' }), 1);

      await p.mark();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await h.refresh(`not-a-token-${i}`)).statusCode);
      assert.deepEqual(statuses, [400, 400, 429]);
      await p.read();
      assert.equal(p.change(RESPONSES, { route: '/auth/token', status: '429' }), 1);
      assert.equal(p.change(RESPONSES, { route: '/auth/token', status: '400' }), 2);
      assert.equal(p.change('antpeer_token_grants_total', { grant: 'refresh_token', outcome: 'too_many_requests' }), 1);
    } finally {
      await h.close();
    }
  });
});

describe('metrics of application endpoints', () => {
  let h: Harness;
  let upstream: RecordingUpstream;
  before(async () => {
    upstream = await startRecordingUpstream(() => ({ status: 200, body: '{}' }));
    h = await startHarness({ ANTPEER_UPSTREAM: `${upstream.url}/svc`, ANTPEER_GATEWAY_BODY_LIMIT: '1024' });
  });
  after(async () => {
    await h.close();
    await upstream.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => h.server.app.inject({ method: 'GET', url: `${BASE_PATH}${path}`, headers });

  it('a request without a token counts one missing_token rejection and nothing else', async () => {
    const p = probe(h);
    await p.mark();
    assert.equal((await get('/user/accounts')).statusCode, 401);
    await p.read();
    assert.equal(p.change(GATEWAY, { outcome: 'missing_token' }), 1);
    assert.equal(p.changeOfAll(GATEWAY), 1);
    assert.equal(p.change(RESPONSES, { route: '/*', status: '401' }), 1);
  });

  it('each refusal and each forwarded request counts once, under its own outcome (and the guard’s reason for an invalid token)', async () => {
    const login = await h.login();
    const bearer = { authorization: `Bearer ${login.access_token}` };
    const p = probe(h);
    await p.mark();
    assert.equal((await get('/user/accounts', bearer)).statusCode, 200);
    assert.equal((await get('/user//accounts', bearer)).statusCode, 400);
    const tooLarge = await h.server.app.inject({ method: 'POST', url: `${BASE_PATH}/upload`, headers: bearer, payload: 'x'.repeat(2048) });
    assert.equal(tooLarge.statusCode, 413);
    assert.equal((await get('/user/accounts', { authorization: 'Bearer abc.def.ghi' })).statusCode, 401);
    assert.equal((await get('/user/accounts', { authorization: 'Bearer' })).statusCode, 400);
    assert.equal((await get('/auth/token')).statusCode, 405);
    await p.read();
    assert.equal(p.change(GATEWAY, { outcome: 'forwarded' }), 1);
    assert.equal(p.change(GATEWAY, { outcome: 'bad_path' }), 1);
    assert.equal(p.change(GATEWAY, { outcome: 'body_too_large' }), 1);
    assert.equal(p.change(GATEWAY, { outcome: 'invalid_token', reason: 'malformed' }), 1);
    assert.equal(p.change(GATEWAY, { outcome: 'malformed_authorization' }), 1);
    assert.equal(p.change(GATEWAY, { outcome: 'method_not_allowed' }), 1);
    assert.equal(p.changeOfAll(GATEWAY), 6);

    await p.mark();
    h.clock.advance(h.config.accessTokenTtlMs);
    assert.equal((await get('/user/accounts', bearer)).statusCode, 401);
    await p.read();
    assert.equal(p.change(GATEWAY, { outcome: 'invalid_token', reason: 'expired' }), 1);
    assert.equal(p.changeOfAll(GATEWAY), 1);
  });

  it('a token whose session ended counts as session_inactive, at the gateway and at forward authentication', async () => {
    const login = await h.login();
    const bearer = { authorization: `Bearer ${login.access_token}` };
    await h.server.auth.store.sessions.end(login.session_state, 'revoked', h.clock.now());
    const p = probe(h);
    await p.mark();
    assert.equal((await get('/user/accounts', bearer)).statusCode, 401);
    assert.equal((await get('/auth/verify', bearer)).statusCode, 401);
    await p.read();
    assert.equal(p.change(GATEWAY, { outcome: 'session_inactive' }), 1);
    assert.equal(p.change(FORWARD_AUTH, { outcome: 'session_inactive' }), 1);
    assert.equal(p.changeOfAll(GATEWAY), 1);
    assert.equal(p.changeOfAll(FORWARD_AUTH), 1);
  });

  it('forward authentication counts each answer under its outcome, and never as a gateway request', async () => {
    const login = await h.login();
    const p = probe(h);
    await p.mark();
    assert.equal((await get('/auth/verify', { authorization: `Bearer ${login.access_token}` })).statusCode, 200);
    assert.equal((await get('/auth/verify/some/path')).statusCode, 401);
    assert.equal((await get('/auth/verify', { authorization: `Bearer ${login.access_token}x` })).statusCode, 401);
    assert.equal((await get('/auth/verify', { 'x-original-method': 'G E T' })).statusCode, 400);
    await p.read();
    assert.equal(p.change(FORWARD_AUTH, { outcome: 'allowed' }), 1);
    assert.equal(p.change(FORWARD_AUTH, { outcome: 'missing_token' }), 1);
    assert.equal(p.change(FORWARD_AUTH, { outcome: 'invalid_token', reason: 'signature' }), 1);
    assert.equal(p.change(FORWARD_AUTH, { outcome: 'bad_forwarded_header' }), 1);
    assert.equal(p.changeOfAll(FORWARD_AUTH), 4);
    assert.equal(p.changeOfAll(GATEWAY), 0);
    assert.equal(p.change(RESPONSES, { route: '/auth/verify', status: '200' }), 1);
    assert.equal(p.change(RESPONSES, { route: '/auth/verify/*', status: '401' }), 1);
  });
});

describe('metrics of the state', () => {
  it('count the active sessions and the busiest client’s, at most once per cache period', async () => {
    const h = await startHarness();
    try {
      const logins = [await h.login(), await h.login(), await h.login()];
      await addClientApplication(h.server.auth, TEST_ACTOR, 'other-app', 'another long password');
      assert.equal((await h.token({ username: 'other-app', password: 'another long password' })).statusCode, 200);
      await h.server.app.inject({
        method: 'POST',
        url: `${BASE_PATH}/auth/logout`,
        headers: { 'content-type': 'application/json' },
        payload: { refresh_token: logins[0]?.refresh_token },
      });
      const p = probe(h);
      await p.read();
      assert.equal(p.value('antpeer_sessions_active'), 3);
      assert.equal(p.value('antpeer_sessions_active_busiest_client'), 2);

      await h.login();
      await p.read();
      assert.equal(p.value('antpeer_sessions_active'), 3, 'a scrape within the cache period reuses the count');
      h.clock.advance(ACTIVE_SESSIONS_MAX_AGE_MS);
      await p.read();
      assert.equal(p.value('antpeer_sessions_active'), 4);
      assert.equal(p.value('antpeer_sessions_active_busiest_client'), 3);
    } finally {
      await h.close();
    }
  });

  it('the signing key’s age grows with the clock and starts again at a rotation', async () => {
    const h = await startHarness();
    try {
      const p = probe(h);
      await p.read();
      const age = p.value('antpeer_signing_key_age_seconds');
      h.clock.advance(90_000);
      await p.read();
      assert.equal(p.value('antpeer_signing_key_age_seconds'), age + 90);
      await h.server.auth.keys.rotate('EdDSA');
      await p.read();
      assert.equal(p.value('antpeer_signing_key_age_seconds'), 0);
    } finally {
      await h.close();
    }
  });
});
