import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { calculateJwkThumbprint as joseThumbprint, exportJWK, generateKeyPair } from 'jose';
import { calculateJwkThumbprint, createDpopReplayCache, verifyDpopProof } from './dpop.js';
import { InvalidDpopProofError, type InvalidDpopProofReason } from './errors.js';
import { antpeerGuard } from './fastify.js';
import { createNodeGuard } from './node.js';
import { makeProof, makeProofKey, type ProofKey, type ProofOptions } from './test/dpop-proof.js';
import { AUDIENCE, FakeIssuer, manualClock } from './test/fake-issuer.js';
import { createVerifier, type Verifier } from './verify.js';

const clock = manualClock(Date.UTC(2026, 0, 1));
const URL_ = 'http://localhost:80/user/accounts';
let issuer: FakeIssuer;
let verifier: Verifier;
let app: FastifyInstance;
let key: ProofKey;
let boundToken: string;

before(async () => {
  issuer = await FakeIssuer.start(clock.now);
  verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, clock: clock.now, dpop: { algorithms: ['ES256', 'EdDSA'] } });
  key = await makeProofKey('ES256');
  boundToken = await issuer.mint({ claims: { cnf: { jkt: key.jkt } } });
  app = Fastify();
  await app.register(antpeerGuard, { verifier, realm: 'accounts' });
  app.get('/user/accounts', async (request) => ({ subject: request.auth.subject }));
});
after(async () => {
  await app.close();
  await issuer.close();
});

function nowSec(): number {
  return Math.floor(clock.now() / 1000);
}

function proof(options: ProofOptions = {}, proofKey: ProofKey = key): Promise<string> {
  return makeProof(proofKey, { method: 'GET', url: URL_, accessToken: boundToken, iat: nowSec(), ...options });
}

async function call(headers: Record<string, string | string[]>) {
  const response = await app.inject({ method: 'GET', url: '/user/accounts?page=2', headers: { host: 'localhost', ...headers } });
  return { status: response.statusCode, challenge: String(response.headers['www-authenticate']), body: response.json() as Record<string, unknown> };
}

async function assertProofRefused(dpop: string | string[], error = 'invalid_dpop_proof', token = boundToken): Promise<void> {
  const answer = await call({ authorization: `DPoP ${token}`, dpop });
  assert.equal(answer.status, 401);
  assert.equal(answer.body.error, error);
  assert.match(answer.challenge, new RegExp(`^DPoP realm="accounts", algs="ES256 EdDSA", error="${error}"`));
}

describe('DPoP-bound tokens at the guard (RFC 9449 §7)', () => {
  test('a bound token with a valid proof for this request is accepted; the query is not part of htu', async () => {
    const answer = await call({ authorization: `DPoP ${boundToken}`, dpop: await proof() });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { subject: 'user-42' });
  });

  test('a bound token presented as a bearer token is refused with a DPoP invalid_token challenge, even once cached', async () => {
    await call({ authorization: `DPoP ${boundToken}`, dpop: await proof() });
    const answer = await call({ authorization: `Bearer ${boundToken}` });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'invalid_token');
    assert.match(answer.challenge, /^DPoP realm="accounts", algs="ES256 EdDSA", error="invalid_token"/);
  });

  test('an unbound token presented with the DPoP scheme is refused as invalid_token', async () => {
    const plain = await issuer.mint();
    const answer = await call({ authorization: `DPoP ${plain}`, dpop: await proof({ accessToken: plain }) });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'invalid_token');
    assert.match(answer.challenge, /^DPoP /);
  });

  test('an invalid token presented with the DPoP scheme (garbage, expired, forged) gets a DPoP challenge, not a Bearer one', async () => {
    const expired = await issuer.mint({ claims: { cnf: { jkt: key.jkt }, exp: nowSec() - 60 } });
    for (const token of ['not-a-token', 'a.b.c', expired, `${boundToken.slice(0, -4)}AAAA`]) {
      const answer = await call({ authorization: `DPoP ${token}`, dpop: await proof({ accessToken: token }) });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error, 'invalid_token');
      assert.match(answer.challenge, /^DPoP realm="accounts", algs="ES256 EdDSA", error="invalid_token"/, token.slice(0, 12));
    }
  });

  test('a Host that makes no URL is a proof that cannot match (401 invalid_dpop_proof), not a crash', async () => {
    for (const host of ['[', 'a b', 'x:y:z']) {
      const answer = await call({ host, authorization: `DPoP ${boundToken}`, dpop: await proof() });
      assert.equal(answer.status, 401, host);
      assert.equal(answer.body.error, 'invalid_dpop_proof');
    }
  });

  test('a replayed proof is refused', async () => {
    const once = await proof();
    assert.equal((await call({ authorization: `DPoP ${boundToken}`, dpop: once })).status, 200);
    await assertProofRefused(once);
  });

  test('every refusal of RFC 9449 §4.3 answers invalid_dpop_proof, each for its own reason', async () => {
    const other = await makeProofKey('ES256');
    const rsa = await makeProofKey('RS256');
    const privateJwk = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
    const unsigned = `${Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk })).toString('base64url')}.${Buffer.from('{}').toString('base64url')}.`;
    const cases: Array<[string, string | string[], InvalidDpopProofReason]> = [
      ['no DPoP header', [], 'malformed'],
      ['two DPoP headers', [await proof(), await proof()], 'malformed'],
      ['not a JWT', 'not-a-jwt', 'malformed'],
      ['typ is not dpop+jwt', await proof({ header: { typ: 'jwt' } }), 'type'],
      ['alg outside the allow-list', await proof({}, rsa), 'algorithm'],
      ['alg none', unsigned, 'algorithm'],
      ['no jwk', await proof({ header: { jwk: undefined } }), 'key'],
      ['a private jwk', await proof({ header: { jwk: privateJwk } }), 'key'],
      ['signed by another key', await proof({ signWith: other.privateKey }), 'signature'],
      ['no jti', await proof({ omit: ['jti'] }), 'claims'],
      ['no htm', await proof({ omit: ['htm'] }), 'claims'],
      ['no htu', await proof({ omit: ['htu'] }), 'claims'],
      ['no iat', await proof({ omit: ['iat'] }), 'claims'],
      ['htm of another method', await proof({ method: 'POST' }), 'method'],
      ['htu of another URI', await proof({ url: 'http://localhost/user/other' }), 'uri'],
      ['htu of another host', await proof({ url: 'http://evil.example/user/accounts' }), 'uri'],
      ['iat too old', await proof({ iat: nowSec() - 66 }), 'stale'],
      ['iat in the future', await proof({ iat: nowSec() + 6 }), 'stale'],
      ['no ath', await proof({ omit: ['ath'] }), 'token_hash'],
      ['ath of another token', await proof({ accessToken: 'another-token' }), 'token_hash'],
      ['a valid proof by a key the token is not bound to', await makeProof(other, { method: 'GET', url: URL_, accessToken: boundToken, iat: nowSec() }), 'key_mismatch'],
    ];
    for (const [name, dpop, expected] of cases) {
      await test(name, async () => {
        const error = await verifier
          .verifyPresented('DPoP', boundToken, { dpop: Array.isArray(dpop) && dpop.length === 0 ? undefined : dpop, method: 'GET', url: URL_ })
          .then(() => assert.fail('accepted'), (caught: unknown) => caught);
        assert.ok(error instanceof InvalidDpopProofError, String(error));
        assert.equal(error.reason, expected);
        await assertProofRefused(dpop);
      });
    }
  });

  test('htu honours the proxy settings: with trustProxy the public scheme and host are what the proof must name', async () => {
    const proxied = Fastify({ trustProxy: true });
    await proxied.register(antpeerGuard, { verifier });
    proxied.get('/user/accounts', async (request) => ({ subject: request.auth.subject }));
    const headers = { host: 'internal:3000', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example' };
    const ok = await proxied.inject({
      method: 'GET',
      url: '/user/accounts',
      headers: { ...headers, authorization: `DPoP ${boundToken}`, dpop: await proof({ url: 'https://api.example/user/accounts' }) },
    });
    assert.equal(ok.statusCode, 200);
    const internal = await proxied.inject({
      method: 'GET',
      url: '/user/accounts',
      headers: { ...headers, authorization: `DPoP ${boundToken}`, dpop: await proof({ url: 'http://internal:3000/user/accounts' }) },
    });
    assert.equal(internal.statusCode, 401);
    await proxied.close();
  });

  test('the node middleware checks proofs against its configured origin', async () => {
    const guard = createNodeGuard({ verifier, origin: 'https://api.example' });
    const server: Server = createServer((request, response) => guard(request, response, () => response.end('ok')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ok = await fetch(`${base}/user/accounts`, {
        headers: { authorization: `DPoP ${boundToken}`, dpop: await proof({ url: 'https://api.example/user/accounts' }) },
      });
      assert.equal(ok.status, 200);
      const bearer = await fetch(`${base}/user/accounts`, { headers: { authorization: `Bearer ${boundToken}` } });
      assert.equal(bearer.status, 401);
      assert.match(String(bearer.headers.get('www-authenticate')), /^DPoP .*error="invalid_token"/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('verifyDpopProof', () => {
  const expect = () => ({ method: 'POST', url: 'https://as.example/token', algorithms: ['ES256', 'EdDSA'], now: clock.now(), maxAge: 60, clockTolerance: 5 });

  async function reason(promise: Promise<unknown>): Promise<InvalidDpopProofReason> {
    const error = await promise.then(() => assert.fail('expected a refusal'), (caught: unknown) => caught);
    assert.ok(error instanceof InvalidDpopProofError, String(error));
    return error.reason;
  }

  test('an RSA proof key with a public exponent beyond 64 bits is refused for its key (verifying with it cost over a hundred normal proofs)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const modulus = Buffer.from(String(jwk.n), 'base64url');
    const hugeExponent = Buffer.from(modulus);
    hugeExponent[0] = (hugeExponent[0] ?? 0) >> 1;
    hugeExponent[hugeExponent.length - 1] = (hugeExponent[hugeExponent.length - 1] ?? 0) | 1;
    const expectations = { ...expect(), algorithms: ['RS256'] };
    const sign = (e: string) => {
      const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'RS256', jwk: { kty: 'RSA', n: jwk.n, e } })).toString('base64url');
      const claims = Buffer.from(JSON.stringify({ jti: randomUUID(), htm: 'POST', htu: 'https://as.example/token', iat: nowSec() })).toString('base64url');
      return `${header}.${claims}.${cryptoSign('sha256', Buffer.from(`${header}.${claims}`), privateKey).toString('base64url')}`;
    };
    assert.equal(await reason(verifyDpopProof(sign(hugeExponent.toString('base64url')), expectations)), 'key');
    assert.equal(await reason(verifyDpopProof(sign(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 1]).toString('base64url')), expectations)), 'key');
    // The usual exponent signs and verifies.
    assert.equal((await verifyDpopProof(sign(String(jwk.e)), expectations)).alg, 'RS256');
  });

  test('a proof without a required nonce is refused with use_dpop_nonce; the right nonce is accepted', async () => {
    const nonce = (value: string | undefined) => value === 'n-1';
    const without = await makeProof(key, { method: 'POST', url: 'https://as.example/token', iat: nowSec() });
    const error = await verifyDpopProof(without, { ...expect(), nonce }).catch((caught: unknown) => caught);
    assert.ok(error instanceof InvalidDpopProofError);
    assert.equal(error.error, 'use_dpop_nonce');
    const withNonce = await makeProof(key, { method: 'POST', url: 'https://as.example/token', iat: nowSec(), claims: { nonce: 'n-1' } });
    assert.equal((await verifyDpopProof(withNonce, { ...expect(), nonce })).jkt, key.jkt);
  });

  test('an Ed25519 proof verifies and its acceptance ends maxAge + tolerance after iat', async () => {
    const ed = await makeProofKey('EdDSA');
    const verified = await verifyDpopProof(await makeProof(ed, { method: 'POST', url: 'https://as.example/token', iat: nowSec() }), expect());
    assert.equal(verified.jkt, ed.jkt);
    assert.equal(verified.acceptableUntil, (nowSec() + 65) * 1000);
  });

  test('a proof with the wrong method is refused for its method', async () => {
    assert.equal(await reason(verifyDpopProof(await makeProof(key, { method: 'GET', url: 'https://as.example/token', iat: nowSec() }), expect())), 'method');
  });

  test('thumbprints match RFC 7638 as jose computes them, for every key type', async () => {
    for (const alg of ['ES256', 'EdDSA', 'RS256']) {
      const { publicKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = await exportJWK(publicKey);
      assert.equal(calculateJwkThumbprint(jwk as Record<string, unknown>), await joseThumbprint(jwk), alg);
    }
  });

  test('the replay cache refuses a key until it expires and stays within its size', () => {
    const cache = createDpopReplayCache(2);
    assert.equal(cache.remember('a', 2000, 1000), true);
    assert.equal(cache.remember('a', 2000, 1500), false);
    assert.equal(cache.remember('a', 3000, 2000), true);
    assert.equal(cache.remember('b', 3000, 2000), true);
    assert.equal(cache.remember('c', 3000, 2000), true);
    assert.equal(cache.remember('c', 3000, 2500), false);
  });
});
