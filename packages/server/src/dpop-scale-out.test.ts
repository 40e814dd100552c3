// DPoP (RFC 9449) on PostgreSQL, end to end: server processes of one deployment over one schema,
// real HTTP, proofs made with jose. What one instance bound, accepted or issued, every other
// instance honours: the key a session is bound to, the proofs already used, the nonces.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { makeProof, makeProofKey, type ProofKey } from './test/dpop.js';
import { call, fromSource, type Answer } from './test/http.js';
import { ISSUER, OWNER, SKIP_WITHOUT_DATABASE, deploymentEnv, dropSchema, newSecret, sql, uniqueSchema } from './test/postgres.js';
import { startServe, type ServeProcess } from './test/process.js';

const TOKEN_HTU = `${ISSUER}/auth/token`;

let sourceCounter = 0;
/** A source address of its own for each request, so no per-source limit is shared between tests. */
const nextSource = () => `203.0.113.${(sourceCounter += 1)}`;

function tokenRequest(instance: ServeProcess, body: Record<string, string>, dpop?: string): Promise<Answer> {
  return call('POST', instance.tokenUrl, body, { ...fromSource(nextSource()), ...(dpop === undefined ? {} : { dpop }) });
}

function proof(key: ProofKey, extra: { nonce?: string } = {}): Promise<string> {
  return makeProof(key, { htu: TOKEN_HTU, now: Date.now(), ...extra });
}

const PASSWORD_GRANT = { username: OWNER.username, password: OWNER.password };
const refreshBody = (refreshToken: unknown) => ({ grant_type: 'refresh_token', refresh_token: String(refreshToken) });

describe('DPoP across server processes over one PostgreSQL', { skip: SKIP_WITHOUT_DATABASE, concurrency: 1 }, () => {
  const schema = uniqueSchema();
  const nonceSchema = uniqueSchema();
  const secret = newSecret();
  let a: ServeProcess;
  let b: ServeProcess;
  let nonceA: ServeProcess;
  let nonceB: ServeProcess;
  let key: ProofKey;
  let other: ProofKey;

  before(async () => {
    [a, b, nonceA, nonceB, key, other] = await Promise.all([
      startServe({ env: deploymentEnv(schema, secret) }),
      startServe({ env: deploymentEnv(schema, secret) }),
      startServe({ env: deploymentEnv(nonceSchema, secret, { ANTPEER_DPOP_NONCE: 'on' }) }),
      startServe({ env: deploymentEnv(nonceSchema, secret, { ANTPEER_DPOP_NONCE: 'on' }) }),
      makeProofKey('ES256'),
      makeProofKey('EdDSA'),
    ]);
  });

  after(async () => {
    await Promise.all([a, b, nonceA, nonceB].map((instance) => instance?.stop('SIGKILL')));
    await Promise.all([dropSchema(schema), dropSchema(nonceSchema)]);
  });

  test('a session bound on one instance refreshes on the other only with its key; another key or none is refused and the session stays open', async () => {
    const login = await tokenRequest(a, PASSWORD_GRANT, await proof(key));
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.token_type, 'DPoP');

    const withOtherKey = await tokenRequest(b, refreshBody(login.body.refresh_token), await proof(other));
    assert.equal(withOtherKey.status, 400);
    assert.equal(withOtherKey.body.error, 'invalid_grant');
    const withoutProof = await tokenRequest(b, refreshBody(login.body.refresh_token));
    assert.equal(withoutProof.status, 400);
    assert.equal(withoutProof.body.error, 'invalid_grant');

    const refreshed = await tokenRequest(b, refreshBody(login.body.refresh_token), await proof(key));
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(refreshed.body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(String(refreshed.body.access_token)).cnf, { jkt: key.jkt });
    const again = await tokenRequest(a, refreshBody(refreshed.body.refresh_token), await proof(key));
    assert.equal(again.status, 200, 'the rotated token, bound to the same key, refreshes back on the first instance');

    const mismatches = await sql<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}".audit_events WHERE type = 'dpop_key_mismatch'`);
    assert.equal(mismatches[0]?.n, '2', 'both refused refreshes are in the shared audit trail');
  });

  test('a proof accepted by one instance is refused as a replay by the other', async () => {
    const once = await proof(key);
    assert.equal((await tokenRequest(a, PASSWORD_GRANT, once)).status, 200);
    const replayed = await tokenRequest(b, PASSWORD_GRANT, once);
    assert.equal(replayed.status, 400);
    assert.equal(replayed.body.error, 'invalid_dpop_proof');
  });

  test('with nonces on, a nonce one instance issued is accepted by the other, once per proof', async () => {
    const challenged = await tokenRequest(nonceA, PASSWORD_GRANT, await proof(key));
    assert.equal(challenged.status, 400);
    assert.equal(challenged.body.error, 'use_dpop_nonce');
    const nonce = challenged.headers.get('dpop-nonce');
    assert.ok(nonce, 'the challenge carries DPoP-Nonce');

    const withNonce = await proof(key, { nonce });
    const answered = await tokenRequest(nonceB, PASSWORD_GRANT, withNonce);
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.equal(answered.body.token_type, 'DPoP');
    const replayed = await tokenRequest(nonceA, PASSWORD_GRANT, withNonce);
    assert.equal(replayed.status, 400);
    assert.equal(replayed.body.error, 'invalid_dpop_proof');
  });
});
