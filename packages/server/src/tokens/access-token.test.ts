import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { ManualClock } from '../clock.js';
import type { SigningAlgorithm } from '../config.js';
import type { KeyStore, StoredKey } from '../store/port.js';
import { signAccessToken } from './access-token.js';
import { KeyRing } from './keys.js';

/** Keys in memory: enough for a key ring, which only lists and adds. */
function memoryKeyStore(): KeyStore {
  const keys: StoredKey[] = [];
  return {
    async list() {
      return [...keys].reverse();
    },
    async addRetiringOthers(key) {
      for (const other of keys) other.retiredAt ??= key.createdAt;
      keys.push(key);
    },
  };
}

const NOW_S = 1_900_000_000;

describe('signAccessToken', () => {
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as SigningAlgorithm[]) {
    it(`signs an RFC 9068 token with ${alg} that a standard JOSE library verifies against the JWKS`, async () => {
      const clock = new ManualClock(NOW_S * 1000);
      const ring = await KeyRing.open(memoryKeyStore(), Buffer.alloc(32, 7), clock, { accessTokenTtlMs: 900_000 });
      await ring.ensureSigningKey(alg);
      const token = signAccessToken(ring, {
        issuer: 'https://issuer.example/base',
        audience: 'https://issuer.example/base',
        subject: 'user-1',
        clientId: 'merchant-app',
        sessionId: 'session-1',
        issuedAt: NOW_S,
        expiresAt: NOW_S + 900,
      });
      assert.deepEqual(decodeProtectedHeader(token), { alg, typ: 'at+jwt', kid: ring.signingKey().kid });
      const { payload } = await jwtVerify(token, createLocalJWKSet(ring.jwks() as never), {
        issuer: 'https://issuer.example/base',
        audience: 'https://issuer.example/base',
        typ: 'at+jwt',
        algorithms: [alg],
        currentDate: new Date(NOW_S * 1000),
      });
      assert.equal(payload.sub, 'user-1');
      assert.equal(payload.client_id, 'merchant-app');
      assert.equal(payload.sid, 'session-1');
      assert.equal(payload.iat, NOW_S);
      assert.equal(payload.exp, NOW_S + 900);
      assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);
    });
  }

  it('gives every token its own jti', async () => {
    const ring = await KeyRing.open(memoryKeyStore(), Buffer.alloc(32, 7), new ManualClock(), { accessTokenTtlMs: 900_000 });
    await ring.ensureSigningKey('EdDSA');
    const claims = { issuer: 'i', audience: 'a', subject: 's', clientId: 'c', sessionId: 'x', issuedAt: NOW_S, expiresAt: NOW_S + 1 };
    assert.notEqual(signAccessToken(ring, claims), signAccessToken(ring, claims));
  });
});
