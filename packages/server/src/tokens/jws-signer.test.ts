import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { jwsSigner } from './jws-signer.js';

const INPUT = Buffer.from('eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0');

describe('jwsSigner', () => {
  it('signs Ed25519 on libsodium with exactly the signature node:crypto makes (RFC 8032 signatures are deterministic)', () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const input = Buffer.concat([INPUT, Buffer.from(String(i))]);
      const signature = jwsSigner('EdDSA', privateKey)(input);
      assert.deepEqual(signature, sign(null, input, privateKey));
      assert.equal(verify(null, input, publicKey, signature), true);
    }
  });

  it('refuses to make an EdDSA signer of a key that is not Ed25519', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(() => jwsSigner('EdDSA', privateKey), /not an Ed25519 private key/);
    assert.throws(() => jwsSigner('EdDSA', generateKeyPairSync('ed448').privateKey), /not an Ed25519 private key/);
  });

  it('signs ES256 as R || S (RFC 7518 §3.4) and RS256 with PKCS #1 v1.5', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const es256 = jwsSigner('ES256', ec.privateKey)(INPUT);
    assert.equal(es256.length, 64);
    assert.equal(verify('sha256', INPUT, { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, es256), true);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assert.equal(verify('sha256', INPUT, rsa.publicKey, jwsSigner('RS256', rsa.privateKey)(INPUT)), true);
  });
});
