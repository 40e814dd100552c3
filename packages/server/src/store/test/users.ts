import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { UsernameTakenError, type User } from '../port.js';
import { SECOND, T0, rotation, useStore, type OpenStore } from './harness.js';

/** Client applications (`UserStore`): unique, exactly compared usernames; patches; removal with sessions. */
export function describeUserStore(open: OpenStore): void {
  describe('users', () => {
    const f = useStore(open);

    it('a new user is enabled, has no not-before policy, may not introspect, need not use DPoP and was last updated when created', async () => {
      const id = randomUUID();
      const user = await f.store.users.create({ id, username: 'fintech-one', passwordHash: '$argon2id$x', createdAt: T0 });
      assert.deepEqual(user, {
        id,
        username: 'fintech-one',
        passwordHash: '$argon2id$x',
        enabled: true,
        notBefore: 0,
        canIntrospect: false,
        requireDpop: false,
        createdAt: T0,
        updatedAt: T0,
      });
      assert.deepEqual(await f.store.users.findById(id), user);
      assert.deepEqual(await f.store.users.findByUsername('fintech-one'), user);
    });

    it('a taken username throws UsernameTakenError and leaves the first user as it was', async () => {
      const first = await f.addUser('taken');
      await assert.rejects(f.addUser('taken', T0 + SECOND), UsernameTakenError);
      assert.deepEqual(await f.store.users.findByUsername('taken'), first);
      assert.equal(await f.store.users.count(), 1);
    });

    it('of concurrent creations of one username exactly one succeeds; the others throw UsernameTakenError', async () => {
      await f.warmUp();
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => f.addUser('contested')));
      const created = results.filter((result) => result.status === 'fulfilled');
      assert.equal(created.length, 1);
      for (const result of results) {
        if (result.status === 'rejected') assert.ok(result.reason instanceof UsernameTakenError, String(result.reason));
      }
      assert.equal(await f.store.users.count(), 1);
      assert.deepEqual(await f.store.users.findByUsername('contested'), created[0]?.value);
    });

    it('usernames are compared exactly: case and unicode form matter', async () => {
      await f.addUser('Alice');
      await f.addUser('alice');
      await f.addUser('caf\u00e9');
      await f.addUser('cafe\u0301');
      assert.equal(await f.store.users.count(), 4);
      assert.equal(await f.store.users.findByUsername('ALICE'), null);
      assert.equal((await f.store.users.findByUsername('alice'))?.username, 'alice');
      assert.equal((await f.store.users.findByUsername('Alice'))?.username, 'Alice');
      assert.equal((await f.store.users.findByUsername('caf\u00e9'))?.username, 'caf\u00e9');
      assert.equal((await f.store.users.findByUsername('cafe\u0301'))?.username, 'cafe\u0301');
    });

    it('finding an absent user returns null', async () => {
      assert.equal(await f.store.users.findByUsername('nobody'), null);
      assert.equal(await f.store.users.findById(randomUUID()), null);
    });

    it('looking up any string a client may send as a username finds nobody instead of failing', async () => {
      await f.addUser('a');
      for (const username of ['a\u0000', '\u0000', 'a\u0000b', 'x'.repeat(16 * 1024), '\u{1F600}'.repeat(4000), '', ' a', 'a ']) {
        assert.equal(await f.store.users.findByUsername(username), null, JSON.stringify(username.slice(0, 10)));
      }
    });

    it('the longest username a client application can have, in unicode, is stored and found exactly', async () => {
      const longest = `\u{1F600}${'ü'.repeat(126)}`;
      const user = await f.addUser(longest);
      assert.deepEqual(await f.store.users.findByUsername(longest), user);
      assert.equal(await f.store.users.findByUsername(longest.slice(0, -1)), null);
    });

    it('list returns every user and count counts them', async () => {
      assert.deepEqual(await f.store.users.list(), []);
      assert.equal(await f.store.users.count(), 0);
      const users = [await f.addUser('b-app'), await f.addUser('a-app'), await f.addUser('c-app')];
      const byName = (a: User, b: User) => (a.username < b.username ? -1 : 1);
      assert.deepEqual([...(await f.store.users.list())].sort(byName), [...users].sort(byName));
      assert.equal(await f.store.users.count(), 3);
    });

    it('update changes only the patched fields, and always updatedAt', async () => {
      const user = await f.addUser('patched');
      assert.equal(await f.store.users.update(user.id, { updatedAt: T0 + 1 }), true);
      assert.deepEqual(await f.store.users.findById(user.id), { ...user, updatedAt: T0 + 1 });

      assert.equal(await f.store.users.update(user.id, { passwordHash: '$argon2id$new', updatedAt: T0 + 2 }), true);
      assert.deepEqual(await f.store.users.findById(user.id), { ...user, passwordHash: '$argon2id$new', updatedAt: T0 + 2 });

      assert.equal(await f.store.users.update(user.id, { enabled: false, notBefore: T0 + 3, updatedAt: T0 + 3 }), true);
      assert.equal(await f.store.users.update(user.id, { canIntrospect: true, updatedAt: T0 + 4 }), true);
      assert.deepEqual(await f.store.users.findById(user.id), {
        ...user,
        passwordHash: '$argon2id$new',
        enabled: false,
        notBefore: T0 + 3,
        canIntrospect: true,
        updatedAt: T0 + 4,
      });
    });

    it('update can set falsy values: enabled back to true, notBefore back to 0, canIntrospect back to false', async () => {
      const user = await f.addUser('toggled');
      await f.store.users.update(user.id, { enabled: false, notBefore: T0 + 5, canIntrospect: true, updatedAt: T0 + 5 });
      await f.store.users.update(user.id, { enabled: true, notBefore: 0, canIntrospect: false, updatedAt: T0 + 6 });
      assert.deepEqual(await f.store.users.findById(user.id), { ...user, updatedAt: T0 + 6 });
      await f.store.users.update(user.id, { enabled: false, updatedAt: T0 + 7 });
      assert.deepEqual(await f.store.users.findById(user.id), { ...user, enabled: false, updatedAt: T0 + 7 });
    });

    it('update sets and clears requireDpop alone, and the session context sees it', async () => {
      const user = await f.addUser('dpop-client');
      assert.equal(await f.store.users.update(user.id, { requireDpop: true, updatedAt: T0 + 8 }), true);
      assert.deepEqual(await f.store.users.findById(user.id), { ...user, requireDpop: true, updatedAt: T0 + 8 });
      const session = await f.store.sessions.create(
        { id: randomUUID(), userId: user.id, createdAt: T0, idleExpiresAt: T0 + 1000, maxExpiresAt: T0 + 2000, tokenIssuedAt: T0, source: { address: '192.0.2.1', userAgent: 'ua' } },
        10,
      );
      assert.equal((await f.store.sessions.getContext(session!.id))?.user.requireDpop, true);
      assert.equal(await f.store.users.update(user.id, { requireDpop: false, updatedAt: T0 + 9 }), true);
      assert.deepEqual(await f.store.users.findById(user.id), { ...user, updatedAt: T0 + 9 });
    });

    it('update returns false for an unknown user and creates nobody', async () => {
      assert.equal(await f.store.users.update(randomUUID(), { enabled: false, updatedAt: T0 }), false);
      assert.equal(await f.store.users.count(), 0);
    });

    it('remove deletes the user with its sessions, and no one else', async () => {
      const doomed = await f.addUser('doomed');
      const bystander = await f.addUser('bystander');
      const session = await f.openSession(doomed);
      assert.equal(await f.store.sessions.apply(rotation(session, T0 + SECOND)), true);
      const other = await f.openSession(bystander);

      assert.equal(await f.store.users.remove(doomed.id), true);

      assert.equal(await f.store.users.findById(doomed.id), null);
      assert.equal(await f.store.users.findByUsername('doomed'), null);
      assert.equal(await f.store.sessions.get(session.id), null);
      assert.equal(await f.store.sessions.getContext(session.id), null);
      assert.deepEqual(await f.store.sessions.listActive(T0 + 2 * SECOND, { userId: doomed.id, limit: 1000 }), []);
      assert.equal(await f.store.sessions.apply(rotation({ ...session, generation: 1 }, T0 + 2 * SECOND)), false);
      assert.equal(await f.store.users.count(), 1);
      assert.deepEqual(await f.store.sessions.get(other.id), other);
    });

    it('remove returns false for an unknown user', async () => {
      assert.equal(await f.store.users.remove(randomUUID()), false);
    });

    it('a removed username can be taken again, by a new user with no sessions', async () => {
      const user = await f.addUser('reborn');
      await f.openSession(user);
      await f.store.users.remove(user.id);
      const again = await f.addUser('reborn', T0 + SECOND);
      assert.notEqual(again.id, user.id);
      assert.deepEqual(await f.store.users.findByUsername('reborn'), again);
      assert.deepEqual(await f.store.sessions.listActive(T0 + SECOND, { userId: again.id, limit: 1000 }), []);
    });
  });
}
