import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { setDpopRequired } from '../../credentials/client-applications.js';
import { pino } from 'pino';
import { startServer } from '../../server.js';
import { CLIENT, startHarness, TEST_ACTOR, TEST_ARGON2, TOKEN_PATH, type Harness } from '../../test/harness.js';
import { makeProof, makeProofKey, type ProofKey } from '../../test/dpop.js';
import { BASE_PATH } from '../../test/http.js';

let h: Harness;
let key: ProofKey;
let other: ProofKey;

function tokenUrl(): string {
  return `${h.config.issuer}/auth/token`;
}

function proof(proofKey: ProofKey = key, extra: { nonce?: string; htm?: string; jti?: string } = {}): Promise<string> {
  return makeProof(proofKey, { htu: tokenUrl(), now: h.clock.now(), ...extra });
}

async function dpopLogin(proofKey: ProofKey = key) {
  return h.token(CLIENT, { dpop: await proof(proofKey) });
}

async function dpopRefresh(refreshToken: string, dpop?: string) {
  return h.token({ refresh_token: refreshToken, grant_type: 'refresh_token' }, dpop === undefined ? {} : { dpop });
}

async function auditKinds(): Promise<string[]> {
  return (await h.server.auth.store.audit.list({ limit: 50 })).map((event) => event.type);
}

describe('DPoP at the token endpoint (RFC 9449 §5)', () => {
  before(async () => {
    h = await startHarness();
    key = await makeProofKey('ES256');
    other = await makeProofKey('EdDSA');
  });
  after(() => h.close());

  it('a password grant with a valid proof gets an access token bound to the key, token_type DPoP', async () => {
    const response = await dpopLogin();
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<Record<string, unknown>>();
    assert.equal(body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(body.access_token as string).cnf, { jkt: key.jkt });
  });

  it('the form-encoded interface binds the same way', async () => {
    const form = new URLSearchParams({ grant_type: 'password', username: CLIENT.username, password: CLIENT.password });
    const response = await h.tokenForm(form.toString(), { dpop: await proof() });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json<{ token_type: string }>().token_type, 'DPoP');
  });

  it('a caller without a proof gets exactly the contract: a bearer token without cnf', async () => {
    const body = await h.login();
    assert.equal(body.token_type, 'bearer');
    assert.equal(decodeJwt(body.access_token).cnf, undefined);
  });

  it('a bound refresh token refreshes with the same key, and is refused (invalid_grant, audited) with another key or none', async () => {
    const login = (await dpopLogin()).json<{ refresh_token: string }>();
    const withOther = await dpopRefresh(login.refresh_token, await proof(other));
    assert.equal(withOther.statusCode, 400);
    assert.deepEqual(withOther.json(), { error: 'invalid_grant', error_description: 'DPoP key mismatch' });
    const without = await dpopRefresh(login.refresh_token);
    assert.equal(without.statusCode, 400);
    assert.equal(without.json<{ error: string }>().error, 'invalid_grant');
    assert.equal((await auditKinds()).filter((kind) => kind === 'dpop_key_mismatch').length, 2);

    const refreshed = await dpopRefresh(login.refresh_token, await proof());
    assert.equal(refreshed.statusCode, 200, refreshed.body);
    const next = refreshed.json<{ token_type: string; access_token: string; refresh_token: string }>();
    assert.equal(next.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(next.access_token).cnf, { jkt: key.jkt });
    // The successor is bound too: the binding lasts as long as the session.
    assert.equal((await dpopRefresh(next.refresh_token)).statusCode, 400);
    assert.equal((await dpopRefresh(next.refresh_token, await proof())).statusCode, 200);
  });

  it('a replayed proof is refused with invalid_dpop_proof', async () => {
    const once = await proof();
    assert.equal((await h.token(CLIENT, { dpop: once })).statusCode, 200);
    const replay = await h.token(CLIENT, { dpop: once });
    assert.equal(replay.statusCode, 400);
    assert.deepEqual(replay.json(), { error: 'invalid_dpop_proof', error_description: 'DPoP proof replayed' });
  });

  it('a proof for another method or URI, or too old, is refused with invalid_dpop_proof and starts no session', async () => {
    const before = (await h.server.auth.store.sessions.listActive(h.clock.now(), { limit: 1000 })).length;
    const bad: Array<[string, string]> = [
      [await proof(key, { htm: 'GET' }), 'DPoP proof htm does not match the request'],
      [await makeProof(key, { htu: `${h.config.issuer}/auth/revoke`, now: h.clock.now() }), 'DPoP proof htu does not match the request'],
      [await makeProof(key, { htu: tokenUrl(), now: h.clock.now() - 120_000 }), 'DPoP proof iat is outside the acceptance window'],
      ['not.a.proof', 'DPoP header missing, repeated, or not a compact JWS'],
    ];
    for (const [dpop, description] of bad) {
      const response = await h.token(CLIENT, { dpop });
      assert.equal(response.statusCode, 400, dpop);
      assert.deepEqual(response.json(), { error: 'invalid_dpop_proof', error_description: description });
    }
    assert.equal((await h.server.auth.store.sessions.listActive(h.clock.now(), { limit: 1000 })).length, before);
  });

  it('metadata advertises the accepted proof algorithms', async () => {
    const response = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/.well-known/oauth-authorization-server` });
    assert.deepEqual(response.json<Record<string, unknown>>().dpop_signing_alg_values_supported, ['EdDSA', 'Ed25519', 'ES256', 'PS256', 'RS256']);
  });

  it('a bound access token passes the gateway only with a proof, and is refused as a bearer token with a DPoP challenge', async () => {
    const login = (await dpopLogin()).json<{ access_token: string }>();
    const url = `${BASE_PATH}/user/accounts`;
    const htu = `http://localhost:80${url}`;
    const asBearer = await h.server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${login.access_token}` } });
    assert.equal(asBearer.statusCode, 401);
    assert.match(String(asBearer.headers['www-authenticate']), /^DPoP .*error="invalid_token"/);
    const dpop = await makeProof(key, { htm: 'GET', htu, now: h.clock.now(), accessToken: login.access_token });
    const withProof = await h.server.app.inject({ method: 'GET', url, headers: { authorization: `DPoP ${login.access_token}`, dpop } });
    assert.notEqual(withProof.statusCode, 401, withProof.body);
    const replayed = await h.server.app.inject({ method: 'GET', url, headers: { authorization: `DPoP ${login.access_token}`, dpop } });
    assert.equal(replayed.statusCode, 401);
    assert.match(String(replayed.headers['www-authenticate']), /error="invalid_dpop_proof"/);
  });

  it('forward auth checks the proof against the original method and URI the proxy names', async () => {
    const login = (await dpopLogin()).json<{ access_token: string }>();
    const headers = { authorization: `DPoP ${login.access_token}`, 'x-original-method': 'DELETE', 'x-original-uri': '/api/accounts/7?x=1' };
    const good = await makeProof(key, { htm: 'DELETE', htu: 'http://localhost:80/api/accounts/7', now: h.clock.now(), accessToken: login.access_token });
    const allowed = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/auth/verify`, headers: { ...headers, dpop: good } });
    assert.equal(allowed.statusCode, 200, allowed.body);
    const wrong = await makeProof(key, { htm: 'GET', htu: 'http://localhost:80/api/accounts/7', now: h.clock.now(), accessToken: login.access_token });
    const refused = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/auth/verify`, headers: { ...headers, dpop: wrong } });
    assert.equal(refused.statusCode, 401);
  });
});

describe('a client application that must use DPoP (users require-dpop)', () => {
  before(async () => {
    h = await startHarness();
    key = await makeProofKey('ES256');
  });
  after(() => h.close());

  it('its grants without a proof are refused, and so are refreshes of sessions started before', async () => {
    const earlier = await h.login();
    const user = await h.server.auth.store.users.findByUsername(CLIENT.username);
    await setDpopRequired(h.server.auth, TEST_ACTOR, user!, true);
    assert.ok((await auditKinds()).includes('dpop_required'));

    const login = await h.token(CLIENT);
    assert.equal(login.statusCode, 400);
    assert.deepEqual(login.json(), { error: 'invalid_dpop_proof', error_description: 'DPoP proof required' });
    const refresh = await h.refresh(earlier.refresh_token);
    assert.equal(refresh.statusCode, 400);
    assert.equal(refresh.json<{ error: string }>().error, 'invalid_dpop_proof');
    assert.equal((await dpopLogin()).statusCode, 200);

    await setDpopRequired(h.server.auth, TEST_ACTOR, user!, false);
    assert.equal((await h.token(CLIENT)).statusCode, 200);
  });
});

describe('server nonces (ANTPEER_DPOP_NONCE=on, RFC 9449 §8)', () => {
  before(async () => {
    h = await startHarness({ ANTPEER_DPOP_NONCE: 'on', ANTPEER_DPOP_PROOF_MAX_AGE: '60' });
    key = await makeProofKey('ES256');
  });
  after(() => h.close());

  it('a proof without the nonce gets 400 use_dpop_nonce with DPoP-Nonce; the retry with it succeeds; a nonce expires', async () => {
    const first = await h.token(CLIENT, { dpop: await proof() });
    assert.equal(first.statusCode, 400);
    assert.equal(first.json<{ error: string }>().error, 'use_dpop_nonce');
    const nonce = String(first.headers['dpop-nonce']);
    assert.ok(nonce.length > 0);
    const retry = await h.token(CLIENT, { dpop: await proof(key, { nonce }) });
    assert.equal(retry.statusCode, 200, retry.body);
    assert.ok(typeof retry.headers['dpop-nonce'] === 'string');

    h.clock.advance(121_000);
    const stale = await h.token(CLIENT, { dpop: await proof(key, { nonce }) });
    assert.equal(stale.json<{ error: string }>().error, 'use_dpop_nonce');
    assert.notEqual(stale.headers['dpop-nonce'], nonce);
  });

  it('callers without DPoP are not asked for a nonce', async () => {
    assert.equal((await h.token(CLIENT)).statusCode, 200);
    assert.equal((await h.server.app.inject({ method: 'POST', url: TOKEN_PATH, payload: CLIENT })).statusCode, 200);
  });
});

describe('replayed proofs across instances', () => {
  before(async () => {
    h = await startHarness();
    key = await makeProofKey('ES256');
  });
  after(() => h.close());

  it('a proof accepted by one instance is refused by another on the same store, at the token endpoint and the gateway', async () => {
    const second = await startServer(h.config, { clock: h.clock, logger: pino({ level: 'silent' }), argon2: TEST_ARGON2, listen: false });
    try {
      const once = await proof();
      assert.equal((await h.token(CLIENT, { dpop: once })).statusCode, 200);
      const elsewhere = await second.app.inject({
        method: 'POST',
        url: TOKEN_PATH,
        payload: CLIENT,
        headers: { 'content-type': 'application/json', dpop: once },
      });
      assert.equal(elsewhere.statusCode, 400);
      assert.equal(elsewhere.json<{ error: string }>().error, 'invalid_dpop_proof');

      const login = (await dpopLogin()).json<{ access_token: string }>();
      const url = `${BASE_PATH}/user/accounts`;
      const headers = {
        authorization: `DPoP ${login.access_token}`,
        dpop: await makeProof(key, { htm: 'GET', htu: `http://localhost:80${url}`, now: h.clock.now(), accessToken: login.access_token }),
      };
      assert.notEqual((await h.server.app.inject({ method: 'GET', url, headers })).statusCode, 401);
      assert.equal((await second.app.inject({ method: 'GET', url, headers })).statusCode, 401);
    } finally {
      await second.close();
    }
  });
});
