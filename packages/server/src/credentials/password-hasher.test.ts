import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OWASP_ARGON2ID, PasswordHasher } from './password-hasher.js';
import { CLIENT, TEST_ACTOR, TEST_ARGON2, startHarness } from '../test/harness.js';
import { addClientApplication } from './client-applications.js';

describe('password hashing', () => {
  it('hashes with argon2id at the OWASP parameters by default', async () => {
    const hash = await new PasswordHasher().hash('a long enough password');
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    assert.deepEqual(OWASP_ARGON2ID, { memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const hasher = new PasswordHasher(TEST_ARGON2);
    const hash = await hasher.hash('right password');
    assert.equal((await hasher.check(hash, 'right password')).valid, true);
    assert.equal((await hasher.check(hash, 'wrong password')).valid, false);
    assert.equal((await hasher.check('not a hash', 'right password')).valid, false);
  });

  it('an unknown user (no hash) is never valid', async () => {
    const result = await new PasswordHasher(TEST_ARGON2).check(null, 'anything');
    assert.deepEqual(result, { valid: false, upgradedHash: null });
  });

  it('offers an upgraded hash when the stored one used older parameters', async () => {
    const old = await new PasswordHasher({ memoryCost: 512, timeCost: 1, parallelism: 1 }).hash('pw pw pw pw');
    const result = await new PasswordHasher(TEST_ARGON2).check(old, 'pw pw pw pw');
    assert.equal(result.valid, true);
    assert.match(result.upgradedHash ?? '', /^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
    assert.equal((await new PasswordHasher(TEST_ARGON2).check(old, 'wrong')).upgradedHash, null);
  });
});

describe('password grant and hashing', () => {
  it('upgrades a stored hash transparently on the next successful login', async () => {
    const h = await startHarness();
    try {
      const weak = new PasswordHasher({ memoryCost: 512, timeCost: 1, parallelism: 1 });
      const user = await h.server.auth.store.users.findByUsername(CLIENT.username);
      assert.ok(user);
      await h.server.auth.store.users.update(user.id, { passwordHash: await weak.hash(CLIENT.password), updatedAt: 1 });
      assert.equal((await h.token(CLIENT)).statusCode, 200);
      const upgraded = await h.server.auth.store.users.findById(user.id);
      assert.match(upgraded?.passwordHash ?? '', /m=1024,p=1,t=1/);
      assert.equal((await h.token(CLIENT)).statusCode, 200, 'the upgraded hash still verifies');
    } finally {
      await h.close();
    }
  });

  it('an unknown username still costs one hash verification', async () => {
    const h = await startHarness();
    try {
      const hasher = h.server.auth.hasher;
      const seen: Array<string | null> = [];
      const original = hasher.check.bind(hasher);
      hasher.check = async (hash, password) => {
        seen.push(hash);
        return original(hash, password);
      };
      await h.token({ username: 'nobody-here', password: 'some password' });
      await h.token({ username: CLIENT.username, password: 'some password' });
      assert.equal(seen.length, 2);
      assert.equal(seen[0], null, 'the unknown user is checked against the dummy hash');
    } finally {
      await h.close();
    }
  });

  it('new client applications need a username and password that meet the rules', async () => {
    const h = await startHarness();
    try {
      await assert.rejects(addClientApplication(h.server.auth, TEST_ACTOR, 'has space', 'a long enough password'), /username/);
      await assert.rejects(addClientApplication(h.server.auth, TEST_ACTOR, 'ok-name', 'short'), /password/);
      await assert.rejects(addClientApplication(h.server.auth, TEST_ACTOR, CLIENT.username, 'a long enough password'), /already exists/);
    } finally {
      await h.close();
    }
  });
});
