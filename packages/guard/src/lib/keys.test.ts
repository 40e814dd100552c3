import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { ED25519_VERIFIER, importProofKey, importVerificationKey, verifySignature } from './keys.js';

const INPUT = Buffer.from('eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0');
/** The order of Ed25519's base point, little-endian: S must be below it (RFC 8032 §5.1.7). */
const L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

function ed25519() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  return { privateKey, publicKey, key: importVerificationKey({ ...jwk, kid: 'k' })! };
}

/** `signature` with S replaced by S + L: the same point equation, a non-canonical encoding. */
function withSPlusL(signature: Buffer): Buffer {
  const out = Buffer.from(signature);
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const sum = (out[32 + i] as number) + (L[i] as number) + carry;
    out[32 + i] = sum & 0xff;
    carry = sum >> 8;
  }
  return out;
}

describe('verifySignature (Ed25519)', () => {
  it('verifies Ed25519 with libsodium, which this install has (the optional sodium-native binding)', () => {
    assert.equal(ED25519_VERIFIER, 'libsodium');
  });

  it('imports an Ed25519 key with its raw bytes, and no other key with any', () => {
    const { key } = ed25519();
    assert.equal(key.ed25519?.length, 32);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    assert.equal(importVerificationKey(ec)?.ed25519, undefined);
    assert.equal(importProofKey(ec, 'ES256')?.ed25519, undefined);
  });

  it('accepts exactly what node:crypto accepts: the genuine signature, and none of its alterations', async () => {
    const { privateKey, publicKey, key } = ed25519();
    const genuine = sign(null, INPUT, privateKey);
    assert.equal(await verifySignature(key, 'EdDSA', INPUT, genuine), true);
    assert.equal(await verifySignature(key, 'Ed25519', INPUT, genuine), true);
    const altered: Buffer[] = [withSPlusL(genuine), genuine.subarray(0, 63), Buffer.concat([genuine, Buffer.alloc(1)]), Buffer.alloc(0), Buffer.alloc(64)];
    for (let i = 0; i < 64; i++) {
      const flipped = Buffer.from(genuine);
      flipped[i] = (flipped[i] as number) ^ (1 << (i % 8));
      altered.push(flipped);
    }
    for (const signature of altered) {
      const expected = signature.length === 64 && verify(null, INPUT, publicKey, signature);
      assert.equal(expected, false);
      assert.equal(await verifySignature(key, 'EdDSA', INPUT, signature), false, `accepted ${signature.toString('hex')}`);
    }
    assert.equal(await verifySignature(key, 'EdDSA', Buffer.concat([INPUT, Buffer.from('x')]), genuine), false);
  });

  it('refuses an algorithm the key is not for, before any verification', async () => {
    const { privateKey, key } = ed25519();
    assert.equal(await verifySignature(key, 'ES256', INPUT, sign(null, INPUT, privateKey)), false);
  });

  it('verifies with node:crypto a key that carries no raw bytes (the path without libsodium)', async () => {
    const { privateKey, key } = ed25519();
    const withoutRaw = { kid: key.kid, algorithms: key.algorithms, key: key.key };
    assert.equal(await verifySignature(withoutRaw, 'EdDSA', INPUT, sign(null, INPUT, privateKey)), true);
    assert.equal(await verifySignature(withoutRaw, 'EdDSA', INPUT, Buffer.alloc(64)), false);
  });
});
