import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { AuditEvent, AuditFilter } from '../port.js';
import { SECOND, T0, auditEvent, listAudit, useStore, type OpenStore } from './harness.js';

/** The audit trail (`AuditStore`): every field kept, newest first, filtered by time, user and type, paged by cursor. */
export function describeAuditStore(open: OpenStore): void {
  describe('audit', () => {
    const f = useStore(open);

    async function record(...events: AuditEvent[]): Promise<void> {
      for (const event of events) await f.store.audit.record(event);
    }

    it('list returns events newest first, at most limit, with every field as recorded', async () => {
      const base = { type: 'login_failed', sourceAddress: '192.0.2.1', userAgent: 'curl/8', detail: 'wrong password' };
      const first: AuditEvent = { ...base, at: T0, userId: null, sessionId: null };
      const third: AuditEvent = { ...base, at: T0 + 2 * SECOND, userId: randomUUID(), sessionId: randomUUID(), detail: 'third' };
      const second: AuditEvent = { ...base, at: T0 + SECOND, userId: randomUUID(), sessionId: null, detail: 'ünïcode ✓ \u{1F600}' };
      await record(first, third, second);
      assert.deepEqual(await listAudit(f.store, { limit: 10 }), [third, second, first]);
      assert.deepEqual(await listAudit(f.store, { limit: 2 }), [third, second]);
      assert.deepEqual(await listAudit(f.store, { limit: 0 }), []);
    });

    it('a 16 KiB user agent and detail are kept whole', async () => {
      const long: AuditEvent = { ...auditEvent(T0), userAgent: 'u'.repeat(16 * 1024), detail: 'ü'.repeat(8 * 1024) };
      await record(long);
      assert.deepEqual(await listAudit(f.store, { limit: 1 }), [long]);
    });

    it('events recorded at the same instant come back most recently recorded first', async () => {
      await record(...['one', 'two', 'three'].map((detail) => auditEvent(T0, { detail })));
      assert.deepEqual(
        (await f.store.audit.list({ limit: 3 })).map((event) => event.detail),
        ['three', 'two', 'one'],
      );
    });

    it('since and until select a half-open window: since included, until excluded', async () => {
      await record(...[0, 1, 2, 3, 4].map((n) => auditEvent(T0 + n * SECOND, { detail: `at ${n}` })));
      const details = async (filter: { since?: number; until?: number }) =>
        (await f.store.audit.list({ ...filter, limit: 10 })).map((event) => event.detail);
      assert.deepEqual(await details({ since: T0 + SECOND }), ['at 4', 'at 3', 'at 2', 'at 1']);
      assert.deepEqual(await details({ until: T0 + 3 * SECOND }), ['at 2', 'at 1', 'at 0']);
      assert.deepEqual(await details({ since: T0 + SECOND, until: T0 + 3 * SECOND }), ['at 2', 'at 1']);
      assert.deepEqual(await details({ since: T0 + 2 * SECOND, until: T0 + 2 * SECOND }), []);
      assert.deepEqual(await details({ since: T0 + 5 * SECOND }), []);
    });

    it('userId and type select exactly their events, and every filter narrows together with the others', async () => {
      const alice = randomUUID();
      const bob = randomUUID();
      await record(
        auditEvent(T0, { type: 'session_logout', userId: alice, detail: 'a-logout-0' }),
        auditEvent(T0 + SECOND, { type: 'refresh_token_reuse', userId: alice, detail: 'a-reuse-1' }),
        auditEvent(T0 + 2 * SECOND, { type: 'session_logout', userId: bob, detail: 'b-logout-2' }),
        auditEvent(T0 + 3 * SECOND, { type: 'session_logout', userId: null, detail: 'none-logout-3' }),
        auditEvent(T0 + 4 * SECOND, { type: 'session_logout', userId: alice, detail: 'a-logout-4' }),
        auditEvent(T0 + 5 * SECOND, { type: 'Session_Logout', userId: alice, detail: 'a-other-case-5' }),
      );
      const details = async (filter: { since?: number; until?: number; userId?: string; type?: string; limit?: number }) =>
        (await f.store.audit.list({ limit: 10, ...filter })).map((event) => event.detail);

      assert.deepEqual(await details({ userId: alice }), ['a-other-case-5', 'a-logout-4', 'a-reuse-1', 'a-logout-0']);
      assert.deepEqual(await details({ userId: randomUUID() }), []);
      assert.deepEqual(await details({ type: 'session_logout' }), ['a-logout-4', 'none-logout-3', 'b-logout-2', 'a-logout-0']);
      assert.deepEqual(await details({ userId: alice, type: 'session_logout' }), ['a-logout-4', 'a-logout-0']);
      assert.deepEqual(await details({ userId: alice, type: 'session_logout', limit: 1 }), ['a-logout-4'], 'limit counts matches only');
      assert.deepEqual(await details({ userId: alice, type: 'session_logout', until: T0 + 4 * SECOND }), ['a-logout-0']);
      assert.deepEqual(await details({ type: 'session_logout', since: T0 + SECOND, until: T0 + 4 * SECOND }), [
        'none-logout-3',
        'b-logout-2',
      ]);
      assert.deepEqual(await details({ type: 'nothing-of-this-type' }), []);
    });

    it('each event gets an id that increases with every event recorded, whatever its time', async () => {
      await record(...[T0 + 2 * SECOND, T0, T0 + SECOND, T0].map((at, n) => auditEvent(at, { detail: `recorded ${n}` })));
      const listed = await f.store.audit.list({ limit: 10 });
      const byRecording = [...listed].sort((a, b) => Number(a.detail.slice(9)) - Number(b.detail.slice(9)));
      const ids = byRecording.map((event) => event.id);
      assert.ok(ids.every((id, n) => Number.isSafeInteger(id) && (n === 0 || id > (ids[n - 1] as number))), `ids ${ids.join(',')}`);
      await record(auditEvent(T0 - SECOND, { detail: 'recorded 4' }));
      const [latest] = await f.store.audit.list({ limit: 1, until: T0 });
      assert.ok(latest && latest.id > Math.max(...ids), 'a later recording, though of an earlier time, gets a greater id');
    });

    it('paging with after visits every event once, in list order, even many at one instant', async () => {
      const alice = randomUUID();
      const times = [T0, T0, T0 + SECOND, T0 + SECOND, T0 + SECOND, T0 + 2 * SECOND, T0, T0 + 3 * SECOND];
      await record(...times.map((at, n) => auditEvent(at, { userId: n % 3 === 0 ? alice : null, detail: `event ${n}` })));
      async function pages(filter: Omit<AuditFilter, 'limit' | 'after'>): Promise<string[][]> {
        const visited: string[][] = [];
        let after: AuditFilter['after'];
        for (let page = 0; page < 20; page += 1) {
          const listed = await f.store.audit.list({ ...filter, limit: 3, ...(after ? { after } : {}) });
          if (listed.length === 0) return visited;
          visited.push(listed.map((event) => event.detail));
          const last = listed[listed.length - 1] as (typeof listed)[number];
          after = { at: last.at, id: last.id };
        }
        throw new Error('paging did not end');
      }
      const whole = (await f.store.audit.list({ limit: 100 })).map((event) => event.detail);
      assert.equal(whole.length, times.length);
      const paged = await pages({});
      assert.deepEqual(paged.flat(), whole);
      assert.deepEqual(paged.map((page) => page.length), [3, 3, 2]);
      const alicePaged = (await pages({ userId: alice })).flat();
      assert.deepEqual(alicePaged, (await f.store.audit.list({ userId: alice, limit: 100 })).map((event) => event.detail));
      assert.equal(alicePaged.length, 3);
    });
  });
}
