/**
 * DPoP as an attacker uses it: proofs built by hand (private or symmetric keys, unsigned, extra
 * members), a bound refresh token replayed with another key, a bound access token presented as a
 * bearer token, and what reaches the log.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import { makeProof, makeProofKey, type ProofKey } from '../../test/dpop.js';
import { CLIENT, startHarness, type Harness } from '../../test/harness.js';
import { BASE_PATH } from '../../test/http.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS signed as `alg` says: ES256 with `key`, HS256 with a shared secret, or unsigned. */
function handMadeProof(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject | null): string {
  const input = `${b64(header)}.${b64(claims)}`;
  const signature =
    header.alg === 'ES256' && key ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : header.alg === 'HS256' ? createHmac('sha256', 'shared').update(input).digest() : Buffer.alloc(0);
  return `${input}.${signature.toString('base64url')}`;
}

let h: Harness;
const logs: string[] = [];
let keyA: ProofKey;
let keyB: ProofKey;

function tokenUrl(): string {
  return `${h.config.issuer}/auth/token`;
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(h.clock.now() / 1000), ...extra };
}

async function sessionCount(): Promise<number> {
  return (await h.server.auth.store.sessions.listActive(h.clock.now(), { limit: 1000 })).length;
}

describe('attacks with DPoP proofs', () => {
  before(async () => {
    h = await startHarness({}, { logger: pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) }) });
    keyA = await makeProofKey('ES256');
    keyB = await makeProofKey('ES256');
  });
  after(() => h.close());

  it('a proof whose jwk is private, symmetric, or whose alg is none or HS256 is refused with invalid_dpop_proof and starts no session', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicJwk = publicKey.export({ format: 'jwk' });
    const privateJwk = privateKey.export({ format: 'jwk' });
    const sessions = await sessionCount();
    const cases: [string, string][] = [
      ['DPoP proof jwk is not a public key for its alg', handMadeProof({ typ: 'dpop+jwt', alg: 'ES256', jwk: privateJwk }, claims(), privateKey)],
      ['DPoP proof jwk is not a public key for its alg', handMadeProof({ typ: 'dpop+jwt', alg: 'ES256', jwk: { ...publicJwk, d: 'AAAA' } }, claims(), privateKey)],
      ['DPoP proof alg is not supported', handMadeProof({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: Buffer.from('shared').toString('base64url') } }, claims(), null)],
      ['DPoP proof alg is not supported', handMadeProof({ typ: 'dpop+jwt', alg: 'none', jwk: publicJwk }, claims(), null)],
      ['DPoP proof typ is not dpop+jwt', handMadeProof({ typ: 'JWT', alg: 'ES256', jwk: publicJwk }, claims(), privateKey)],
      ['DPoP proof jwk is not a public key for its alg', handMadeProof({ typ: 'dpop+jwt', alg: 'ES256', jwk: { ...publicJwk, alg: 'RS256' } }, claims(), privateKey)],
    ];
    for (const [description, dpop] of cases) {
      const response = await h.token(CLIENT, { dpop });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { error: 'invalid_dpop_proof', error_description: description });
    }
    assert.equal(await sessionCount(), sessions);
  });

  it('a jwk with extra public members binds to its RFC 7638 thumbprint, which ignores them', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const response = await h.token(CLIENT, { dpop: handMadeProof({ typ: 'dpop+jwt', alg: 'ES256', jwk: { ...jwk, kid: 'mine', use: 'sig', x5u: 'https://evil.example' } }, claims(), privateKey) });
    assert.equal(response.statusCode, 200, response.body);
    const thumbprint = createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');
    assert.deepEqual(decodeJwt(response.json<{ access_token: string }>().access_token).cnf, { jkt: thumbprint });
  });

  it('a refresh token bound to key A and replayed with key B is refused, and key A still refreshes it', async () => {
    const login = (await h.token(CLIENT, { dpop: await makeProof(keyA, { htu: tokenUrl(), now: h.clock.now() }) })).json<{ refresh_token: string }>();
    const stolen = await h.token({ grant_type: 'refresh_token', refresh_token: login.refresh_token }, { dpop: await makeProof(keyB, { htu: tokenUrl(), now: h.clock.now() }) });
    assert.equal(stolen.statusCode, 400);
    assert.equal(stolen.json<{ error: string }>().error, 'invalid_grant');
    assert.ok(!stolen.body.includes(login.refresh_token.slice(27)));
    const owner = await h.token({ grant_type: 'refresh_token', refresh_token: login.refresh_token }, { dpop: await makeProof(keyA, { htu: tokenUrl(), now: h.clock.now() }) });
    assert.equal(owner.statusCode, 200, owner.body);
  });

  it('a DPoP-bound access token sent through the gateway as Bearer, or with another key’s proof, gets a DPoP challenge; a bearer token sent as DPoP gets invalid_token', async () => {
    const bound = (await h.token(CLIENT, { dpop: await makeProof(keyA, { htu: tokenUrl(), now: h.clock.now() }) })).json<{ access_token: string }>().access_token;
    const bearer = (await h.token(CLIENT)).json<{ access_token: string }>().access_token;
    const url = `${BASE_PATH}/accounts/7`;
    const htu = `http://localhost:80${url}`;
    const proof = (key: ProofKey, token: string) => makeProof(key, { htm: 'GET', htu, now: h.clock.now(), accessToken: token });
    const cases: [Record<string, string>, string][] = [
      [{ authorization: `Bearer ${bound}` }, 'invalid_token'],
      [{ authorization: `Bearer ${bound}`, dpop: await proof(keyA, bound) }, 'invalid_token'],
      [{ authorization: `DPoP ${bound}`, dpop: await proof(keyB, bound) }, 'invalid_dpop_proof'],
      [{ authorization: `DPoP ${bound}` }, 'invalid_dpop_proof'],
      [{ authorization: `DPoP ${bearer}`, dpop: await proof(keyA, bearer) }, 'invalid_token'],
    ];
    for (const [headers, error] of cases) {
      const response = await h.server.app.inject({ method: 'GET', url, headers });
      assert.equal(response.statusCode, 401, JSON.stringify(Object.keys(headers)));
      assert.match(String(response.headers['www-authenticate']), new RegExp(`^DPoP .*error="${error}"`));
      assert.deepEqual(Object.keys(response.json()).sort(), ['error', 'error_description']);
      for (const secret of [bound, bearer, headers.dpop ?? 'no proof']) assert.ok(!response.body.includes(secret.slice(-20)));
    }
  });

  it('a token presented under the DPoP scheme is refused with a DPoP challenge whatever is wrong with it (garbage, foreign, ended session)', async () => {
    const login = (await h.token(CLIENT, { dpop: await makeProof(keyA, { htu: tokenUrl(), now: h.clock.now() }) })).json<{ access_token: string; refresh_token: string }>();
    const revoke = await h.server.app.inject({ method: 'POST', url: `${BASE_PATH}/auth/logout`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ refresh_token: login.refresh_token }) });
    assert.equal(revoke.statusCode, 204, revoke.body);
    for (const url of [`${BASE_PATH}/accounts`, `${BASE_PATH}/auth/verify`]) {
      const htu = `http://localhost:80${url === `${BASE_PATH}/auth/verify` ? '/' : url}`;
      for (const token of ['not-a-token', 'a.b.c', login.access_token]) {
        const dpop = await makeProof(keyA, { htm: 'GET', htu, now: h.clock.now(), accessToken: token });
        const response = await h.server.app.inject({ method: 'GET', url, headers: { authorization: `DPoP ${token}`, dpop } });
        assert.equal(response.statusCode, 401, `${url} ${token.slice(0, 12)}`);
        assert.match(String(response.headers['www-authenticate']), /^DPoP realm="[^"]+", algs="[^"]+", error="invalid_token"/, `${url} ${token.slice(0, 12)}`);
      }
    }
  });

  it('a scheme or host from a trusted proxy that makes no URL is a proof that does not match, not a 500 (the guard threw on the request URI)', async () => {
    const proxied = await startHarness({ ANTPEER_TRUST_PROXY: '127.0.0.1' });
    try {
      const tokenUrl = `${proxied.config.issuer}/auth/token`;
      const login = (await proxied.token(CLIENT, { dpop: await makeProof(keyA, { htu: tokenUrl, now: proxied.clock.now() }) })).json<{ access_token: string }>();
      const forwarded: Record<string, string>[] = [{ 'x-forwarded-proto': 'q00Aaa00AA' }, { 'x-forwarded-proto': 'javascript' }, { 'x-forwarded-host': 'a b' }, { 'x-forwarded-host': '[' }];
      for (const headers of forwarded) {
        const url = `${BASE_PATH}/accounts`;
        const dpop = await makeProof(keyA, { htm: 'GET', htu: `http://localhost:80${url}`, now: proxied.clock.now(), accessToken: login.access_token });
        const gateway = await proxied.server.app.inject({ method: 'GET', url, headers: { ...headers, authorization: `DPoP ${login.access_token}`, dpop } });
        assert.equal(gateway.statusCode, 401, `${JSON.stringify(headers)} ${gateway.body}`);
        assert.match(String(gateway.headers['www-authenticate']), /^DPoP .*error="invalid_dpop_proof"/);
        const verify = await proxied.server.app.inject({ method: 'GET', url: `${BASE_PATH}/auth/verify`, headers: { ...headers, authorization: `DPoP ${login.access_token}`, dpop, 'x-original-uri': '/accounts' } });
        assert.equal(verify.statusCode, 401, `${JSON.stringify(headers)} ${verify.body}`);
        const elsewhere = await proxied.token(CLIENT, { ...headers, dpop: await makeProof(keyA, { htu: 'https://elsewhere.example/auth/token', now: proxied.clock.now() }) });
        assert.equal(elsewhere.statusCode, 400, `${JSON.stringify(headers)} ${elsewhere.body}`);
        assert.equal(elsewhere.json<{ error: string }>().error, 'invalid_dpop_proof');
        const issuer = await proxied.token(CLIENT, { ...headers, dpop: await makeProof(keyA, { htu: tokenUrl, now: proxied.clock.now() }) });
        assert.equal(issuer.statusCode, 200, 'a proof naming the issuer’s URL still works');
      }
    } finally {
      await proxied.close();
    }
  });

  it('no log line holds a proof, an access token or a refresh token', async () => {
    const dpop = await makeProof(keyA, { htu: tokenUrl(), now: h.clock.now() });
    const login = (await h.token(CLIENT, { dpop })).json<{ access_token: string; refresh_token: string }>();
    await h.token(CLIENT, { dpop });
    await h.token({ grant_type: 'refresh_token', refresh_token: login.refresh_token }, { dpop: await makeProof(keyB, { htu: tokenUrl(), now: h.clock.now() }) });
    await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/accounts`, headers: { authorization: `Bearer ${login.access_token}`, dpop } });
    for (const secret of [dpop, login.access_token, login.refresh_token]) {
      const tail = secret.slice(-24);
      assert.deepEqual(logs.filter((line) => line.includes(tail)), [], 'a log line holds a secret');
    }
  });
});
