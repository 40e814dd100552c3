import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { SQLITE_FILENAME } from '../store/open.js';
import { BASE, CLIENT, startHarness, type Harness } from '../test/harness.js';

const WRONG = (i: number) => ({ username: CLIENT.username, password: `wrong guess number ${i}` });

/** Counts the password verifications the server performs. */
function countHashes(h: Harness): () => number {
  const hasher = h.server.auth.hasher;
  const check = hasher.check.bind(hasher);
  let calls = 0;
  hasher.check = async (...args: Parameters<typeof check>) => {
    calls += 1;
    return check(...args);
  };
  return () => calls;
}

function tokenFrom(h: Harness, address: string, body: unknown) {
  return h.server.app.inject({
    method: 'POST',
    url: `${BASE}/auth/token`,
    remoteAddress: address,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

describe('brute force in parallel (the attempt is reserved before the hash)', () => {
  it('80 wrong guesses and the right password sent at once verify at most the threshold, and the rest answer as a wrong password without a hash', async () => {
    const h = await startHarness({ ANTPEER_LOCKOUT_THRESHOLD: '10', ANTPEER_SOURCE_FAILURE_LIMIT: '1000' });
    try {
      const hashes = countHashes(h);
      const bodies = [...Array.from({ length: 80 }, (_, i) => WRONG(i)), CLIENT];
      const answers = await Promise.all(bodies.map((body) => h.token(body)));
      assert.ok(hashes() <= 10, `${hashes()} passwords were verified`);
      const statuses = new Set(answers.slice(0, 80).map((answer) => answer.statusCode));
      assert.deepEqual([...statuses], [401]);
      const lockedAnswer = answers.at(-1);
      if (lockedAnswer?.statusCode !== 200) assert.equal(lockedAnswer?.body, answers[0]?.body, 'the right password answers as a wrong one');
    } finally {
      await h.close();
    }
  });

  it('a source over its limit gets 429 for the excess of a parallel burst, without hashing it', async () => {
    const h = await startHarness({ ANTPEER_LOCKOUT_THRESHOLD: '1000', ANTPEER_SOURCE_FAILURE_LIMIT: '5' });
    try {
      const hashes = countHashes(h);
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => h.token({ username: `app-${i}`, password: 'guess guess guess' })));
      assert.equal(hashes(), 5);
      assert.equal(answers.filter((answer) => answer.statusCode === 429).length, 25);
    } finally {
      await h.close();
    }
  });
});

describe('lockout per (username, source), with a ceiling per username that spares known sources', () => {
  it('failures from one address lock that address only: the client application logs in from its own address', async () => {
    const h = await startHarness({ ANTPEER_LOCKOUT_THRESHOLD: '3', ANTPEER_SOURCE_FAILURE_LIMIT: '1000' });
    try {
      for (let i = 0; i < 5; i++) await tokenFrom(h, '198.51.100.66', WRONG(i));
      assert.equal((await tokenFrom(h, '198.51.100.66', CLIENT)).statusCode, 401, 'the attacking address is locked');
      assert.equal((await tokenFrom(h, '192.0.2.10', CLIENT)).statusCode, 200, 'the application itself is not locked out');
    } finally {
      await h.close();
    }
  });

  it('past the per-username ceiling only sources that never logged in as that user are locked', async () => {
    const h = await startHarness({
      ANTPEER_LOCKOUT_THRESHOLD: '3',
      ANTPEER_LOCKOUT_USER_THRESHOLD: '6',
      ANTPEER_SOURCE_FAILURE_LIMIT: '1000',
    });
    try {
      assert.equal((await tokenFrom(h, '192.0.2.10', CLIENT)).statusCode, 200, 'the application logs in: its address is now known');
      for (let i = 0; i < 8; i++) await tokenFrom(h, `198.51.100.${i}`, WRONG(i));
      assert.equal((await tokenFrom(h, '192.0.2.10', CLIENT)).statusCode, 200, 'a known source is spared');
      const fresh = await tokenFrom(h, '192.0.2.99', CLIENT);
      assert.equal(fresh.statusCode, 401, 'a new source is locked out of the hammered username');
      assert.equal(fresh.json<{ error_description: string }>().error_description, 'Invalid user credentials');
      h.clock.advance(h.config.bruteForce.lockoutWindowMs);
      assert.equal((await tokenFrom(h, '192.0.2.99', CLIENT)).statusCode, 200, 'the ceiling ends with the window');
    } finally {
      await h.close();
    }
  });

  it('counter keys are keyed hashes: neither the username, a password typed as one, nor the address is in the store', async () => {
    const h = await startHarness();
    try {
      const typedPassword = 'my secret password typed in the wrong field';
      await tokenFrom(h, '198.51.100.7', { username: typedPassword, password: 'x' });
      await tokenFrom(h, '198.51.100.7', WRONG(1));
      const db = new Database(join(h.dataDir, SQLITE_FILENAME), { readonly: true });
      try {
        const keys = (db.prepare('SELECT key FROM failure_counters').all() as Array<{ key: string }>).map((row) => row.key);
        assert.ok(keys.length >= 4);
        for (const key of keys) {
          assert.match(key, /^[A-Za-z0-9_-]{43}$/);
          for (const secret of [typedPassword, CLIENT.username, '198.51.100.7']) assert.ok(!key.includes(secret));
        }
      } finally {
        db.close();
      }
    } finally {
      await h.close();
    }
  });

  it('a username longer than any client application can have is refused without a store lookup of it', async () => {
    const h = await startHarness();
    try {
      const hashes = countHashes(h);
      const response = await h.token({ username: 'u'.repeat(16_000), password: 'whatever password' });
      assert.equal(response.statusCode, 401);
      assert.equal(hashes(), 1, 'still one hash, as for any unknown username');
    } finally {
      await h.close();
    }
  });
});
