import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { OWASP_ARGON2ID, PasswordHasher } from './password-hasher.js';
import { CLIENT, TEST_ACTOR, TEST_ARGON2, startHarness } from '../test/harness.js';
import { addClientApplication } from './client-applications.js';
import { HashProbe } from '../test/hash-probe.js';

/** Written by the `argon2` package (the server's binding before @node-rs/argon2), password {@link CLIENT}'s. */
const ARGON2_PACKAGE_HASHES = {
  current: '$argon2id$v=19$m=1024,p=1,t=1$hRMyD6XdFIMLXftaN0Bhkw$SJOezZynY8bS060fIJjjnPmN0tnJ11eWMOLIasMoN8k',
  weaker: '$argon2id$v=19$m=512,p=1,t=1$cbs/l0B8eSM1UihyRQ6irg$Afq98FnrX7jT8pho2Y2bLIaRDA19C3XDpj9ehIe5gag',
  argon2i: '$argon2i$v=19$m=1024,p=1,t=1$qtlpPDknwTbbgPTShUWLpg$humh9PtzC9WIGpeDRNWPNGBlMSVCBGfzfh3oORQu3Yg',
};

describe('password hashing', () => {
  const hasher = new PasswordHasher(TEST_ARGON2);
  after(() => hasher.close());

  it('hashes with argon2id at the OWASP parameters by default', async () => {
    const owasp = new PasswordHasher();
    try {
      assert.match(await owasp.hash('a long enough password'), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.deepEqual(OWASP_ARGON2ID, { memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    } finally {
      await owasp.close();
    }
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hasher.hash('right password');
    assert.equal((await hasher.check(hash, 'right password')).valid, true);
    assert.equal((await hasher.check(hash, 'wrong password')).valid, false);
    assert.equal((await hasher.check('not a hash', 'right password')).valid, false);
  });

  it('an unknown user (no hash) is never valid', async () => {
    assert.deepEqual(await hasher.check(null, 'anything'), { valid: false, upgradedHash: null });
  });

  it('offers an upgraded hash when the stored one used older parameters', async () => {
    const weak = new PasswordHasher({ memoryCost: 512, timeCost: 1, parallelism: 1 });
    const old = await weak.hash('pw pw pw pw');
    await weak.close();
    const result = await hasher.check(old, 'pw pw pw pw');
    assert.equal(result.valid, true);
    assert.match(result.upgradedHash ?? '', /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.equal((await hasher.check(old, 'wrong')).upgradedHash, null);
  });

  it('hashes stored by the argon2 package still verify, and are upgraded only when their parameters differ', async () => {
    assert.deepEqual(await hasher.check(ARGON2_PACKAGE_HASHES.current, CLIENT.password), { valid: true, upgradedHash: null });
    assert.deepEqual(await hasher.check(ARGON2_PACKAGE_HASHES.current, 'wrong password'), { valid: false, upgradedHash: null });
    const weaker = await hasher.check(ARGON2_PACKAGE_HASHES.weaker, CLIENT.password);
    assert.equal(weaker.valid, true);
    assert.match(weaker.upgradedHash ?? '', /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    const argon2i = await hasher.check(ARGON2_PACKAGE_HASHES.argon2i, CLIENT.password);
    assert.equal(argon2i.valid, true);
    assert.match(argon2i.upgradedHash ?? '', /^\$argon2id\$/, 'another argon2 variant is moved to argon2id');
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
      assert.match(upgraded?.passwordHash ?? '', /m=1024,t=1,p=1/);
      assert.equal((await h.token(CLIENT)).statusCode, 200, 'the upgraded hash still verifies');
      await weak.close();
    } finally {
      await h.close();
    }
  });

  it('an unknown username costs one full hash verification, as a known one does', async () => {
    const probe = new HashProbe();
    const h = await startHarness({}, { hashProbe: probe.buffer });
    try {
      const before = probe.started;
      assert.equal((await h.token({ username: 'nobody-here', password: 'some password' })).statusCode, 401);
      assert.equal(probe.started, before + 1, 'the unknown user was checked against the dummy hash');
      assert.equal((await h.token({ username: CLIENT.username, password: 'some password' })).statusCode, 401);
      assert.equal(probe.started, before + 2);
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
