import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SECOND, T0, signingKey, useStore, type OpenStore } from './harness.js';

/** Signing keys (`KeyStore`): adding one retires the others, atomically even under concurrency. */
export function describeKeyStore(open: OpenStore): void {
  describe('signing keys', () => {
    const f = useStore(open);

    it('a new store has no keys', async () => {
      assert.deepEqual(await f.store.keys.list(), []);
    });

    it('adding a key retires every unretired key at its creation time, and keeps earlier retirements', async () => {
      const k1 = signingKey('k1', T0);
      const k2 = signingKey('k2', T0 + SECOND);
      const k3 = signingKey('k3', T0 + 2 * SECOND);
      await f.store.keys.addRetiringOthers(k1);
      assert.deepEqual(await f.store.keys.list(), [k1]);
      await f.store.keys.addRetiringOthers(k2);
      assert.deepEqual(await f.store.keys.list(), [k2, { ...k1, retiredAt: T0 + SECOND }]);
      await f.store.keys.addRetiringOthers(k3);
      assert.deepEqual(await f.store.keys.list(), [k3, { ...k2, retiredAt: T0 + 2 * SECOND }, { ...k1, retiredAt: T0 + SECOND }]);
    });

    it('keys come back newest first with their public JWK and sealed private key intact', async () => {
      const older = {
        ...signingKey('older', T0),
        publicJwk: { kty: 'EC', crv: 'P-256', x: 'xx', y: 'yy', key_ops: ['verify'], ext: true, nested: { n: 1 } },
        sealedPrivateKey: `v1.${'A'.repeat(4096)}`,
      };
      const newer = signingKey('newer', T0 + SECOND);
      await f.store.keys.addRetiringOthers(newer);
      await f.store.keys.addRetiringOthers(older);
      const listed = await f.store.keys.list();
      assert.deepEqual(
        listed.map((stored) => stored.kid),
        ['newer', 'older'],
      );
      assert.deepEqual(listed[1], older);
      assert.deepEqual(listed[0], { ...newer, retiredAt: T0 }, 'retired when the older-dated key was added');
    });

    it('concurrent key additions leave exactly one key unretired', async () => {
      await f.warmUp();
      const keys = Array.from({ length: 8 }, (_, i) => signingKey(`race-${i}`, T0 + SECOND));
      await Promise.all(keys.map((key) => f.store.keys.addRetiringOthers(key)));
      const listed = await f.store.keys.list();
      assert.equal(listed.length, 8);
      assert.equal(listed.filter((stored) => stored.retiredAt === null).length, 1);
      assert.ok(listed.every((stored) => stored.retiredAt === null || stored.retiredAt === T0 + SECOND));
    });
  });
}
