import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Session, SessionChange, SessionUser, Store, User } from '../port.js';
import {
  IDLE,
  ORIGIN,
  REPLAYER,
  SECOND,
  T0,
  auditEvent,
  listAudit,
  revocation,
  rotation,
  useStore,
  type OpenStore,
} from './harness.js';

/**
 * What refreshes rely on (`SessionStore.getContext` and `SessionStore.apply`): a snapshot of a
 * session with its user and the realm policy, and changes decided from it that apply by
 * compare-and-set on the generation, with their audit event, durably.
 */
export function describeSessionChanges(open: OpenStore): void {
  describe('session changes', () => {
    const f = useStore(open);

    /** Every audit event in the store, newest first. */
    function auditTrail(store: Store = f.store) {
      return listAudit(store);
    }

    /** The session as `change` leaves it. */
    function changed(session: Session, change: SessionChange): Session {
      return { ...session, ...change.patch };
    }

    /** What a context holds of a user: everything but the password hash (contexts are cached in memory). */
    function sessionUser(user: User | undefined): SessionUser | undefined {
      if (user === undefined) return undefined;
      const { passwordHash: _omitted, ...rest } = user;
      return rest;
    }

    describe('getContext', () => {
      it('returns the session, its user and the realm not-before policy, as they are now', async () => {
        const user = await f.addUser();
        const session = await f.openSession(user);
        assert.deepEqual(await f.store.sessions.getContext(session.id), { session, user: sessionUser(user), realmNotBefore: 0 });

        await f.store.settings.setRealmNotBefore(T0 + 5 * SECOND);
        const userPatch = { enabled: false, notBefore: T0 + 7 * SECOND, canIntrospect: true, updatedAt: T0 + 8 * SECOND };
        await f.store.users.update(user.id, userPatch);
        const refresh = rotation(session, T0 + 8 * SECOND);
        assert.equal(await f.store.sessions.apply(refresh), true);
        await f.store.sessions.end(session.id, 'revoked', T0 + 9 * SECOND);

        assert.deepEqual(await f.store.sessions.getContext(session.id), {
          session: { ...changed(session, refresh), endedAt: T0 + 9 * SECOND, endReason: 'revoked' },
          user: sessionUser({ ...user, ...userPatch }),
          realmNotBefore: T0 + 5 * SECOND,
        });
      });

      it('returns null for an unknown session', async () => {
        assert.equal(await f.store.sessions.getContext(randomUUID()), null);
      });

      it('concurrent reads of many sessions, some repeated, some unknown, each get their own', async () => {
        const users = await Promise.all(['ann', 'ben', 'cat'].map((name) => f.addUser(name)));
        const sessions = await Promise.all(Array.from({ length: 12 }, (_, i) => f.openSession(users[i % 3] as (typeof users)[number], { at: T0 + i })));
        const ids = [...sessions.map((session) => session.id), randomUUID(), ...sessions.slice(0, 4).map((session) => session.id), randomUUID()];

        const contexts = await Promise.all(ids.map((id) => f.store.sessions.getContext(id)));

        contexts.forEach((context, i) => {
          const session = sessions.find((candidate) => candidate.id === ids[i]);
          assert.deepEqual(context, session ? { session, user: sessionUser(users.find((user) => user.id === session.userId)), realmNotBefore: 0 } : null);
        });
      });

      it('every change through the store is seen by the very next read, one at a time', async () => {
        const { sessions, users, settings } = f.store;
        const user = await f.addUser();
        const session = await f.openSession(user);
        const read = async () => {
          // Read twice: an adapter that keeps contexts answers the second from what it kept.
          await sessions.getContext(session.id);
          return sessions.getContext(session.id);
        };
        await read();
        await settings.setRealmNotBefore(T0 + SECOND);
        assert.equal((await read())?.realmNotBefore, T0 + SECOND);
        await users.update(user.id, { notBefore: T0 + 2 * SECOND, updatedAt: T0 + 2 * SECOND });
        assert.equal((await read())?.user.notBefore, T0 + 2 * SECOND);
        await users.update(user.id, { enabled: false, updatedAt: T0 + 3 * SECOND });
        assert.equal((await read())?.user.enabled, false);
        const refresh = rotation(session, T0 + 4 * SECOND);
        assert.equal(await sessions.apply(refresh), true);
        assert.equal((await read())?.session.generation, 1);
        await sessions.end(session.id, 'revoked', T0 + 5 * SECOND);
        assert.equal((await read())?.session.endedAt, T0 + 5 * SECOND);

        const other = await f.openSession(user);
        assert.equal((await sessions.getContext(other.id))?.session.endedAt, null);
        await sessions.endAllOfUser(user.id, 'user_disabled', T0 + 6 * SECOND);
        assert.equal((await sessions.getContext(other.id))?.session.endedAt, T0 + 6 * SECOND);
        await users.remove(user.id);
        assert.equal(await sessions.getContext(other.id), null);
      });

      it('a change through another store on the same data is seen by every read from the next turn of the event loop on', async (t) => {
        const { reopen } = f.opened;
        if (!reopen) return t.skip('this adapter cannot open a second store on the same data');
        const user = await f.addUser();
        const session = await f.openSession(user);
        const second = await reopen();
        try {
          const read = async () => {
            // A request arriving after the change is taken in a later turn than the change's.
            await nextTurn();
            await f.store.sessions.getContext(session.id);
            return f.store.sessions.getContext(session.id);
          };
          await read();
          await second.settings.setRealmNotBefore(T0 + SECOND);
          assert.equal((await read())?.realmNotBefore, T0 + SECOND);
          await second.users.update(user.id, { enabled: false, updatedAt: T0 + 2 * SECOND });
          assert.equal((await read())?.user.enabled, false);
          await second.sessions.end(session.id, 'revoked', T0 + 3 * SECOND);
          assert.equal((await read())?.session.endedAt, T0 + 3 * SECOND);
        } finally {
          await second.close();
        }
      });

      it('each session comes with its own user', async () => {
        const alice = await f.addUser('alice');
        const bob = await f.addUser('bob');
        const a = await f.openSession(alice);
        const b = await f.openSession(bob);
        assert.deepEqual((await f.store.sessions.getContext(a.id))?.user, sessionUser(alice));
        assert.deepEqual((await f.store.sessions.getContext(b.id))?.user, sessionUser(bob));
      });
    });

    describe('apply', () => {
      it('a change at the current generation applies: every patched field is written, every other kept', async () => {
        const user = await f.addUser();
        const session = await f.openSession(user, { maxMs: IDLE + 60 * SECOND });
        const refresh = rotation(session, T0 + 120 * SECOND);
        assert.equal(refresh.patch.idleExpiresAt, session.maxExpiresAt, 'the slide stops at the max lifetime');

        assert.equal(await f.store.sessions.apply(refresh), true);

        const expected = changed(session, refresh);
        assert.deepEqual(expected, {
          ...session,
          generation: 1,
          tokenIssuedAt: T0 + 120 * SECOND,
          previousIssuedAt: T0,
          idleExpiresAt: session.maxExpiresAt,
          lastRefreshAt: T0 + 120 * SECOND,
          rotatedBy: ORIGIN,
        });
        assert.deepEqual(await f.store.sessions.get(session.id), expected);
        assert.deepEqual(await f.store.sessions.getContext(session.id), { session: expected, user: sessionUser(user), realmNotBefore: 0 });
        assert.deepEqual(await f.store.sessions.listActive(T0 + 120 * SECOND, { limit: 1000 }), [expected]);
        assert.deepEqual(await auditTrail(), [], 'a change without an audit event records none');
      });

      it('each change decided from the last one’s result applies in turn', async () => {
        const user = await f.addUser();
        let session = await f.openSession(user);
        for (let i = 1; i <= 4; i += 1) {
          const refresh = rotation(session, T0 + i * 60 * SECOND);
          assert.equal(await f.store.sessions.apply(refresh), true, `rotation ${i}`);
          session = changed(session, refresh);
          assert.deepEqual(await f.store.sessions.get(session.id), session);
        }
        assert.equal(session.generation, 4);
        assert.equal(session.previousIssuedAt, T0 + 3 * 60 * SECOND);
      });

      it('who made a rotation is kept exactly, and stays through a later change that does not name it', async () => {
        const user = await f.addUser();
        let session = await f.openSession(user);
        for (const source of [REPLAYER, { address: '2001:db8::1', userAgent: '' }, { address: '192.0.2.1', userAgent: 'x'.repeat(4096) }]) {
          const refresh = rotation(session, session.tokenIssuedAt + SECOND, undefined, source);
          assert.equal(await f.store.sessions.apply(refresh), true);
          session = changed(session, refresh);
          assert.deepEqual((await f.store.sessions.get(session.id))?.rotatedBy, source);
        }
        const reuse = revocation(session, session.tokenIssuedAt + SECOND);
        assert.equal(await f.store.sessions.apply(reuse), true);
        assert.deepEqual(await f.store.sessions.get(session.id), changed(session, reuse));
      });

      it('a change decided from a stale generation writes nothing, not even its audit event, and returns false', async () => {
        const user = await f.addUser();
        const session = await f.openSession(user);
        const first = rotation(session, T0 + SECOND);
        assert.equal(await f.store.sessions.apply(first), true);
        const current = changed(session, first);

        assert.equal(await f.store.sessions.apply(rotation(session, T0 + 2 * SECOND)), false);
        assert.equal(await f.store.sessions.apply(revocation(session, T0 + 2 * SECOND)), false);
        const ahead = { ...rotation(current, T0 + 2 * SECOND), expectedGeneration: 2 };
        assert.equal(await f.store.sessions.apply(ahead), false, 'a generation the session has not reached');

        assert.deepEqual(await f.store.sessions.get(session.id), current);
        assert.deepEqual(await auditTrail(), []);
      });

      it('a change to an ended session writes nothing, even at its current generation, and returns false', async () => {
        const user = await f.addUser();
        const session = await f.openSession(user);
        await f.store.sessions.end(session.id, 'logout', T0 + SECOND);
        const ended = { ...session, endedAt: T0 + SECOND, endReason: 'logout' as const };

        assert.equal(await f.store.sessions.apply(rotation(session, T0 + 2 * SECOND)), false);
        assert.equal(await f.store.sessions.apply(revocation(session, T0 + 2 * SECOND)), false);

        assert.deepEqual(await f.store.sessions.get(session.id), ended);
        assert.deepEqual(await auditTrail(), []);
      });

      it('a change to an unknown session writes nothing and returns false', async () => {
        const user = await f.addUser();
        const session = await f.openSession(user);
        const ghost = { ...session, id: randomUUID() };
        assert.equal(await f.store.sessions.apply(rotation(ghost, T0 + SECOND)), false);
        assert.equal(await f.store.sessions.apply(revocation(ghost, T0 + SECOND)), false);
        assert.equal(await f.store.sessions.get(ghost.id), null);
        assert.deepEqual(await f.store.sessions.get(session.id), session);
        assert.deepEqual(await auditTrail(), []);
      });

      it('a change that ends the session records its audit event with it, field for field', async () => {
        const user = await f.addUser();
        const session = await f.openSession(user);
        const reuse = revocation(session, T0 + 60 * SECOND, REPLAYER, 'generation 0 presented after generation 1 ✓');

        assert.equal(await f.store.sessions.apply(reuse), true);

        assert.deepEqual(await f.store.sessions.get(session.id), { ...session, endedAt: T0 + 60 * SECOND, endReason: 'reuse' });
        assert.deepEqual(await f.store.sessions.listActive(T0 + 60 * SECOND, { userId: user.id, limit: 1000 }), []);
        assert.deepEqual(await auditTrail(), [reuse.audit]);
        assert.equal(await f.store.sessions.apply(rotation(session, T0 + 61 * SECOND)), false, 'nothing applies after the end');
      });

      it('a rotation may carry an audit event too, recorded iff it applies', async () => {
        const user = await f.addUser();
        const session = await f.openSession(user);
        const noted = auditEvent(T0 + SECOND, { type: 'refresh', userId: user.id, sessionId: session.id });
        assert.equal(await f.store.sessions.apply(rotation(session, T0 + SECOND, noted)), true);
        assert.equal(await f.store.sessions.apply(rotation(session, T0 + SECOND, { ...noted, detail: 'lost the race' })), false);
        assert.deepEqual(await auditTrail(), [noted]);
      });

      it('of 50 concurrent changes decided from one snapshot exactly one applies, whole, with only its audit event', async () => {
        const user = await f.addUser();
        const session = await f.openSession(user);
        await f.warmUp();
        // Half refresh, half detect a reuse, each with its own times and audit detail, so a mix of
        // two changes would show.
        const changes = Array.from({ length: 50 }, (_, i) =>
          i % 2 === 0
            ? rotation(session, T0 + (i + 1) * SECOND, auditEvent(T0 + (i + 1) * SECOND, { type: 'refresh', detail: `racer ${i}` }))
            : revocation(session, T0 + (i + 1) * SECOND, REPLAYER, `racer ${i}`),
        );

        const applied = await Promise.all(changes.map((change) => f.store.sessions.apply(change)));

        assert.equal(applied.filter(Boolean).length, 1, `applied: ${applied.map(Number).join('')}`);
        const winner = changes[applied.indexOf(true)] as SessionChange;
        assert.deepEqual(await f.store.sessions.get(session.id), changed(session, winner));
        assert.deepEqual(await auditTrail(), [winner.audit]);
      });

      it('of concurrent rotations without audit events, several per session from one snapshot, exactly one per session applies, whole', async () => {
        const user = await f.addUser();
        const sessions = await Promise.all(Array.from({ length: 20 }, (_, i) => f.openSession(user, { at: T0 + i })));
        await f.warmUp();
        // Each session raced by 3 rotations with distinct times and sources, interleaved across sessions.
        const changes = [0, 1, 2].flatMap((racer) =>
          sessions.map((session) => rotation(session, T0 + (racer + 1) * SECOND, undefined, { address: `192.0.2.${racer}`, userAgent: `racer ${racer}` })),
        );

        const applied = await Promise.all(changes.map((change) => f.store.sessions.apply(change)));

        for (const session of sessions) {
          const mine = changes.flatMap((change, i) => (change.sessionId === session.id ? [i] : []));
          const winners = mine.filter((i) => applied[i]);
          assert.equal(winners.length, 1, `session ${session.id}: ${mine.map((i) => Number(applied[i])).join('')}`);
          assert.deepEqual(await f.store.sessions.get(session.id), changed(session, changes[winners[0] as number] as SessionChange));
        }
        assert.deepEqual(await auditTrail(), []);
      });

      it('changes to many sessions at once all apply, each to its own session', async () => {
        const user = await f.addUser();
        const sessions = await Promise.all(Array.from({ length: 100 }, (_, i) => f.openSession(user, { at: T0 + i })));
        const changes = sessions.map((session, i) =>
          i % 10 === 0 ? revocation(session, T0 + 200 + i) : rotation(session, T0 + 200 + i),
        );

        assert.deepEqual(await Promise.all(changes.map((change) => f.store.sessions.apply(change))), changes.map(() => true));

        for (const [i, session] of sessions.entries()) {
          assert.deepEqual(await f.store.sessions.get(session.id), changed(session, changes[i] as SessionChange));
        }
        assert.equal((await auditTrail()).length, 10);
      });

      it('an applied change is durable: a store opened on the same data sees it while the first is still open', async (t: TestContext) => {
        const { reopen } = f.opened;
        if (!reopen) return t.skip('this adapter cannot open a second store on the same data');
        const user = await f.addUser();
        const session = await f.openSession(user);
        const refresh = rotation(session, T0 + SECOND);
        const reuse = revocation(changed(session, refresh), T0 + 2 * SECOND);

        assert.equal(await f.store.sessions.apply(refresh), true);
        assert.equal(await f.store.sessions.apply(reuse), true);

        const second = await reopen();
        try {
          assert.deepEqual(await second.sessions.get(session.id), changed(changed(session, refresh), reuse));
          assert.deepEqual(await auditTrail(second), [reuse.audit]);
        } finally {
          await second.close();
        }
      });

      it('a change that lost to one applied by another store on the same data does not apply', async (t: TestContext) => {
        const { reopen } = f.opened;
        if (!reopen) return t.skip('this adapter cannot open a second store on the same data');
        const user = await f.addUser();
        const session = await f.openSession(user);
        const second = await reopen();
        try {
          assert.equal(await second.sessions.apply(rotation(session, T0 + SECOND)), true);
          assert.equal(await f.store.sessions.apply(rotation(session, T0 + 2 * SECOND)), false);
          assert.equal((await f.store.sessions.getContext(session.id))?.session.tokenIssuedAt, T0 + SECOND);
        } finally {
          await second.close();
        }
      });
    });
  });
}
