import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDLE, SECOND, T0, auditEvent, useStore, type OpenStore } from './harness.js';

/** Schema, health and housekeeping (`Maintenance` in the port): migrations, ping, purges. */
export function describeMaintenance(open: OpenStore): void {
  describe('maintenance', () => {
    const f = useStore(open);

    describe('migrations and health', () => {
      it('running migrate again is a no-op that keeps the data', async () => {
        const user = await f.addUser('kept-across-migrate');
        await f.store.migrate();
        assert.deepEqual(await f.store.users.findById(user.id), user);
        assert.equal(await f.store.users.count(), 1);
        assert.equal(await f.store.pendingMigrations(), 0);
      });

      it('concurrent migrate calls all succeed', async () => {
        await Promise.all([f.store.migrate(), f.store.migrate(), f.store.migrate()]);
        assert.equal(await f.store.users.count(), 0);
        assert.equal(await f.store.pendingMigrations(), 0);
      });

      it('a fresh store has pending migrations; once migrated it has none', async () => {
        assert.equal(await f.store.pendingMigrations(), 0);
        const fresh = await f.openAnother();
        try {
          assert.ok((await fresh.store.pendingMigrations()) > 0);
          await Promise.all([fresh.store.migrate(), fresh.store.migrate()]);
          assert.equal(await fresh.store.pendingMigrations(), 0);
        } finally {
          await fresh.cleanup();
        }
      });

      it('an ordinary failure, such as a taken username, is not reported as the store being unavailable', async () => {
        await f.addUser('taken');
        const error = await f.addUser('taken').then(
          () => assert.fail('a taken username must throw'),
          (thrown: unknown) => thrown,
        );
        assert.equal(f.store.isUnavailableError(error), false);
        assert.equal(f.store.isUnavailableError(new Error('boom')), false);
        assert.equal(f.store.isUnavailableError(null), false);
        assert.equal(f.store.isUnavailableError('a string'), false);
      });

      it('ping resolves when the store answers, and the store names its kind', async () => {
        await f.store.ping();
        assert.equal(typeof f.store.kind, 'string');
        assert.ok(f.store.kind.length > 0);
      });
    });

    describe('purgeExpired', () => {
      /** Writes `counters` as they are, through an update that reads nothing. */
      async function setCounters(counters: Record<string, { count: number; resetAt: number }>): Promise<void> {
        await f.store.counters.update(Object.keys(counters), () => ({ result: undefined, writes: new Map(Object.entries(counters)) }));
      }

      it('removes sessions that ended or expired before the cut-off and keeps live ones and later endings', async () => {
        const user = await f.addUser();
        const live = await f.openSession(user);
        const loggedOut = await f.openSession(user);
        await f.store.sessions.end(loggedOut.id, 'logout', T0 + SECOND);
        const idle = await f.openSession(user, { idleMs: 5 * SECOND });
        const capped = await f.openSession(user, { idleMs: IDLE, maxMs: 5 * SECOND });
        const endsLater = await f.openSession(user);
        await f.store.sessions.end(endsLater.id, 'revoked', T0 + 20 * SECOND);
        const endsAtCutOff = await f.openSession(user);
        const before = T0 + 10 * SECOND;
        await f.store.sessions.end(endsAtCutOff.id, 'logout', before);
        const expiresAtCutOff = await f.openSession(user, { idleMs: 10 * SECOND });

        assert.equal(await f.store.purgeExpired(before, 100), 3);

        for (const gone of [loggedOut, idle, capped]) {
          assert.equal(await f.store.sessions.get(gone.id), null);
          assert.equal(await f.store.sessions.getContext(gone.id), null);
        }
        assert.deepEqual(await f.store.sessions.get(live.id), live);
        for (const kept of [endsLater, endsAtCutOff, expiresAtCutOff]) assert.ok(await f.store.sessions.get(kept.id));
        assert.equal(await f.store.purgeExpired(before, 100), 0);
        assert.deepEqual(await f.store.users.findById(user.id), user, 'purging sessions leaves their user alone');
      });

      it('removes counters whose window lapsed before the cut-off and keeps counting ones', async () => {
        const before = T0 + 10 * SECOND;
        await setCounters({
          lapsed: { count: 3, resetAt: T0 + 5 * SECOND },
          atCutOff: { count: 1, resetAt: before },
          counting: { count: 2, resetAt: T0 + 60 * SECOND },
        });

        assert.equal(await f.store.purgeExpired(before, 100), 1);

        assert.deepEqual(
          await f.store.counters.read(['lapsed', 'atCutOff', 'counting']),
          new Map([
            ['atCutOff', { count: 1, resetAt: before }],
            ['counting', { count: 2, resetAt: T0 + 60 * SECOND }],
          ]),
        );
        assert.equal(await f.store.purgeExpired(before, 100), 0);
      });

      it('deletes at most limit sessions and limit counters per call', async () => {
        const user = await f.addUser();
        const ended = [await f.openSession(user), await f.openSession(user), await f.openSession(user)];
        for (const session of ended) await f.store.sessions.end(session.id, 'logout', T0 + SECOND);
        const counterKeys = ['c1', 'c2', 'c3'];
        await setCounters(Object.fromEntries(counterKeys.map((key) => [key, { count: 1, resetAt: T0 + SECOND }])));
        const before = T0 + 10 * SECOND;
        const remaining = async () => ({
          sessions: (await Promise.all(ended.map((session) => f.store.sessions.get(session.id)))).filter(Boolean).length,
          counters: (await f.store.counters.read(counterKeys)).size,
        });

        assert.equal(await f.store.purgeExpired(before, 1), 2);
        assert.deepEqual(await remaining(), { sessions: 2, counters: 2 });
        assert.equal(await f.store.purgeExpired(before, 1), 2);
        assert.deepEqual(await remaining(), { sessions: 1, counters: 1 });
        assert.equal(await f.store.purgeExpired(before, 100), 2);
        assert.deepEqual(await remaining(), { sessions: 0, counters: 0 });
        assert.equal(await f.store.purgeExpired(before, 100), 0);
      });

      it('leaves audit events alone', async () => {
        await f.store.audit.record(auditEvent(T0, { detail: 'old' }));
        await f.store.purgeExpired(T0 + 100 * IDLE, 100);
        assert.equal((await f.store.audit.list({ limit: 10 })).length, 1);
      });
    });

    describe('purgeAudit', () => {
      it('deletes events recorded before the cut-off, oldest first, at most limit, and keeps later ones', async () => {
        for (const [at, detail] of [[T0 + 3, 'c'], [T0 + 1, 'a'], [T0 + 10, 'kept'], [T0 + 2, 'b']] as const) {
          await f.store.audit.record(auditEvent(at, { detail }));
        }
        const details = async () => (await f.store.audit.list({ limit: 10 })).map((event) => event.detail);

        assert.equal(await f.store.purgeAudit(T0 + 10, 2), 2);
        assert.deepEqual(await details(), ['kept', 'c']);
        assert.equal(await f.store.purgeAudit(T0 + 10, 100), 1);
        assert.deepEqual(await details(), ['kept']);
        assert.equal(await f.store.purgeAudit(T0 + 10, 100), 0);
      });

      it('leaves sessions and counters alone', async () => {
        const user = await f.addUser();
        const session = await f.openSession(user);
        await f.store.sessions.end(session.id, 'logout', T0 + SECOND);
        await f.store.counters.update(['lapsed'], () => ({ result: undefined, writes: new Map([['lapsed', { count: 1, resetAt: T0 }]]) }));
        assert.equal(await f.store.purgeAudit(T0 + 100 * IDLE, 100), 0);
        assert.ok(await f.store.sessions.get(session.id));
        assert.equal((await f.store.counters.read(['lapsed'])).size, 1);
      });
    });
  });
}
