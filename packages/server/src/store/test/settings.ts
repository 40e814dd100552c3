import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SECOND, T0, useStore, type OpenStore } from './harness.js';

/** Realm-wide settings (`SettingsStore`): the not-before policy and sealed secrets, first writer wins. */
export function describeSettingsStore(open: OpenStore): void {
  describe('settings', () => {
    const f = useStore(open);

    it('the realm not-before is 0 until set, then the last value set', async () => {
      assert.equal(await f.store.settings.getRealmNotBefore(), 0);
      await f.store.settings.setRealmNotBefore(T0);
      assert.equal(await f.store.settings.getRealmNotBefore(), T0);
      await f.store.settings.setRealmNotBefore(T0 + SECOND);
      assert.equal(await f.store.settings.getRealmNotBefore(), T0 + SECOND);
      await f.store.settings.setRealmNotBefore(0);
      assert.equal(await f.store.settings.getRealmNotBefore(), 0);
    });

    it('getOrCreateSecret keeps the first value and returns it to every later caller', async () => {
      assert.equal(await f.store.settings.getOrCreateSecret('server', 'sealed-first'), 'sealed-first');
      assert.equal(await f.store.settings.getOrCreateSecret('server', 'sealed-second'), 'sealed-first');
      assert.equal(await f.store.settings.getOrCreateSecret('other', 'sealed-other'), 'sealed-other');
      assert.equal(await f.store.settings.getOrCreateSecret('server', 'sealed-third'), 'sealed-first');
    });

    it('a secret comes back exactly as given, however long', async () => {
      const sealed = `v1.${'Zz0-_'.repeat(4000)}.ünïcode`;
      assert.equal(await f.store.settings.getOrCreateSecret('long', sealed), sealed);
      assert.equal(await f.store.settings.getOrCreateSecret('long', 'later'), sealed);
    });

    it('concurrent first writers all get the one value that won', async () => {
      await f.warmUp();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => f.store.settings.getOrCreateSecret('contested', `candidate-${i}`)),
      );
      const [winner] = results;
      assert.ok(winner?.startsWith('candidate-'));
      assert.deepEqual(results, Array.from({ length: 10 }, () => winner));
    });

    it('a secret named like the realm policy does not disturb it, nor the policy the secret', async () => {
      assert.equal(await f.store.settings.getOrCreateSecret('realm_not_before', 'not-a-number'), 'not-a-number');
      assert.equal(await f.store.settings.getRealmNotBefore(), 0);
      await f.store.settings.setRealmNotBefore(T0);
      assert.equal(await f.store.settings.getOrCreateSecret('realm_not_before', 'other'), 'not-a-number');
      assert.equal(await f.store.settings.getRealmNotBefore(), T0);
    });
  });
}
