import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  UsernameTakenError,
  type RotationOutcome,
  type RotationRequest,
  type Session,
  type Source,
  type Store,
  type StoredKey,
  type User,
} from '../port.js';

/** What an adapter's test hands the suite: a fresh, empty store (migrated or not) and how to dispose of it. */
export interface OpenedStore {
  store: Store;
  /** Closes the store and deletes everything it kept (temp file, schema, …). */
  cleanup(): Promise<void>;
}

// A fixed instant far from the real clock: the store must only ever use the times it is given.
const T0 = Date.UTC(2031, 0, 1);
const SECOND = 1000;
const IDLE = 1800 * SECOND;
const MAX = 36000 * SECOND;
const GRACE = 10 * SECOND;

const ORIGIN: Source = { address: '203.0.113.7', userAgent: 'conformance-client/1.0' };
const REPLAYER: Source = { address: '198.51.100.23', userAgent: 'replayer/6.6 (ünïcode)' };

/** The store only ever sees SHA-256 hashes of tokens; any unique hex string stands in for one. */
function newHash(): string {
  return createHash('sha256').update(randomUUID()).digest('hex');
}

function expectKind<K extends RotationOutcome['kind']>(
  outcome: RotationOutcome,
  kind: K,
): Extract<RotationOutcome, { kind: K }> {
  assert.equal(outcome.kind, kind, `expected rotation outcome "${kind}", got "${outcome.kind}"`);
  return outcome as Extract<RotationOutcome, { kind: K }>;
}

function key(kid: string, createdAt: number): StoredKey {
  return {
    kid,
    alg: 'EdDSA',
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: `x-${kid}`, kid, use: 'sig' },
    sealedPrivateKey: `sealed:${kid}`,
    createdAt,
    retiredAt: null,
  };
}

/**
 * The one test suite every Store adapter must pass (DESIGN §3): it speaks only the port, so the
 * SQLite and PostgreSQL adapters are held to the same contract, unchanged. `open` is called before
 * every test and must return a fresh, empty store; the suite migrates it and calls `cleanup` after.
 * Every time is passed in explicitly: nothing here sleeps or reads the clock.
 */
export function describeStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await open());
      await store.migrate();
    });

    afterEach(async () => {
      await cleanup();
    });

    async function addUser(username: string = `app-${randomUUID()}`, at = T0): Promise<User> {
      return store.createUser({ id: randomUUID(), username, passwordHash: `$argon2id$hash-of-${username}`, createdAt: at });
    }

    async function openSession(
      user: User,
      options: { at?: number; idleMs?: number; maxMs?: number; source?: Source } = {},
    ): Promise<{ session: Session; token: string }> {
      const at = options.at ?? T0;
      const token = newHash();
      const session = await store.createSession({
        id: randomUUID(),
        userId: user.id,
        createdAt: at,
        idleExpiresAt: at + (options.idleMs ?? IDLE),
        maxExpiresAt: at + (options.maxMs ?? MAX),
        source: options.source ?? ORIGIN,
        refreshTokenHash: token,
      });
      return { session, token };
    }

    function rotate(
      presentedHash: string,
      successorHash: string,
      now: number,
      overrides: Partial<Omit<RotationRequest, 'presentedHash' | 'successorHash' | 'now'>> = {},
    ): Promise<RotationOutcome> {
      return store.rotateRefreshToken({
        presentedHash,
        successorHash,
        now,
        idleMs: IDLE,
        graceMs: GRACE,
        source: ORIGIN,
        ...overrides,
      });
    }

    /**
     * Concurrent reads first, so a pooled adapter has its connections open before a race: on a
     * cold pool, connection setup alone can serialise the racers and hide a missing lock.
     */
    async function warmUp(): Promise<void> {
      await Promise.all(Array.from({ length: 50 }, () => store.countUsers()));
    }

    async function isLive(hash: string): Promise<boolean> {
      const record = await store.findRefreshToken(hash);
      assert.ok(record, 'the token is known to the store');
      return record.live;
    }

    describe('migrations and health', () => {
      it('running migrate again is a no-op that keeps the data', async () => {
        const user = await addUser('kept-across-migrate');
        await store.migrate();
        assert.deepEqual(await store.findUserById(user.id), user);
        assert.equal(await store.countUsers(), 1);
      });

      it('concurrent migrate calls all succeed', async () => {
        await Promise.all([store.migrate(), store.migrate(), store.migrate()]);
        assert.equal(await store.countUsers(), 0);
      });

      it('a fresh store has pending migrations; once migrated it has none', async () => {
        assert.equal(await store.pendingMigrations(), 0);
        const fresh = await open();
        try {
          assert.ok((await fresh.store.pendingMigrations()) > 0);
          await fresh.store.migrate();
          assert.equal(await fresh.store.pendingMigrations(), 0);
        } finally {
          await fresh.cleanup();
        }
      });

      it('an ordinary failure, such as a taken username, is not reported as the store being unavailable', async () => {
        await addUser('taken');
        const error = await addUser('taken').then(
          () => assert.fail('a taken username must throw'),
          (thrown: unknown) => thrown,
        );
        assert.equal(store.isUnavailableError?.(error) ?? false, false);
        assert.equal(store.isUnavailableError?.(new Error('boom')) ?? false, false);
      });

      it('ping resolves when the store answers', async () => {
        await store.ping();
        assert.equal(typeof store.kind, 'string');
        assert.ok(store.kind.length > 0);
      });
    });

    describe('users', () => {
      it('a new user is enabled, has no not-before policy and was last updated when created', async () => {
        const id = randomUUID();
        const user = await store.createUser({ id, username: 'fintech-one', passwordHash: '$argon2id$x', createdAt: T0 });
        assert.deepEqual(user, {
          id,
          username: 'fintech-one',
          passwordHash: '$argon2id$x',
          enabled: true,
          notBefore: 0,
          createdAt: T0,
          updatedAt: T0,
        });
        assert.deepEqual(await store.findUserById(id), user);
        assert.deepEqual(await store.findUserByUsername('fintech-one'), user);
      });

      it('a taken username throws UsernameTakenError and leaves the first user as it was', async () => {
        const first = await addUser('taken');
        await assert.rejects(addUser('taken', T0 + SECOND), UsernameTakenError);
        assert.deepEqual(await store.findUserByUsername('taken'), first);
        assert.equal(await store.countUsers(), 1);
      });

      it('usernames are compared exactly: case and unicode form matter', async () => {
        await addUser('Alice');
        await addUser('alice');
        await addUser('caf\u00e9');
        await addUser('cafe\u0301');
        assert.equal(await store.countUsers(), 4);
        assert.equal(await store.findUserByUsername('ALICE'), null);
        assert.equal((await store.findUserByUsername('alice'))?.username, 'alice');
        assert.equal((await store.findUserByUsername('caf\u00e9'))?.username, 'caf\u00e9');
      });

      it('finding an absent user returns null', async () => {
        assert.equal(await store.findUserByUsername('nobody'), null);
        assert.equal(await store.findUserById(randomUUID()), null);
      });

      it('looking up any string a client may send as a username finds nobody instead of failing', async () => {
        await addUser('a');
        for (const username of ['a\u0000', '\u0000', 'a\u0000b', 'x'.repeat(16 * 1024), '\u{1F600}'.repeat(4000), '']) {
          assert.equal(await store.findUserByUsername(username), null);
        }
      });

      it('listUsers returns every user and countUsers counts them', async () => {
        assert.deepEqual(await store.listUsers(), []);
        assert.equal(await store.countUsers(), 0);
        const users = [await addUser('b-app'), await addUser('a-app'), await addUser('c-app')];
        const listed = await store.listUsers();
        const byName = (a: User, b: User) => (a.username < b.username ? -1 : 1);
        assert.deepEqual([...listed].sort(byName), [...users].sort(byName));
        assert.equal(await store.countUsers(), 3);
      });

      it('updateUser changes only the patched fields, and always updatedAt', async () => {
        const user = await addUser('patched');
        assert.equal(await store.updateUser(user.id, { updatedAt: T0 + 1 }), true);
        assert.deepEqual(await store.findUserById(user.id), { ...user, updatedAt: T0 + 1 });

        assert.equal(await store.updateUser(user.id, { passwordHash: '$argon2id$new', updatedAt: T0 + 2 }), true);
        assert.deepEqual(await store.findUserById(user.id), { ...user, passwordHash: '$argon2id$new', updatedAt: T0 + 2 });

        assert.equal(await store.updateUser(user.id, { enabled: false, notBefore: T0 + 3, updatedAt: T0 + 3 }), true);
        assert.deepEqual(await store.findUserById(user.id), {
          ...user,
          passwordHash: '$argon2id$new',
          enabled: false,
          notBefore: T0 + 3,
          updatedAt: T0 + 3,
        });
      });

      it('updateUser can set falsy values: enabled back to true, notBefore back to 0', async () => {
        const user = await addUser('toggled');
        await store.updateUser(user.id, { enabled: false, notBefore: T0 + 5, updatedAt: T0 + 5 });
        await store.updateUser(user.id, { enabled: true, notBefore: 0, updatedAt: T0 + 6 });
        assert.deepEqual(await store.findUserById(user.id), { ...user, updatedAt: T0 + 6 });
        await store.updateUser(user.id, { enabled: false, updatedAt: T0 + 7 });
        assert.equal((await store.findUserById(user.id))?.enabled, false);
      });

      it('updateUser returns false for an unknown user', async () => {
        assert.equal(await store.updateUser(randomUUID(), { enabled: false, updatedAt: T0 }), false);
      });

      it('removeUser deletes the user with its sessions and their refresh tokens, and no one else', async () => {
        const doomed = await addUser('doomed');
        const bystander = await addUser('bystander');
        const { session, token } = await openSession(doomed);
        const successor = newHash();
        expectKind(await rotate(token, successor, T0 + SECOND), 'rotated');
        const other = await openSession(bystander);

        assert.equal(await store.removeUser(doomed.id), true);

        assert.equal(await store.findUserById(doomed.id), null);
        assert.equal(await store.findUserByUsername('doomed'), null);
        assert.equal(await store.getSession(session.id), null);
        assert.equal(await store.findRefreshToken(token), null);
        assert.equal(await store.findRefreshToken(successor), null);
        expectKind(await rotate(successor, newHash(), T0 + 2 * SECOND), 'unknown');
        assert.equal(await store.countUsers(), 1);
        assert.deepEqual(await store.getSession(other.session.id), other.session);
        assert.equal(await isLive(other.token), true);
      });

      it('removeUser returns false for an unknown user', async () => {
        assert.equal(await store.removeUser(randomUUID()), false);
      });

      it('a removed username can be taken again', async () => {
        const user = await addUser('reborn');
        await store.removeUser(user.id);
        const again = await addUser('reborn', T0 + SECOND);
        assert.notEqual(again.id, user.id);
      });
    });

    describe('sessions', () => {
      it('a new session is open, last refreshed at creation and records its source', async () => {
        const user = await addUser();
        const { session } = await openSession(user, { source: ORIGIN });
        assert.deepEqual(session, {
          id: session.id,
          userId: user.id,
          createdAt: T0,
          idleExpiresAt: T0 + IDLE,
          maxExpiresAt: T0 + MAX,
          lastRefreshAt: T0,
          endedAt: null,
          endReason: null,
          sourceAddress: ORIGIN.address,
          userAgent: ORIGIN.userAgent,
        });
        assert.deepEqual(await store.getSession(session.id), session);
      });

      it("a new session's first refresh token is live and expires at the idle expiry", async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        assert.deepEqual(await store.findRefreshToken(token), {
          session,
          user,
          issuedAt: T0,
          expiresAt: T0 + IDLE,
          live: true,
        });
      });

      it('getSession returns null for an unknown id', async () => {
        assert.equal(await store.getSession(randomUUID()), null);
      });

      it('getSessionContext returns the session, its user and the realm policy in one read, as they are now', async () => {
        const user = await addUser();
        const { session } = await openSession(user);
        assert.deepEqual(await store.getSessionContext(session.id), { session, user, realmNotBefore: 0 });
        await store.setRealmNotBefore(T0 + 5 * SECOND);
        await store.updateUser(user.id, { enabled: false, notBefore: T0 + 7 * SECOND, updatedAt: T0 + 8 * SECOND });
        await store.endSession(session.id, 'revoked', T0 + 9 * SECOND);
        const context = await store.getSessionContext(session.id);
        assert.equal(context?.realmNotBefore, T0 + 5 * SECOND);
        assert.deepEqual(context?.user, { ...user, enabled: false, notBefore: T0 + 7 * SECOND, updatedAt: T0 + 8 * SECOND });
        assert.deepEqual(context?.session, { ...session, endedAt: T0 + 9 * SECOND, endReason: 'revoked' });
        assert.equal(await store.getSessionContext(randomUUID()), null);
      });

      it('listActiveSessions leaves out ended, idle-expired and max-expired sessions', async () => {
        const user = await addUser();
        const now = T0 + 100 * SECOND;
        const open = await openSession(user);
        const ended = await openSession(user);
        await store.endSession(ended.session.id, 'logout', T0 + SECOND);
        await openSession(user, { idleMs: 50 * SECOND });
        await openSession(user, { idleMs: 100 * SECOND }); // idle expiry exactly now: no longer active
        await openSession(user, { idleMs: 200 * SECOND, maxMs: 100 * SECOND });
        const active = await store.listActiveSessions(now);
        assert.deepEqual(active, [open.session]);
      });

      it('listActiveSessions returns newest first and filters by user', async () => {
        const alice = await addUser('alice');
        const bob = await addUser('bob');
        const a1 = await openSession(alice, { at: T0 });
        const b1 = await openSession(bob, { at: T0 + SECOND });
        const a2 = await openSession(alice, { at: T0 + 2 * SECOND });
        const now = T0 + 3 * SECOND;
        assert.deepEqual(await store.listActiveSessions(now), [a2.session, b1.session, a1.session]);
        assert.deepEqual(await store.listActiveSessions(now, alice.id), [a2.session, a1.session]);
        assert.deepEqual(await store.listActiveSessions(now, bob.id), [b1.session]);
        assert.deepEqual(await store.listActiveSessions(now, randomUUID()), []);
      });

      it('endSession ends an open session once; ending it again changes nothing and returns false', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        assert.equal(await store.endSession(session.id, 'logout', T0 + SECOND), true);
        assert.deepEqual(await store.getSession(session.id), { ...session, endedAt: T0 + SECOND, endReason: 'logout' });
        assert.equal(await store.endSession(session.id, 'revoked', T0 + 2 * SECOND), false);
        assert.deepEqual(await store.getSession(session.id), { ...session, endedAt: T0 + SECOND, endReason: 'logout' });
        expectKind(await rotate(token, newHash(), T0 + 3 * SECOND), 'session_ended');
      });

      it('endSession returns false for an unknown session', async () => {
        assert.equal(await store.endSession(randomUUID(), 'revoked', T0), false);
      });

      it("endUserSessions ends every open session of that user only, and counts them", async () => {
        const alice = await addUser('alice');
        const bob = await addUser('bob');
        const a1 = await openSession(alice);
        const a2 = await openSession(alice);
        const a3 = await openSession(alice);
        await store.endSession(a3.session.id, 'logout', T0 + SECOND);
        const b1 = await openSession(bob);

        assert.equal(await store.endUserSessions(alice.id, 'revoked', T0 + 2 * SECOND), 2);

        for (const { session } of [a1, a2]) {
          assert.deepEqual(await store.getSession(session.id), { ...session, endedAt: T0 + 2 * SECOND, endReason: 'revoked' });
        }
        assert.deepEqual(await store.getSession(a3.session.id), { ...a3.session, endedAt: T0 + SECOND, endReason: 'logout' });
        assert.deepEqual(await store.getSession(b1.session.id), b1.session);
        assert.equal(await store.endUserSessions(alice.id, 'revoked', T0 + 3 * SECOND), 0);
        assert.equal(await store.endUserSessions(randomUUID(), 'revoked', T0 + 3 * SECOND), 0);
      });
    });

    describe('rotateRefreshToken', () => {
      it('presenting the live token rotates it: the successor becomes live, the presented token does not', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        const successor = newHash();
        const now = T0 + 60 * SECOND;

        const rotated = expectKind(await rotate(token, successor, now), 'rotated');

        const expected = { ...session, idleExpiresAt: now + IDLE, lastRefreshAt: now };
        assert.deepEqual(rotated.session, expected);
        assert.deepEqual(rotated.user, user);
        assert.equal(rotated.tokenIssuedAt, now);
        assert.equal(rotated.tokenExpiresAt, now + IDLE);
        assert.equal(rotated.realmNotBefore, 0, 'no realm not-before policy set yet');
        assert.deepEqual(await store.getSession(session.id), expected);
        assert.deepEqual(await store.findRefreshToken(successor), {
          session: expected,
          user,
          issuedAt: now,
          expiresAt: now + IDLE,
          live: true,
        });
        assert.equal(await isLive(token), false);
      });

      it('the idle expiry slides on each rotation but never past the max lifetime', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user, { maxMs: IDLE + 60 * SECOND });
        const now = T0 + 120 * SECOND;
        const successor = newHash();
        const rotated = expectKind(await rotate(token, successor, now), 'rotated');
        assert.equal(rotated.session.idleExpiresAt, session.maxExpiresAt);
        assert.equal(rotated.session.maxExpiresAt, session.maxExpiresAt);
        assert.equal(rotated.tokenExpiresAt, session.maxExpiresAt);
        assert.equal((await store.findRefreshToken(successor))?.expiresAt, session.maxExpiresAt);
        assert.equal((await store.getSession(session.id))?.maxExpiresAt, session.maxExpiresAt);
      });

      it('each successor rotates in turn, and only the newest is live', async () => {
        const user = await addUser();
        const { token } = await openSession(user);
        const chain = [token, newHash(), newHash(), newHash()];
        for (let i = 1; i < chain.length; i += 1) {
          expectKind(await rotate(chain[i - 1] as string, chain[i] as string, T0 + i * 60 * SECOND), 'rotated');
        }
        const live = await Promise.all(chain.map(isLive));
        assert.deepEqual(live, [false, false, false, true]);
      });

      it('replaying the previous token within the grace window returns the same grant without rotating again', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        const successor = newHash();
        const at = T0 + 60 * SECOND;
        const rotated = expectKind(await rotate(token, successor, at), 'rotated');

        const replayed = expectKind(await rotate(token, successor, at + GRACE - 1), 'replayed');

        assert.deepEqual(replayed.session, rotated.session);
        assert.deepEqual(replayed.user, user);
        assert.equal(replayed.tokenIssuedAt, at);
        assert.equal(replayed.tokenExpiresAt, rotated.tokenExpiresAt);
        assert.deepEqual(await store.getSession(session.id), rotated.session);
        assert.equal(await isLive(successor), true);
        assert.equal(await isLive(token), false);
        // The converged successor still rotates normally afterwards.
        expectKind(await rotate(successor, newHash(), at + GRACE), 'rotated');
      });

      it('replays within the grace window keep converging on the same successor', async () => {
        const user = await addUser();
        const { token } = await openSession(user);
        const successor = newHash();
        const at = T0 + 60 * SECOND;
        const rotated = expectKind(await rotate(token, successor, at), 'rotated');
        for (const offset of [0, 1, GRACE / 2, GRACE - 1]) {
          const replayed = expectKind(await rotate(token, successor, at + offset), 'replayed');
          assert.equal(replayed.tokenExpiresAt, rotated.tokenExpiresAt);
        }
        assert.equal(await isLive(successor), true);
      });

      it('with a grace window of 0 a refresh token is strictly single use: replaying it is reuse', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        const successor = newHash();
        expectKind(await rotate(token, successor, T0 + SECOND, { graceMs: 0 }), 'rotated');
        const reused = expectKind(await rotate(token, successor, T0 + SECOND, { graceMs: 0 }), 'reused');
        assert.equal(reused.session.endReason, 'reuse');
        assert.equal((await store.getSession(session.id))?.endReason, 'reuse');
        expectKind(await rotate(successor, newHash(), T0 + 2 * SECOND, { graceMs: 0 }), 'session_ended');
      });

      it('replaying the previous token after the grace window is reuse and ends the session', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        const successor = newHash();
        const at = T0 + 60 * SECOND;
        expectKind(await rotate(token, successor, at), 'rotated');
        const late = at + GRACE + 1;
        const reused = expectKind(await rotate(token, successor, late), 'reused');
        assert.deepEqual(reused.session, {
          ...session,
          idleExpiresAt: at + IDLE,
          lastRefreshAt: at,
          endedAt: late,
          endReason: 'reuse',
        });
        expectKind(await rotate(successor, newHash(), late + 1), 'session_ended');
      });

      it('replaying the previous token after its successor was used is reuse, even within the grace window', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        const second = newHash();
        const third = newHash();
        const at = T0 + 60 * SECOND;
        expectKind(await rotate(token, second, at), 'rotated');
        expectKind(await rotate(second, third, at + 1), 'rotated');
        expectKind(await rotate(token, second, at + 2), 'reused');
        assert.equal((await store.getSession(session.id))?.endReason, 'reuse');
      });

      it('a token two generations old is reuse: the session ends and an audit event names the source', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user, { source: ORIGIN });
        const second = newHash();
        const third = newHash();
        expectKind(await rotate(token, second, T0 + 60 * SECOND), 'rotated');
        expectKind(await rotate(second, third, T0 + 120 * SECOND), 'rotated');
        const now = T0 + 121 * SECOND;

        const reused = expectKind(await rotate(token, newHash(), now, { source: REPLAYER }), 'reused');

        const ended: Session = {
          ...session,
          idleExpiresAt: T0 + 120 * SECOND + IDLE,
          lastRefreshAt: T0 + 120 * SECOND,
          endedAt: now,
          endReason: 'reuse',
        };
        assert.deepEqual(reused.session, ended);
        assert.deepEqual(await store.getSession(session.id), ended);
        assert.deepEqual(await store.listActiveSessions(now, user.id), []);

        const events = (await store.listAudit(10)).filter((event) => event.sessionId === session.id);
        assert.equal(events.length, 1, 'exactly one audit event for the reuse');
        const [event] = events;
        assert.ok(event);
        assert.equal(event.type, 'refresh_token_reuse');
        assert.equal(event.at, now);
        assert.equal(event.userId, user.id);
        assert.equal(event.sourceAddress, REPLAYER.address);
        assert.equal(event.userAgent, REPLAYER.userAgent);

        // The live token died with the session.
        expectKind(await rotate(third, newHash(), now + 1), 'session_ended');
      });

      it('an unknown token is unknown and changes nothing', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        expectKind(await rotate(newHash(), newHash(), T0 + SECOND), 'unknown');
        assert.deepEqual(await store.getSession(session.id), session);
        assert.equal(await isLive(token), true);
        assert.deepEqual(await store.listAudit(10), []);
      });

      it('a token presented at or after its expiry is expired and stays unrotated', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        expectKind(await rotate(token, newHash(), T0 + IDLE), 'expired');
        expectKind(await rotate(token, newHash(), T0 + IDLE + 1), 'expired');
        assert.deepEqual(await store.getSession(session.id), session);
        assert.equal(await isLive(token), true);
      });

      it('a token of a session past its max lifetime is expired even if the token itself is not', async () => {
        const user = await addUser();
        const { token } = await openSession(user, { idleMs: IDLE, maxMs: 60 * SECOND });
        expectKind(await rotate(token, newHash(), T0 + 60 * SECOND), 'expired');
      });

      it('a token of an ended session is session_ended', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        await store.endSession(session.id, 'revoked', T0 + SECOND);
        expectKind(await rotate(token, newHash(), T0 + 2 * SECOND), 'session_ended');
        assert.deepEqual(await store.listAudit(10), []);
      });

      it("a token of a disabled user's session is session_ended and does not rotate", async () => {
        const user = await addUser();
        const { token } = await openSession(user);
        await store.updateUser(user.id, { enabled: false, updatedAt: T0 + SECOND });
        expectKind(await rotate(token, newHash(), T0 + 2 * SECOND), 'session_ended');
        assert.equal(await isLive(token), true);
      });

      it('a token issued before the realm not-before policy is stale; one issued at or after it rotates', async () => {
        const user = await addUser();
        const before = await openSession(user, { at: T0 });
        const atPolicy = await openSession(user, { at: T0 + SECOND });
        await store.setRealmNotBefore(T0 + SECOND);
        expectKind(await rotate(before.token, newHash(), T0 + 2 * SECOND), 'stale');
        assert.equal(await isLive(before.token), true);
        expectKind(await rotate(atPolicy.token, newHash(), T0 + 2 * SECOND), 'rotated');
      });

      it('a rotation and a converged replay report the realm not-before policy they were checked against', async () => {
        const user = await addUser();
        const { token } = await openSession(user, { at: T0 + 2 * SECOND });
        await store.setRealmNotBefore(T0 + SECOND);
        const successor = newHash();
        const rotated = expectKind(await rotate(token, successor, T0 + 3 * SECOND), 'rotated');
        assert.equal(rotated.realmNotBefore, T0 + SECOND);
        const replayed = expectKind(await rotate(token, successor, T0 + 4 * SECOND), 'replayed');
        assert.equal(replayed.realmNotBefore, T0 + SECOND);
        // A policy set after the successor was issued: the next rotation is stale, and one issued
        // later rotates and reports the new value.
        await store.setRealmNotBefore(T0 + 5 * SECOND);
        expectKind(await rotate(successor, newHash(), T0 + 6 * SECOND), 'stale');
        const later = await openSession(user, { at: T0 + 7 * SECOND });
        const next = expectKind(await rotate(later.token, newHash(), T0 + 8 * SECOND), 'rotated');
        assert.equal(next.realmNotBefore, T0 + 5 * SECOND);
      });

      it("a token issued before its user's not-before policy is stale; other users are unaffected", async () => {
        const alice = await addUser('alice');
        const bob = await addUser('bob');
        const a = await openSession(alice);
        const b = await openSession(bob);
        await store.updateUser(alice.id, { notBefore: T0 + SECOND, updatedAt: T0 + SECOND });
        expectKind(await rotate(a.token, newHash(), T0 + 2 * SECOND), 'stale');
        expectKind(await rotate(b.token, newHash(), T0 + 2 * SECOND), 'rotated');
        // A session started after the policy refreshes normally.
        const later = await openSession(alice, { at: T0 + 3 * SECOND });
        expectKind(await rotate(later.token, newHash(), T0 + 4 * SECOND), 'rotated');
      });

      it('50 concurrent rotations of one token rotate exactly once and the other 49 replay the same grant', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        const successor = newHash();
        await warmUp();
        const now = T0 + 60 * SECOND;

        const outcomes = await Promise.all(Array.from({ length: 50 }, () => rotate(token, successor, now)));

        const kinds = outcomes.map((outcome) => outcome.kind);
        assert.equal(kinds.filter((kind) => kind === 'rotated').length, 1, `kinds: ${kinds.join(',')}`);
        assert.equal(kinds.filter((kind) => kind === 'replayed').length, 49, `kinds: ${kinds.join(',')}`);
        for (const outcome of outcomes) {
          const grant = outcome.kind === 'rotated' ? outcome : expectKind(outcome, 'replayed');
          assert.equal(grant.tokenIssuedAt, now);
          assert.equal(grant.tokenExpiresAt, now + IDLE);
          assert.equal(grant.session.idleExpiresAt, now + IDLE);
        }
        assert.equal(await isLive(successor), true);
        assert.equal(await isLive(token), false);
        assert.equal((await store.getSession(session.id))?.endedAt, null);
      });

      it('concurrent rotations of every token of a session leave at most one live token', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        const second = newHash();
        expectKind(await rotate(token, second, T0 + SECOND), 'rotated');
        await warmUp();
        // The live token and the (reused) first token race: whichever wins, never two live tokens.
        const successors = Array.from({ length: 20 }, () => newHash());
        await Promise.all(
          successors.map((successor, i) => rotate(i % 2 === 0 ? second : token, successor, T0 + 60 * SECOND)),
        );
        const live = await Promise.all([token, second, ...successors].map(async (hash) => (await store.findRefreshToken(hash))?.live ?? false));
        assert.ok(live.filter(Boolean).length <= 1, 'at most one live token');
        assert.equal((await store.getSession(session.id))?.endReason, 'reuse');
      });
    });

    describe('findRefreshToken', () => {
      it('returns null for an unknown hash', async () => {
        assert.equal(await store.findRefreshToken(newHash()), null);
      });

      it('finds a rotated-away token with its issue and expiry times, not live', async () => {
        const user = await addUser();
        const { token } = await openSession(user);
        const now = T0 + 60 * SECOND;
        expectKind(await rotate(token, newHash(), now), 'rotated');
        const record = await store.findRefreshToken(token);
        assert.ok(record);
        assert.equal(record.issuedAt, T0);
        assert.equal(record.expiresAt, T0 + IDLE);
        assert.equal(record.live, false);
        assert.equal(record.session.lastRefreshAt, now);
        assert.deepEqual(record.user, user);
      });
    });

    describe('not-before policy', () => {
      it('the realm not-before is 0 until set, then the last value set', async () => {
        assert.equal(await store.getRealmNotBefore(), 0);
        await store.setRealmNotBefore(T0);
        assert.equal(await store.getRealmNotBefore(), T0);
        await store.setRealmNotBefore(T0 + SECOND);
        assert.equal(await store.getRealmNotBefore(), T0 + SECOND);
      });
    });

    describe('signing keys', () => {
      it('a new store has no keys', async () => {
        assert.deepEqual(await store.listKeys(), []);
      });

      it('adding a key retires every unretired key at its creation time, and keeps earlier retirements', async () => {
        const k1 = key('k1', T0);
        const k2 = key('k2', T0 + SECOND);
        const k3 = key('k3', T0 + 2 * SECOND);
        await store.addKeyRetiringOthers(k1);
        assert.deepEqual(await store.listKeys(), [k1]);
        await store.addKeyRetiringOthers(k2);
        assert.deepEqual(await store.listKeys(), [k2, { ...k1, retiredAt: T0 + SECOND }]);
        await store.addKeyRetiringOthers(k3);
        assert.deepEqual(await store.listKeys(), [
          k3,
          { ...k2, retiredAt: T0 + 2 * SECOND },
          { ...k1, retiredAt: T0 + SECOND },
        ]);
      });

      it('keys come back newest first with their public JWK intact', async () => {
        const older = { ...key('older', T0), publicJwk: { kty: 'EC', crv: 'P-256', x: 'xx', y: 'yy', key_ops: ['verify'] } };
        const newer = key('newer', T0 + SECOND);
        await store.addKeyRetiringOthers(newer);
        await store.addKeyRetiringOthers(older);
        const listed = await store.listKeys();
        assert.deepEqual(
          listed.map((stored) => stored.kid),
          ['newer', 'older'],
        );
        assert.deepEqual(listed[1]?.publicJwk, older.publicJwk);
      });

      it('concurrent key additions leave exactly one key unretired', async () => {
        await warmUp();
        const keys = Array.from({ length: 8 }, (_, i) => key(`race-${i}`, T0 + SECOND));
        await Promise.all(keys.map((k) => store.addKeyRetiringOthers(k)));
        const listed = await store.listKeys();
        assert.equal(listed.length, 8);
        assert.equal(listed.filter((stored) => stored.retiredAt === null).length, 1);
      });
    });

    describe('secrets', () => {
      it('getOrCreateSecret keeps the first value and returns it to every later caller', async () => {
        assert.equal(await store.getOrCreateSecret('server', 'sealed-first'), 'sealed-first');
        assert.equal(await store.getOrCreateSecret('server', 'sealed-second'), 'sealed-first');
        assert.equal(await store.getOrCreateSecret('other', 'sealed-other'), 'sealed-other');
        assert.equal(await store.getOrCreateSecret('server', 'sealed-third'), 'sealed-first');
      });

      it('concurrent first writers all get the one value that won', async () => {
        await warmUp();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.getOrCreateSecret('contested', `candidate-${i}`)),
        );
        const [winner] = results;
        assert.ok(winner?.startsWith('candidate-'));
        assert.deepEqual(results, Array.from({ length: 10 }, () => winner));
      });

      it('a secret does not disturb the realm not-before policy', async () => {
        await store.getOrCreateSecret('realm_not_before', 'not-a-number');
        assert.equal(await store.getRealmNotBefore(), 0);
      });
    });

    describe('audit', () => {
      it('listAudit returns events newest first, at most limit, with every field as recorded', async () => {
        const base = { type: 'login_failed', sourceAddress: '192.0.2.1', userAgent: 'curl/8', detail: 'wrong password' };
        const first = { ...base, at: T0, userId: null, sessionId: null };
        const third = { ...base, at: T0 + 2 * SECOND, userId: randomUUID(), sessionId: randomUUID(), detail: 'third' };
        const second = { ...base, at: T0 + SECOND, userId: randomUUID(), sessionId: null, detail: 'ünïcode ✓' };
        await store.recordAudit(first);
        await store.recordAudit(third);
        await store.recordAudit(second);
        assert.deepEqual(await store.listAudit(10), [third, second, first]);
        assert.deepEqual(await store.listAudit(2), [third, second]);
        assert.deepEqual(await store.listAudit(0), []);
      });

      it('events recorded at the same instant come back most recently recorded first', async () => {
        for (const detail of ['one', 'two', 'three']) {
          await store.recordAudit({ at: T0, type: 't', userId: null, sessionId: null, sourceAddress: '', userAgent: '', detail });
        }
        assert.deepEqual(
          (await store.listAudit(3)).map((event) => event.detail),
          ['three', 'two', 'one'],
        );
      });
    });

    describe('failure counters', () => {
      const WINDOW = 60 * SECOND;

      it('the first failure opens a window that ends windowMs later', async () => {
        assert.deepEqual(await store.recordFailure('user:alice', T0, WINDOW), { count: 1, resetAt: T0 + WINDOW });
        assert.deepEqual(await store.getFailures('user:alice', T0 + 1), { count: 1, resetAt: T0 + WINDOW });
      });

      it('failures within the window increment the count and keep the window end', async () => {
        await store.recordFailure('user:alice', T0, WINDOW);
        assert.deepEqual(await store.recordFailure('user:alice', T0 + SECOND, WINDOW), { count: 2, resetAt: T0 + WINDOW });
        assert.deepEqual(await store.recordFailure('user:alice', T0 + WINDOW - 1, WINDOW), {
          count: 3,
          resetAt: T0 + WINDOW,
        });
        assert.deepEqual(await store.getFailures('user:alice', T0 + WINDOW - 1), { count: 3, resetAt: T0 + WINDOW });
      });

      it('a failure once the window has passed starts a new window at one', async () => {
        await store.recordFailure('ip:192.0.2.1', T0, WINDOW);
        await store.recordFailure('ip:192.0.2.1', T0 + 1, WINDOW);
        const later = T0 + WINDOW;
        assert.deepEqual(await store.recordFailure('ip:192.0.2.1', later, WINDOW), { count: 1, resetAt: later + WINDOW });
      });

      it('getFailures is zero once the window has passed, and for a key never seen', async () => {
        await store.recordFailure('user:bob', T0, WINDOW);
        assert.equal((await store.getFailures('user:bob', T0 + WINDOW)).count, 0);
        assert.equal((await store.getFailures('user:bob', T0 + 10 * WINDOW)).count, 0);
        assert.equal((await store.getFailures('user:nobody', T0)).count, 0);
      });

      it('counters are kept per key and clearFailures resets only its own', async () => {
        await store.recordFailure('user:alice', T0, WINDOW);
        await store.recordFailure('user:alice', T0, WINDOW);
        await store.recordFailure('user:bob', T0, WINDOW);
        await store.clearFailures('user:alice');
        assert.equal((await store.getFailures('user:alice', T0 + 1)).count, 0);
        assert.equal((await store.getFailures('user:bob', T0 + 1)).count, 1);
        assert.deepEqual(await store.recordFailure('user:alice', T0 + 2, WINDOW), { count: 1, resetAt: T0 + 2 + WINDOW });
        await store.clearFailures('user:never-seen');
      });

      it('any string is a counter key: NUL characters and 16 KiB keys count separately from their neighbours', async () => {
        const keys = ['user:a\u0000b', 'user:a', 'user:ab', `user:${'x'.repeat(16 * 1024)}`, `user:${'x'.repeat(16 * 1024 - 1)}`];
        for (const [i, name] of keys.entries()) {
          for (let n = 0; n <= i; n += 1) await store.recordFailure(name, T0, WINDOW);
        }
        for (const [i, name] of keys.entries()) {
          assert.deepEqual(await store.getFailures(name, T0 + 1), { count: i + 1, resetAt: T0 + WINDOW }, `key #${i}`);
        }
        await store.clearFailures(keys[0] as string);
        assert.equal((await store.getFailures(keys[0] as string, T0 + 1)).count, 0);
        assert.equal((await store.getFailures(keys[1] as string, T0 + 1)).count, 2);
      });

      it('concurrent failures are each counted once', async () => {
        await warmUp();
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => store.recordFailure('ip:198.51.100.1', T0 + i, WINDOW)),
        );
        assert.deepEqual(
          results.map((result) => result.count).sort((a, b) => a - b),
          Array.from({ length: 30 }, (_, i) => i + 1),
        );
        assert.equal((await store.getFailures('ip:198.51.100.1', T0 + 30)).count, 30);
      });
    });

    describe('purgeExpired', () => {
      it('removes ended and expired sessions with their tokens, keeps live ones', async () => {
        const user = await addUser();
        const live = await openSession(user);
        const loggedOut = await openSession(user);
        await store.endSession(loggedOut.session.id, 'logout', T0 + SECOND);
        const idle = await openSession(user, { idleMs: 5 * SECOND });
        const capped = await openSession(user, { idleMs: IDLE, maxMs: 5 * SECOND });
        const endsLater = await openSession(user);
        await store.endSession(endsLater.session.id, 'revoked', T0 + 20 * SECOND);
        const before = T0 + 10 * SECOND;

        const purged = await store.purgeExpired(before, 100);

        assert.ok(purged >= 3, `purged ${purged}`);
        for (const gone of [loggedOut, idle, capped]) {
          assert.equal(await store.getSession(gone.session.id), null);
          assert.equal(await store.findRefreshToken(gone.token), null);
          expectKind(await rotate(gone.token, newHash(), before), 'unknown');
        }
        for (const kept of [live, endsLater]) {
          assert.ok(await store.getSession(kept.session.id));
          assert.ok(await store.findRefreshToken(kept.token));
        }
        assert.equal(await isLive(live.token), true);
        assert.equal(await store.purgeExpired(before, 100), 0);
      });

      it('removes expired rotated-away tokens of a live session and keeps its live token', async () => {
        const user = await addUser();
        const { session, token } = await openSession(user);
        const successor = newHash();
        expectKind(await rotate(token, successor, T0 + IDLE - SECOND), 'rotated');
        const before = T0 + IDLE + SECOND;
        assert.equal(await store.purgeExpired(before, 100), 1);
        assert.equal(await store.findRefreshToken(token), null);
        assert.equal(await isLive(successor), true);
        assert.ok(await store.getSession(session.id));
      });

      it('removes lapsed failure counters and keeps counting ones', async () => {
        await store.recordFailure('lapsed', T0, 5 * SECOND);
        await store.recordFailure('counting', T0, 60 * SECOND);
        const before = T0 + 10 * SECOND;
        assert.equal(await store.purgeExpired(before, 100), 1);
        assert.equal((await store.getFailures('counting', before)).count, 1);
        assert.equal(await store.purgeExpired(before, 100), 0);
      });

      it('deletes at most limit rows of each kind per call', async () => {
        const user = await addUser();
        const ended = [await openSession(user), await openSession(user), await openSession(user)];
        for (const { session } of ended) await store.endSession(session.id, 'logout', T0 + SECOND);
        for (const name of ['c1', 'c2', 'c3']) await store.recordFailure(name, T0, SECOND);
        const before = T0 + 10 * SECOND;

        const first = await store.purgeExpired(before, 1);

        assert.ok(first >= 1 && first <= 3, `purged ${first}`);
        const remaining = async () =>
          (await Promise.all(ended.map(({ session }) => store.getSession(session.id)))).filter(Boolean).length;
        assert.equal(await remaining(), 2);
        await store.purgeExpired(before, 1);
        assert.equal(await remaining(), 1);
        await store.purgeExpired(before, 100);
        assert.equal(await remaining(), 0);
        assert.equal(await store.purgeExpired(before, 100), 0);
      });
    });

    describe('purgeAudit', () => {
      function event(at: number, detail: string) {
        return { at, type: 'refresh_token_reuse', userId: null, sessionId: null, sourceAddress: '', userAgent: '', detail };
      }

      it('deletes events recorded before the cut-off, oldest first, and keeps later ones', async () => {
        for (const [at, detail] of [[T0 + 3, 'c'], [T0 + 1, 'a'], [T0 + 10, 'kept'], [T0 + 2, 'b']] as const) {
          await store.recordAudit(event(at, detail));
        }
        assert.equal(await store.purgeAudit(T0 + 10, 2), 2);
        assert.deepEqual((await store.listAudit(10)).map((e) => e.detail), ['kept', 'c']);
        assert.equal(await store.purgeAudit(T0 + 10, 100), 1);
        assert.deepEqual((await store.listAudit(10)).map((e) => e.detail), ['kept']);
        assert.equal(await store.purgeAudit(T0 + 10, 100), 0);
      });

      it('purgeExpired leaves audit events alone', async () => {
        await store.recordAudit(event(T0, 'old'));
        await store.purgeExpired(T0 + 100 * IDLE, 100);
        assert.equal((await store.listAudit(10)).length, 1);
      });
    });
  });
}
