import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { IDLE, MAX, ORIGIN, SECOND, T0, newSession, useStore, type OpenStore } from './harness.js';

/**
 * Sessions (`SessionStore`) as logins, listings and logouts see them: creation under a limit of
 * active sessions, listing, ending. Changes to a session's refresh-token chain are in `session-changes.ts`.
 */
export function describeSessionStore(open: OpenStore): void {
  describe('sessions', () => {
    const f = useStore(open);


    describe('create', () => {
      it('a new session is open at generation 0, its first token issued and last refreshed at creation, not rotated yet', async () => {
        const user = await f.addUser();
        const created = newSession(user);
        const session = await f.store.sessions.create(created, 5);
        assert.deepEqual(session, {
          id: created.id,
          userId: user.id,
          createdAt: T0,
          idleExpiresAt: T0 + IDLE,
          maxExpiresAt: T0 + MAX,
          lastRefreshAt: T0,
          endedAt: null,
          endReason: null,
          sourceAddress: ORIGIN.address,
          userAgent: ORIGIN.userAgent,
          generation: 0,
          tokenIssuedAt: T0,
          previousIssuedAt: null,
          rotatedBy: null,
          rotationWindowStart: T0,
          rotationsInWindow: 0,
        });
        assert.deepEqual(await f.store.sessions.get(created.id), session);
      });

      it('a session started with its audit event commits both together; refused for the limit, neither', async () => {
        const user = await f.addUser();
        const audit = (sessionId: string, detail: string) => ({
          at: T0,
          type: 'login_succeeded' as const,
          userId: user.id,
          sessionId,
          sourceAddress: ORIGIN.address,
          userAgent: ORIGIN.userAgent,
          detail,
        });
        const started = newSession(user);
        assert.ok(await f.store.sessions.create({ ...started, audit: audit(started.id, 'started') }, 1));
        const refused = newSession(user, T0 + SECOND);
        assert.equal(await f.store.sessions.create({ ...refused, audit: audit(refused.id, 'refused') }, 1), null);

        const events = await f.store.audit.list({ userId: user.id, limit: 10 });
        assert.deepEqual(
          events.map((event) => [event.type, event.sessionId, event.detail]),
          [['login_succeeded', started.id, 'started']],
        );
      });

      it('get returns null for an unknown id', async () => {
        assert.equal(await f.store.sessions.get(randomUUID()), null);
      });

      it('any string a console URL may carry as a session or user id (NUL included) finds nothing instead of failing', async () => {
        const user = await f.addUser();
        await f.store.sessions.create(newSession(user), 10);
        for (const id of ['\u0000', 'a\u0000b', `${user.id}\u0000`, 'x'.repeat(16 * 1024), '']) {
          assert.equal(await f.store.sessions.get(id), null, JSON.stringify(id.slice(0, 10)));
          assert.deepEqual(await f.store.sessions.listActive(T0, { userId: id, limit: 10 }), []);
          assert.equal(await f.store.users.findById(id), null);
          assert.deepEqual(await f.store.audit.list({ userId: id, limit: 10 }), []);
        }
      });

      it('a user with maxActive active sessions gets no more: create returns null and writes nothing', async () => {
        const user = await f.addUser();
        const first = await f.store.sessions.create(newSession(user, T0), 2);
        const second = await f.store.sessions.create(newSession(user, T0 + SECOND), 2);
        assert.ok(first && second);
        const refused = newSession(user, T0 + 2 * SECOND);

        assert.equal(await f.store.sessions.create(refused, 2), null);

        assert.equal(await f.store.sessions.get(refused.id), null);
        assert.deepEqual(await f.store.sessions.listActive(T0 + 2 * SECOND, { userId: user.id, limit: 1000 }), [second, first]);
        assert.ok(await f.store.sessions.create(newSession(user, T0 + 2 * SECOND), 3), 'a higher limit lets one more in');
      });

      it('only the user’s active sessions count against maxActive: not ended, expired or other users’ ones', async () => {
        const user = await f.addUser('limited');
        const other = await f.addUser('other');
        const now = T0 + 100 * SECOND;
        const ended = await f.openSession(user);
        await f.store.sessions.end(ended.id, 'logout', T0 + SECOND);
        await f.openSession(user, { idleMs: 50 * SECOND });
        await f.openSession(user, { idleMs: 100 * SECOND }); // idle expiry exactly now: no longer active
        await f.openSession(user, { idleMs: 200 * SECOND, maxMs: 100 * SECOND });
        await f.openSession(other, { at: now });
        await f.openSession(other, { at: now });

        const admitted = await f.store.sessions.create(newSession(user, now), 1);

        assert.ok(admitted, 'no active session counted');
        assert.equal(await f.store.sessions.create(newSession(user, now + SECOND), 1), null, 'now one is active');
        assert.ok(await f.store.sessions.create(newSession(other, now), 3), 'the other user has a limit of its own');
      });

      it('a user who started and ended many sessions still gets one whenever fewer than maxActive are active', async () => {
        const user = await f.addUser();
        const kept = await f.store.sessions.create(newSession(user, T0), 2);
        assert.ok(kept);
        for (let i = 1; i <= 6; i++) {
          const started = await f.store.sessions.create(newSession(user, T0 + i * SECOND), 2);
          assert.ok(started, `login ${i + 1} finds room: one other session is active`);
          await f.store.sessions.end(started.id, 'logout', T0 + i * SECOND);
        }
        const second = await f.store.sessions.create(newSession(user, T0 + 7 * SECOND), 2);
        assert.ok(second, 'one more fits');
        assert.equal(await f.store.sessions.create(newSession(user, T0 + 8 * SECOND), 2), null, 'two are active: no room');
        await f.store.sessions.end(kept.id, 'logout', T0 + 9 * SECOND);
        assert.ok(await f.store.sessions.create(newSession(user, T0 + 10 * SECOND), 2), 'a logout makes room again');
      });

      it('of 20 concurrent creates for one user with maxActive 5, exactly 5 succeed, and only those are stored', async () => {
        const user = await f.addUser();
        const bystander = await f.addUser();
        await f.warmUp();
        const attempts = Array.from({ length: 20 }, (_, i) => newSession(i % 4 === 3 ? bystander : user, T0 + i));

        const results = await Promise.all(attempts.map((attempt) => f.store.sessions.create(attempt, 5)));

        const created = attempts.filter((_, i) => results[i] !== null);
        assert.equal(created.filter((attempt) => attempt.userId === user.id).length, 5);
        assert.equal(created.filter((attempt) => attempt.userId === bystander.id).length, 5, 'all five of the bystander’s');
        const listed = await f.store.sessions.listActive(T0 + 20, { userId: user.id, limit: 1000 });
        assert.deepEqual(
          listed.map((session) => session.id).sort(),
          created.filter((attempt) => attempt.userId === user.id).map((attempt) => attempt.id).sort(),
        );
        for (const [i, attempt] of attempts.entries()) {
          if (results[i] === null) assert.equal(await f.store.sessions.get(attempt.id), null);
        }
      });
    });

    describe('listActive', () => {
      it('leaves out ended, idle-expired and max-expired sessions', async () => {
        const user = await f.addUser();
        const now = T0 + 100 * SECOND;
        const open = await f.openSession(user);
        const ended = await f.openSession(user);
        await f.store.sessions.end(ended.id, 'logout', T0 + SECOND);
        await f.openSession(user, { idleMs: 50 * SECOND });
        await f.openSession(user, { idleMs: 100 * SECOND }); // idle expiry exactly now: no longer active
        await f.openSession(user, { idleMs: 200 * SECOND, maxMs: 100 * SECOND });
        assert.deepEqual(await f.store.sessions.listActive(now, { limit: 1000 }), [open]);
      });

      it('returns newest first and filters by user', async () => {
        const alice = await f.addUser('alice');
        const bob = await f.addUser('bob');
        const a1 = await f.openSession(alice, { at: T0 });
        const b1 = await f.openSession(bob, { at: T0 + SECOND });
        const a2 = await f.openSession(alice, { at: T0 + 2 * SECOND });
        const now = T0 + 3 * SECOND;
        assert.deepEqual(await f.store.sessions.listActive(now, { limit: 1000 }), [a2, b1, a1]);
        assert.deepEqual(await f.store.sessions.listActive(now, { userId: alice.id, limit: 1000 }), [a2, a1]);
        assert.deepEqual(await f.store.sessions.listActive(now, { userId: bob.id, limit: 1000 }), [b1]);
        assert.deepEqual(await f.store.sessions.listActive(now, { userId: randomUUID(), limit: 1000 }), []);
      });

      it('returns the newest `limit` of them, for all users or one', async () => {
        const alice = await f.addUser('alice');
        const bob = await f.addUser('bob');
        const a1 = await f.openSession(alice, { at: T0 });
        const b1 = await f.openSession(bob, { at: T0 + SECOND });
        const a2 = await f.openSession(alice, { at: T0 + 2 * SECOND });
        const ended = await f.openSession(alice, { at: T0 + 3 * SECOND });
        await f.store.sessions.end(ended.id, 'logout', T0 + 3 * SECOND);
        const now = T0 + 4 * SECOND;
        assert.deepEqual(await f.store.sessions.listActive(now, { limit: 2 }), [a2, b1]);
        assert.deepEqual(await f.store.sessions.listActive(now, { userId: alice.id, limit: 1 }), [a2], 'an ended newer session does not take a place');
        assert.deepEqual(await f.store.sessions.listActive(now, { userId: alice.id, limit: 2 }), [a2, a1]);
      });
    });

    describe('countActive', () => {
      const UNBOUNDED = { total: 1000, sample: 1000 };

      it('counts what listActive lists, and the busiest user’s share of it', async () => {
        const alice = await f.addUser('alice');
        const bob = await f.addUser('bob');
        const now = T0 + 100 * SECOND;
        await f.openSession(alice);
        await f.openSession(alice);
        await f.openSession(bob);
        const ended = await f.openSession(bob);
        await f.store.sessions.end(ended.id, 'logout', T0 + SECOND);
        await f.openSession(alice, { idleMs: 50 * SECOND });
        await f.openSession(bob, { idleMs: 100 * SECOND }); // idle expiry exactly now: no longer active
        await f.openSession(bob, { idleMs: 200 * SECOND, maxMs: 100 * SECOND });

        assert.equal((await f.store.sessions.listActive(now, { limit: 1000 })).length, 3);
        assert.deepEqual(await f.store.sessions.countActive(now, UNBOUNDED), { total: 3, busiestUser: 2 });
      });

      it('is zero with no active session', async () => {
        assert.deepEqual(await f.store.sessions.countActive(T0, UNBOUNDED), { total: 0, busiestUser: 0 });
      });

      it('counts no further than its bounds; the busiest user is taken from the sessions that expire last', async () => {
        const alice = await f.addUser('alice');
        const bob = await f.addUser('bob');
        for (let i = 0; i < 3; i += 1) await f.openSession(alice, { at: T0 + i });
        for (let i = 0; i < 2; i += 1) await f.openSession(bob, { at: T0 + 10 + i });

        assert.deepEqual(await f.store.sessions.countActive(T0 + 20, { total: 4, sample: 2 }), { total: 4, busiestUser: 2 });
        assert.deepEqual(await f.store.sessions.countActive(T0 + 20, { total: 5, sample: 3 }), { total: 5, busiestUser: 2 });
        assert.deepEqual(await f.store.sessions.countActive(T0 + 20, { total: 5, sample: 5 }), { total: 5, busiestUser: 3 });
      });
    });

    describe('end', () => {
      it('ends an open session once; ending it again changes nothing and returns false', async () => {
        const user = await f.addUser();
        const session = await f.openSession(user);
        assert.equal(await f.store.sessions.end(session.id, 'logout', T0 + SECOND), true);
        const ended = { ...session, endedAt: T0 + SECOND, endReason: 'logout' as const };
        assert.deepEqual(await f.store.sessions.get(session.id), ended);
        assert.equal(await f.store.sessions.end(session.id, 'revoked', T0 + 2 * SECOND), false);
        assert.deepEqual(await f.store.sessions.get(session.id), ended);
        assert.deepEqual(await f.store.sessions.listActive(T0 + 2 * SECOND, { limit: 1000 }), []);
      });

      it('returns false for an unknown session', async () => {
        assert.equal(await f.store.sessions.end(randomUUID(), 'revoked', T0), false);
      });

      it('endAllOfUser ends every open session of that user only, and counts them', async () => {
        const alice = await f.addUser('alice');
        const bob = await f.addUser('bob');
        const a1 = await f.openSession(alice);
        const a2 = await f.openSession(alice);
        const a3 = await f.openSession(alice);
        await f.store.sessions.end(a3.id, 'logout', T0 + SECOND);
        const b1 = await f.openSession(bob);

        assert.equal(await f.store.sessions.endAllOfUser(alice.id, 'user_disabled', T0 + 2 * SECOND), 2);

        for (const session of [a1, a2]) {
          assert.deepEqual(await f.store.sessions.get(session.id), { ...session, endedAt: T0 + 2 * SECOND, endReason: 'user_disabled' });
        }
        assert.deepEqual(await f.store.sessions.get(a3.id), { ...a3, endedAt: T0 + SECOND, endReason: 'logout' });
        assert.deepEqual(await f.store.sessions.get(b1.id), b1);
        assert.equal(await f.store.sessions.endAllOfUser(alice.id, 'revoked', T0 + 3 * SECOND), 0);
        assert.equal(await f.store.sessions.endAllOfUser(randomUUID(), 'revoked', T0 + 3 * SECOND), 0);
      });
    });
  });
}
