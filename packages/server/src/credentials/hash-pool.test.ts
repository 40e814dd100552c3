import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import { OverloadedError } from '../errors.js';
import { TEST_ARGON2 } from '../test/harness.js';
import { HashProbe } from '../test/hash-probe.js';
import { PasswordHasher, type PasswordHasherOptions } from './password-hasher.js';

const PASSWORD = 'the right password';

/** A hasher over real hashing threads whose hashes the probe can hold and count. */
async function heldHasher(options: PasswordHasherOptions) {
  const probe = new HashProbe();
  const clock = new ManualClock();
  const hasher = new PasswordHasher(TEST_ARGON2, { now: () => clock.now(), ...options, probe: probe.buffer });
  const hash = await hasher.hash(PASSWORD);
  probe.hold();
  return {
    probe,
    clock,
    hasher,
    check: (signal?: AbortSignal) => hasher.check(hash, PASSWORD, signal),
    /** Hashes started after the setup's own. */
    started: () => probe.started - 1,
    async close() {
      probe.release();
      await hasher.close();
    },
  };
}

/** Whether `promise` has settled by the time pending callbacks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('the bounded hashing pool', () => {
  it('refuses the check beyond its threads and queue at once with 503 and Retry-After, while the others run', async () => {
    const t = await heldHasher({ concurrency: 2, queueLimit: 3 });
    try {
      const admitted = Array.from({ length: 5 }, () => t.check());
      await t.probe.waitStarted(1 + 2);
      assert.deepEqual(t.hasher.load, { running: 2, queued: 3 });

      const refused = t.check();
      await assert.rejects(refused, (error: unknown) => {
        assert.ok(error instanceof OverloadedError);
        assert.equal(error.status, 503);
        assert.equal(error.error, 'temporarily_unavailable');
        assert.equal(error.retryAfter, 1);
        return true;
      });
      for (const check of admitted) assert.equal(await settled(check), false, 'the admitted checks still wait');

      t.probe.release();
      for (const check of admitted) assert.deepEqual(await check, { valid: true, upgradedHash: null });
      assert.equal(t.started(), 5, 'the refused check was never hashed');
    } finally {
      await t.close();
    }
  });

  it('a queue limit of 0 refuses every check that finds all threads busy', async () => {
    const t = await heldHasher({ concurrency: 1, queueLimit: 0 });
    try {
      const running = t.check();
      await t.probe.waitStarted(2);
      await assert.rejects(t.check(), OverloadedError);
      t.probe.release();
      assert.equal((await running).valid, true);
    } finally {
      await t.close();
    }
  });

  it('refuses a check that waited longer than the deadline instead of hashing it', async () => {
    const t = await heldHasher({ concurrency: 1, queueLimit: 4, maxWaitMs: 1000 });
    try {
      const running = t.check();
      await t.probe.waitStarted(2);
      const stale = t.check();
      t.clock.advance(600);
      const fresh = t.check();
      t.clock.advance(600);

      t.probe.release();
      await assert.rejects(stale, OverloadedError);
      assert.equal((await running).valid, true);
      assert.equal((await fresh).valid, true, 'a check within the deadline still runs');
      assert.equal(t.started(), 2, 'the stale check was never hashed');
    } finally {
      await t.close();
    }
  });

  it('a stale check is refused to make room for a new one when the queue is full', async () => {
    const t = await heldHasher({ concurrency: 1, queueLimit: 1, maxWaitMs: 1000 });
    try {
      const running = t.check();
      await t.probe.waitStarted(2);
      const stale = t.check();
      t.clock.advance(1001);
      const fresh = t.check();
      await assert.rejects(stale, OverloadedError);
      t.probe.release();
      assert.equal((await running).valid, true);
      assert.equal((await fresh).valid, true);
    } finally {
      await t.close();
    }
  });

  it('refuses at once a check that would wait past the deadline at the recent hash time', async () => {
    const t = await heldHasher({ concurrency: 2, queueLimit: 100, maxWaitMs: 1000 });
    try {
      // Two hashes that each took 400 ms of the clock: the pool now expects 400 ms per hash.
      const slow = [t.check(), t.check()];
      await t.probe.waitStarted(1 + 2);
      t.clock.advance(400);
      t.probe.release();
      await Promise.all(slow);

      t.probe.hold();
      const running = [t.check(), t.check()];
      await t.probe.waitStarted(1 + 4);
      // Queued k-th, a check waits about k / 2 × 400 ms: up to the 5th is within the second.
      const admitted = Array.from({ length: 5 }, () => t.check());
      await assert.rejects(t.check(), OverloadedError, 'the 6th would wait 1200 ms');
      assert.deepEqual(t.hasher.load, { running: 2, queued: 5 });

      t.probe.release();
      for (const check of [...running, ...admitted]) assert.equal((await check).valid, true);
    } finally {
      await t.close();
    }
  });

  it('an aborted check leaves the queue at once and is never hashed', async () => {
    const t = await heldHasher({ concurrency: 1, queueLimit: 4 });
    try {
      const running = t.check();
      await t.probe.waitStarted(2);
      const caller = new AbortController();
      const abandoned = t.check(caller.signal);
      assert.deepEqual(t.hasher.load, { running: 1, queued: 1 });

      caller.abort(new Error('client went away'));
      await assert.rejects(abandoned, /client went away/);
      assert.deepEqual(t.hasher.load, { running: 1, queued: 0 });

      t.probe.release();
      assert.equal((await running).valid, true);
      assert.equal((await t.check()).valid, true);
      assert.equal(t.started(), 2, 'only the two checks whose callers stayed were hashed');
    } finally {
      await t.close();
    }
  });

  it('a check whose signal is already aborted is refused without a hash', async () => {
    const t = await heldHasher({ concurrency: 1, queueLimit: 4 });
    try {
      t.probe.release();
      await assert.rejects(t.check(AbortSignal.abort(new Error('gone before it began'))), /gone before it began/);
      assert.equal(t.started(), 0);
    } finally {
      await t.close();
    }
  });

  it('a check aborted while it runs answers its caller at once and lets the next check through', async () => {
    const t = await heldHasher({ concurrency: 1, queueLimit: 4 });
    try {
      const caller = new AbortController();
      const running = t.check(caller.signal);
      await t.probe.waitStarted(2);
      const next = t.check();
      caller.abort(new Error('client went away'));
      await assert.rejects(running, /client went away/);
      t.probe.release();
      assert.equal((await next).valid, true);
    } finally {
      await t.close();
    }
  });

  it('rejects options that would make no pool', () => {
    assert.throws(() => new PasswordHasher(TEST_ARGON2, { concurrency: 0 }), TypeError);
    assert.throws(() => new PasswordHasher(TEST_ARGON2, { queueLimit: -1 }), TypeError);
    assert.throws(() => new PasswordHasher(TEST_ARGON2, { maxWaitMs: 1.5 }), TypeError);
  });
});
