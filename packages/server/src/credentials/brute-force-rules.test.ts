import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Counter } from '../store/port.js';
import { admitLogin, settleSuccessfulLogin, type BruteForcePolicy, type LoginKeys } from './brute-force.js';

const NOW = Date.UTC(2031, 0, 1);
const POLICY: BruteForcePolicy = {
  lockoutThreshold: 3,
  userLockoutThreshold: 10,
  lockoutWindowMs: 900_000,
  knownSourceMs: 86_400_000,
  sourceFailureLimit: 5,
  sourceWindowMs: 300_000,
};
const KEYS: LoginKeys = { pair: 'pair', user: 'user', known: 'known', source: 'source' };

function counters(values: Partial<Record<keyof LoginKeys, number>>, resetAt = NOW + 1000): Map<string, Counter> {
  return new Map(Object.entries(values).map(([key, count]) => [key, { count: count as number, resetAt }]));
}

describe('admitLogin: a table of counter states', () => {
  const rows: Array<{ name: string; state: Map<string, Counter>; kind: string }> = [
    { name: 'nothing counted yet', state: counters({}), kind: 'admitted' },
    { name: 'the pair one below its threshold', state: counters({ pair: 2, user: 2, source: 2 }), kind: 'admitted' },
    { name: 'the pair at its threshold', state: counters({ pair: 3, user: 3, source: 3 }), kind: 'locked' },
    { name: 'the username at its ceiling, from an unknown source', state: counters({ user: 10 }), kind: 'locked' },
    { name: 'the username at its ceiling, from a known source', state: counters({ user: 10, known: 1 }), kind: 'admitted' },
    { name: 'the pair at its threshold, even from a known source', state: counters({ pair: 3, known: 1 }), kind: 'locked' },
    { name: 'the source at its limit', state: counters({ source: 5 }), kind: 'throttled' },
    { name: 'the source at its limit outranks a lock', state: counters({ source: 5, pair: 3 }), kind: 'throttled' },
    { name: 'every counter past its window', state: counters({ pair: 3, user: 10, source: 5 }, NOW), kind: 'admitted' },
    { name: 'a known source whose period ended', state: new Map([...counters({ user: 10 }), ['known', { count: 1, resetAt: NOW }]]), kind: 'locked' },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.kind}`, () => {
      assert.equal(admitLogin(row.state, KEYS, NOW, POLICY).result.kind, row.kind);
    });
  }
});

describe('admitLogin: what each answer writes', () => {
  it('an admitted attempt is counted against the pair, the username and the source before any hashing', () => {
    const { writes } = admitLogin(counters({ pair: 1, user: 4, source: 2 }), KEYS, NOW, POLICY);
    assert.deepEqual(Object.fromEntries(writes), {
      pair: { count: 2, resetAt: NOW + 1000 },
      user: { count: 5, resetAt: NOW + 1000 },
      source: { count: 3, resetAt: NOW + 1000 },
    });
  });

  it('the first failure opens each window', () => {
    const { writes } = admitLogin(new Map(), KEYS, NOW, POLICY);
    assert.deepEqual(writes.get('pair'), { count: 1, resetAt: NOW + POLICY.lockoutWindowMs });
    assert.deepEqual(writes.get('source'), { count: 1, resetAt: NOW + POLICY.sourceWindowMs });
  });

  it('a locked attempt still counts against its source, and nothing else', () => {
    const { writes } = admitLogin(counters({ pair: 3, source: 1 }), KEYS, NOW, POLICY);
    assert.deepEqual(Object.fromEntries(writes), { source: { count: 2, resetAt: NOW + 1000 } });
  });

  it('a throttled attempt writes nothing and says how long to wait', () => {
    const decision = admitLogin(counters({ source: 5 }, NOW + 42_000), KEYS, NOW, POLICY);
    assert.deepEqual(decision.result, { kind: 'throttled', retryAfterMs: 42_000 });
    assert.equal(decision.writes.size, 0);
  });

  it('N concurrent attempts, each deciding on what the previous one wrote, verify at most the threshold', () => {
    let state = new Map<string, Counter>();
    const kinds: string[] = [];
    for (let i = 0; i < 80; i++) {
      const { result, writes } = admitLogin(state, KEYS, NOW, { ...POLICY, sourceFailureLimit: 1000 });
      kinds.push(result.kind);
      state = new Map([...state, ...[...writes].filter((entry): entry is [string, Counter] => entry[1] !== null)]);
    }
    assert.equal(kinds.filter((kind) => kind === 'admitted').length, POLICY.lockoutThreshold);
  });
});

describe('settleSuccessfulLogin', () => {
  it('gives the reservation back, forgets the pair and makes the source known for the user', () => {
    const { writes } = settleSuccessfulLogin(counters({ pair: 2, user: 5, source: 3 }), KEYS, NOW, POLICY);
    assert.deepEqual(Object.fromEntries(writes), {
      pair: null,
      user: { count: 4, resetAt: NOW + 1000 },
      source: { count: 2, resetAt: NOW + 1000 },
      known: { count: 1, resetAt: NOW + POLICY.knownSourceMs },
    });
  });

  it('a reservation that was the only count is deleted, not kept at zero', () => {
    const { writes } = settleSuccessfulLogin(counters({ pair: 1, user: 1, source: 1 }), KEYS, NOW, POLICY);
    assert.equal(writes.get('user'), null);
    assert.equal(writes.get('source'), null);
  });
});
