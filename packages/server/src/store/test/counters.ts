import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Counter } from '../port.js';
import { SECOND, T0, useStore, type OpenStore } from './harness.js';

const WINDOW = 60 * SECOND;

/** `counter` plus one, opening a window when there is none (the shape of every brute-force rule). */
function plusOne(counter: Counter | undefined): Counter {
  return counter ? { count: counter.count + 1, resetAt: counter.resetAt } : { count: 1, resetAt: T0 + WINDOW };
}

/**
 * Keyed counters (`CounterStore`): `read` returns what is stored, `update` reads, lets the caller
 * decide and writes as one atomic step. The rules themselves live in `credentials/brute-force.ts`.
 */
export function describeCounterStore(open: OpenStore): void {
  describe('counters', () => {
    const f = useStore(open);

    /** Increments every key in `keys` by one; resolves with the counts it wrote. */
    function increment(keys: readonly string[]): Promise<number[]> {
      return f.store.counters.update(keys, (current) => {
        const writes = new Map(keys.map((key) => [key, plusOne(current.get(key))]));
        return { result: [...writes.values()].map((counter) => counter.count), writes };
      });
    }

    it('read returns only the keys that are present, with what was written', async () => {
      assert.deepEqual(await f.store.counters.read([]), new Map());
      assert.deepEqual(await f.store.counters.read(['never-written']), new Map());
      await increment(['a']);
      await increment(['a']);
      await increment(['b']);
      assert.deepEqual(
        await f.store.counters.read(['a', 'never-written', 'b']),
        new Map([
          ['a', { count: 2, resetAt: T0 + WINDOW }],
          ['b', { count: 1, resetAt: T0 + WINDOW }],
        ]),
      );
      assert.deepEqual(await f.store.counters.read(['b']), new Map([['b', { count: 1, resetAt: T0 + WINDOW }]]));
    });

    it('update hands decide the current counters of its keys only, writes what it decides and returns its result', async () => {
      await increment(['mine', 'not-asked']);
      const result = await f.store.counters.update(['mine', 'absent'], (current) => {
        assert.deepEqual(current, new Map([['mine', { count: 1, resetAt: T0 + WINDOW }]]));
        return {
          result: 'decided',
          writes: new Map([
            ['mine', { count: 7, resetAt: T0 + 2 * WINDOW }],
            ['absent', { count: 1, resetAt: T0 + 3 * WINDOW }],
          ]),
        };
      });
      assert.equal(result, 'decided');
      assert.deepEqual(
        await f.store.counters.read(['mine', 'absent', 'not-asked']),
        new Map([
          ['mine', { count: 7, resetAt: T0 + 2 * WINDOW }],
          ['absent', { count: 1, resetAt: T0 + 3 * WINDOW }],
          ['not-asked', { count: 1, resetAt: T0 + WINDOW }],
        ]),
      );
    });

    it('a decision to write null deletes the key, and deleting an absent key is no error', async () => {
      await increment(['doomed', 'kept']);
      await f.store.counters.update(['doomed', 'ghost'], () => ({
        result: undefined,
        writes: new Map([
          ['doomed', null],
          ['ghost', null],
        ]),
      }));
      assert.deepEqual(await f.store.counters.read(['doomed', 'ghost', 'kept']), new Map([['kept', { count: 1, resetAt: T0 + WINDOW }]]));
      assert.deepEqual(await increment(['doomed']), [1], 'a deleted counter starts again');
    });

    it('a decision to write nothing changes nothing', async () => {
      await increment(['still']);
      assert.equal(await f.store.counters.update(['still'], () => ({ result: 42, writes: new Map() })), 42);
      assert.deepEqual(await f.store.counters.read(['still']), new Map([['still', { count: 1, resetAt: T0 + WINDOW }]]));
    });

    it('a decide that throws writes nothing and its error reaches the caller', async () => {
      await increment(['untouched']);
      const failure = new Error('decided to fail');
      await assert.rejects(
        f.store.counters.update(['untouched'], () => {
          throw failure;
        }),
        (error) => error === failure,
      );
      assert.deepEqual(await f.store.counters.read(['untouched']), new Map([['untouched', { count: 1, resetAt: T0 + WINDOW }]]));
      assert.deepEqual(await increment(['untouched']), [2], 'the store still works');
    });

    it('keys are compared exactly: case, length and prefixes matter', async () => {
      const keys = ['abc', 'ABC', 'ab', 'abc ', 'abcd', 'x'.repeat(1024), 'x'.repeat(1023)];
      for (const [i, key] of keys.entries()) {
        for (let n = 0; n <= i; n += 1) await increment([key]);
      }
      const counters = await f.store.counters.read(keys);
      for (const [i, key] of keys.entries()) assert.equal(counters.get(key)?.count, i + 1, `key #${i}`);
    });

    it('concurrent reads, of overlapping and absent keys, each answer only the keys they named', async () => {
      for (const [i, key] of ['a', 'b', 'c'].entries()) {
        for (let n = 0; n <= i; n += 1) await increment([key]);
      }
      const asks = [['a'], ['b', 'absent'], [], ['c', 'a'], ['absent'], ['a', 'b', 'c']];
      const answers = await Promise.all(asks.map((keys) => f.store.counters.read(keys)));
      const count = { a: 1, b: 2, c: 3 } as Record<string, number>;
      asks.forEach((keys, i) => {
        assert.deepEqual(
          answers[i],
          new Map(keys.filter((key) => key in count).map((key) => [key, { count: count[key], resetAt: T0 + WINDOW }])),
          `read #${i} of ${keys.join(',')}`,
        );
      });
    });

    it('50 concurrent increments of one key are each counted once', async () => {
      await f.warmUp();
      const results = await Promise.all(Array.from({ length: 50 }, () => increment(['contested'])));
      assert.deepEqual(
        results.map(([count]) => count).sort((a, b) => (a ?? 0) - (b ?? 0)),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      assert.equal((await f.store.counters.read(['contested'])).get('contested')?.count, 50);
    });

    it('concurrent updates of overlapping keys, named in any order, neither deadlock nor lose a write', async () => {
      await f.warmUp();
      const orders = [['k1', 'k2'], ['k2', 'k1'], ['k2', 'k3', 'k1'], ['k3', 'k1']] as const;
      await Promise.all(Array.from({ length: 40 }, (_, i) => increment(orders[i % orders.length] as readonly string[])));
      assert.deepEqual(
        await f.store.counters.read(['k1', 'k2', 'k3']),
        new Map([
          ['k1', { count: 40, resetAt: T0 + WINDOW }],
          ['k2', { count: 30, resetAt: T0 + WINDOW }],
          ['k3', { count: 20, resetAt: T0 + WINDOW }],
        ]),
      );
    });
  });
}
