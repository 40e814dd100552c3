import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { AdministratorNameTakenError, type Administrator, type ConsoleSession } from '../port.js';
import { SECOND, T0, auditEvent, useStore, type OpenStore } from './harness.js';

const IDLE = 900 * SECOND;
const ABSOLUTE = 8 * 3600 * SECOND;

/**
 * The console's administrators and their sessions (`AdminStore`), and the audit histogram its
 * dashboard draws (`AuditStore.histogram`).
 */
export function describeAdminStore(open: OpenStore): void {
  describe('administrators and console sessions', () => {
    const f = useStore(open);

    const addAdmin = (name = `admin-${randomUUID()}`, at = T0): Promise<Administrator> =>
      f.store.admins.create({ id: randomUUID(), name, passwordHash: `$argon2id$hash-of-${name}`, createdAt: at });

    async function openSession(admin: Administrator, at = T0): Promise<ConsoleSession> {
      const session: ConsoleSession = {
        idHash: randomUUID(),
        adminId: admin.id,
        createdAt: at,
        lastSeenAt: at,
        idleExpiresAt: at + IDLE,
        absoluteExpiresAt: at + ABSOLUTE,
      };
      await f.store.admins.createSession(session);
      return session;
    }

    it('an administrator is found by its exact name and listed by name; a taken name throws and changes nothing', async () => {
      const id = randomUUID();
      const created = await f.store.admins.create({ id, name: 'Root <ops>', passwordHash: '$argon2id$x', createdAt: T0 });
      assert.deepEqual(created, { id, name: 'Root <ops>', passwordHash: '$argon2id$x', createdAt: T0, updatedAt: T0 });
      assert.deepEqual(await f.store.admins.findByName('Root <ops>'), created);
      assert.equal(await f.store.admins.findByName('root <ops>'), null);
      assert.equal(await f.store.admins.findByName('nul\u0000name'), null);
      await assert.rejects(
        f.store.admins.create({ id: randomUUID(), name: 'Root <ops>', passwordHash: 'other', createdAt: T0 + SECOND }),
        AdministratorNameTakenError,
      );
      const zed = await addAdmin('zed');
      assert.deepEqual(await f.store.admins.list(), [created, zed]);
    });

    it('administrators are not client applications: the two never see each other', async () => {
      await addAdmin('shared-name');
      assert.equal(await f.store.users.findByUsername('shared-name'), null);
      await f.addUser('app-only');
      assert.equal(await f.store.admins.findByName('app-only'), null);
    });

    it('a session is read back with its administrator, expired or not, until it is ended', async () => {
      const admin = await addAdmin();
      const session = await openSession(admin);
      assert.deepEqual(await f.store.admins.getSession(session.idHash), { session, admin });
      assert.equal(await f.store.admins.touchSession(session.idHash, T0 + 60 * SECOND, T0 + 60 * SECOND + IDLE), true);
      assert.deepEqual((await f.store.admins.getSession(session.idHash))?.session, {
        ...session,
        lastSeenAt: T0 + 60 * SECOND,
        idleExpiresAt: T0 + 60 * SECOND + IDLE,
      });
      assert.equal(await f.store.admins.endSession(session.idHash), true);
      assert.equal(await f.store.admins.getSession(session.idHash), null);
      assert.equal(await f.store.admins.endSession(session.idHash), false);
      assert.equal(await f.store.admins.touchSession(session.idHash, T0 + 2 * IDLE, T0 + 3 * IDLE), false);
      assert.equal(await f.store.admins.getSession('no-such-hash'), null);
    });

    it('a new password ends every session of that administrator and no other', async () => {
      const [alice, bob] = [await addAdmin('alice'), await addAdmin('bob')];
      const [a1, a2, b1] = [await openSession(alice), await openSession(alice), await openSession(bob)];
      assert.equal(await f.store.admins.setPasswordHash(alice.id, '$argon2id$new', T0 + SECOND), true);
      assert.equal(await f.store.admins.getSession(a1.idHash), null);
      assert.equal(await f.store.admins.getSession(a2.idHash), null);
      assert.notEqual(await f.store.admins.getSession(b1.idHash), null);
      assert.deepEqual(await f.store.admins.findByName('alice'), { ...alice, passwordHash: '$argon2id$new', updatedAt: T0 + SECOND });
      assert.equal(await f.store.admins.setPasswordHash(randomUUID(), 'x', T0), false);
    });

    it('removing an administrator removes its sessions', async () => {
      const admin = await addAdmin();
      const session = await openSession(admin);
      assert.equal(await f.store.admins.remove(admin.id), true);
      assert.equal(await f.store.admins.getSession(session.idHash), null);
      assert.deepEqual(await f.store.admins.list(), []);
      assert.equal(await f.store.admins.remove(admin.id), false);
    });

    it('purgeSessions deletes the sessions past their idle or absolute expiry, and only those', async () => {
      const admin = await addAdmin();
      const idle = await openSession(admin, T0);
      const fresh = await openSession(admin, T0);
      await f.store.admins.touchSession(fresh.idHash, T0 + IDLE - SECOND, T0 + 2 * IDLE - SECOND);
      const old = await openSession(admin, T0 - ABSOLUTE + IDLE);
      await f.store.admins.touchSession(old.idHash, T0 + IDLE - SECOND, T0 + 2 * IDLE);
      assert.equal(await f.store.admins.purgeSessions(T0 + IDLE), 2);
      assert.equal(await f.store.admins.getSession(idle.idHash), null);
      assert.equal(await f.store.admins.getSession(old.idHash), null);
      assert.notEqual(await f.store.admins.getSession(fresh.idHash), null);
    });

    it('the audit histogram counts the asked kinds per bucket within [since, until)', async () => {
      const minute = 60 * SECOND;
      const events = [
        auditEvent(T0 - 1, { type: 'login_failed' }),
        auditEvent(T0, { type: 'login_failed' }),
        auditEvent(T0 + minute - 1, { type: 'login_failed' }),
        auditEvent(T0 + minute, { type: 'login_failed' }),
        auditEvent(T0 + minute, { type: 'refresh_token_reuse' }),
        auditEvent(T0 + 2 * minute, { type: 'login_succeeded' }),
        auditEvent(T0 + 3 * minute, { type: 'login_failed' }),
      ];
      for (const event of events) await f.store.audit.record(event);
      const counts = await f.store.audit.histogram({
        since: T0,
        until: T0 + 3 * minute,
        bucketMs: minute,
        types: ['login_failed', 'refresh_token_reuse'],
      });
      assert.deepEqual(counts, [
        { type: 'login_failed', bucket: 0, count: 2 },
        { type: 'login_failed', bucket: 1, count: 1 },
        { type: 'refresh_token_reuse', bucket: 1, count: 1 },
      ]);
      assert.deepEqual(await f.store.audit.histogram({ since: T0, until: T0 + minute, bucketMs: minute, types: [] }), []);
    });
  });
}
