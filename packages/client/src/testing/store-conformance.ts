/**
 * The conformance suite every {@link TokenStore} must pass, published as `@antpeer/client/testing`
 * so that the author of a store can run it. From the store's test file, run with `node --test`:
 *
 * ```ts
 * import { describeTokenStore } from '@antpeer/client/testing';
 *
 * describeTokenStore('RedisTokenStore', async () => new RedisTokenStore({ client, prefix: randomUUID() }));
 * ```
 *
 * `create` is called once per test and must give a store that holds nothing yet. The lock tests
 * run only when the store has `lock`. Node only: the suite uses `node:test` and `node:assert`.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TokenSet, TokenStore } from '../stores/token-store.js';

/** A complete, valid {@link TokenSet} with every optional field set; `overrides` replace fields. */
export function sampleTokenSet(overrides: Partial<TokenSet> = {}): TokenSet {
  return {
    version: 1,
    accessToken: 'eyJ.access.token',
    tokenType: 'bearer',
    refreshToken: 'refresh-token',
    obtainedAt: 1_900_000_000_000,
    expiresAt: 1_900_000_900_000,
    refreshAt: 1_900_000_675_000,
    refreshExpiresAt: 1_900_001_800_000,
    sessionState: 'session',
    scope: '',
    notBeforePolicy: 0,
    serverSkewMs: -120,
    dpopJkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    dpopKey: { alg: 'ES256', privateJwk: { kty: 'EC', crv: 'P-256', x: 'sample-x', y: 'sample-y', d: 'sample-d' } },
    ...overrides,
  };
}

/**
 * Declares the conformance tests of a store (a `node:test` suite named after `name`): get, set and
 * delete keep keys apart and copy values, and `lock`, when there is one, is exclusive per key and
 * gives up when its signal aborts.
 */
export function describeTokenStore(name: string, create: () => Promise<TokenStore>): void {
  describe(`${name} (token store conformance)`, () => {
    test('gives undefined for a key it does not hold', async () => {
      const store = await create();
      assert.equal(await store.get('absent'), undefined);
    });

    test('gives back an equal token set after set, and the latest after a second set', async () => {
      const store = await create();
      await store.set('k', sampleTokenSet());
      assert.deepEqual(await store.get('k'), sampleTokenSet());
      await store.set('k', sampleTokenSet({ accessToken: 'second' }));
      assert.equal((await store.get('k'))?.accessToken, 'second');
    });

    test('keeps keys apart', async () => {
      const store = await create();
      await store.set('a', sampleTokenSet({ accessToken: 'a' }));
      await store.set('b', sampleTokenSet({ accessToken: 'b' }));
      assert.equal((await store.get('a'))?.accessToken, 'a');
      assert.equal((await store.get('b'))?.accessToken, 'b');
    });

    test('delete removes the token set, and deleting an absent key is fine', async () => {
      const store = await create();
      await store.set('k', sampleTokenSet());
      await store.delete('k');
      assert.equal(await store.get('k'), undefined);
      await store.delete('k');
    });

    test('a value changed after set does not change what is stored', async () => {
      const store = await create();
      const value = sampleTokenSet();
      await store.set('k', value);
      value.accessToken = 'mutated';
      assert.equal((await store.get('k'))?.accessToken, 'eyJ.access.token');
    });

    test('lock is exclusive per key: a second holder waits for the release', async () => {
      const store = await create();
      if (!store.lock) return;
      const release = await store.lock('k');
      let second = false;
      const waiting = store.lock('k').then((r) => {
        second = true;
        return r;
      });
      const other = await store.lock('another key');
      await other();
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(second, false);
      await release();
      await (await waiting)();
      assert.equal(second, true);
    });

    test('a wait for the lock ends when its signal aborts, and release is idempotent', async () => {
      const store = await create();
      if (!store.lock) return;
      const release = await store.lock('k');
      const controller = new AbortController();
      const waiting = store.lock('k', controller.signal);
      controller.abort(new Error('gave up'));
      await assert.rejects(waiting, /gave up/);
      await release();
      await release();
      await (await store.lock('k'))();
    });
  });
}
