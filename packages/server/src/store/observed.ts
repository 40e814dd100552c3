import type { AuditEvent, Store } from './port.js';

/** A store method, as `part.method` (`sessions.apply`) or a maintenance method's name (`ping`). */
export type StoreOperation = string;

/** How a store call failed: the database could not be reached (503), or anything else (500). */
export type StoreFailure = 'unavailable' | 'other';

/** What watches a store's calls; it never changes what they do. */
export interface StoreObserver {
  /**
   * Asked once per operation, when the store is wrapped; the function it returns is called when a
   * call of that operation settles, with how long it took and how it failed (null: it did not).
   */
  operation(operation: StoreOperation): (seconds: number, failure: StoreFailure | null) => void;
  /** An audit event is in the trail: recorded alone, or with a session started or changed. */
  recorded(event: AuditEvent): void;
}

type Method = (...args: never[]) => unknown;

/**
 * Wraps `store` so that `observer` sees every call settle and every audit event recorded: the
 * metrics' view of the store, kept out of the adapters and out of the domain. Each call looks its
 * method up on `store` when it is made, so a fault a test injects by replacing a method of `store`
 * (or of one of its parts) is seen too.
 */
export function observeStore(store: Store, observer: StoreObserver): Store {
  const failure = (error: unknown): StoreFailure => (store.isUnavailableError(error) ? 'unavailable' : 'other');
  function timed<M extends Method>(operation: StoreOperation, call: M): M {
    const settle = observer.operation(operation);
    return ((...args: Parameters<M>) => {
      const started = performance.now();
      let pending: unknown;
      try {
        pending = call(...args);
      } catch (error) {
        settle((performance.now() - started) / 1000, failure(error));
        throw error;
      }
      // Answered at once (see SessionStore.getContext): settled now, and answered as it came.
      if (!(pending instanceof Promise)) {
        settle((performance.now() - started) / 1000, null);
        return pending;
      }
      return pending.then(
        (value) => {
          settle((performance.now() - started) / 1000, null);
          return value;
        },
        (error: unknown) => {
          settle((performance.now() - started) / 1000, failure(error));
          throw error;
        },
      );
    }) as M;
  }
  const { users, sessions, keys, settings, counters, audit, admins } = store;
  return {
    kind: store.kind,
    users: {
      create: timed('users.create', (user) => users.create(user)),
      findByUsername: timed('users.findByUsername', (username) => users.findByUsername(username)),
      findById: timed('users.findById', (id) => users.findById(id)),
      list: timed('users.list', () => users.list()),
      count: timed('users.count', () => users.count()),
      update: timed('users.update', (id, patch) => users.update(id, patch)),
      remove: timed('users.remove', (id) => users.remove(id)),
    },
    sessions: {
      create: timed('sessions.create', async (session, maxActive) => {
        const created = await sessions.create(session, maxActive);
        if (created && session.audit) observer.recorded(session.audit);
        return created;
      }),
      get: timed('sessions.get', (id) => sessions.get(id)),
      getContext: timed('sessions.getContext', (id) => sessions.getContext(id)),
      apply: timed('sessions.apply', async (change) => {
        const applied = await sessions.apply(change);
        if (applied && change.audit) observer.recorded(change.audit);
        return applied;
      }),
      listActive: timed('sessions.listActive', (now, filter) => sessions.listActive(now, filter)),
      countActive: timed('sessions.countActive', (now, bounds) => sessions.countActive(now, bounds)),
      end: timed('sessions.end', (id, reason, at) => sessions.end(id, reason, at)),
      endAllOfUser: timed('sessions.endAllOfUser', (userId, reason, at) => sessions.endAllOfUser(userId, reason, at)),
    },
    keys: {
      list: timed('keys.list', () => keys.list()),
      addRetiringOthers: timed('keys.addRetiringOthers', (key) => keys.addRetiringOthers(key)),
    },
    settings: {
      getRealmNotBefore: timed('settings.getRealmNotBefore', () => settings.getRealmNotBefore()),
      setRealmNotBefore: timed('settings.setRealmNotBefore', (at) => settings.setRealmNotBefore(at)),
      getOrCreateSecret: timed('settings.getOrCreateSecret', (name, value) => settings.getOrCreateSecret(name, value)),
    },
    counters: {
      read: timed('counters.read', (keys) => counters.read(keys)),
      update: timed('counters.update', (keys, decide) => counters.update(keys, decide)),
    },
    audit: {
      record: timed('audit.record', async (event) => {
        await audit.record(event);
        observer.recorded(event);
      }),
      list: timed('audit.list', (filter) => audit.list(filter)),
      histogram: timed('audit.histogram', (query) => audit.histogram(query)),
    },
    admins: {
      create: timed('admins.create', (admin) => admins.create(admin)),
      findByName: timed('admins.findByName', (name) => admins.findByName(name)),
      list: timed('admins.list', () => admins.list()),
      setPasswordHash: timed('admins.setPasswordHash', (id, hash, at) => admins.setPasswordHash(id, hash, at)),
      remove: timed('admins.remove', (id) => admins.remove(id)),
      createSession: timed('admins.createSession', (session) => admins.createSession(session)),
      getSession: timed('admins.getSession', (idHash) => admins.getSession(idHash)),
      touchSession: timed('admins.touchSession', (idHash, at, idle) => admins.touchSession(idHash, at, idle)),
      endSession: timed('admins.endSession', (idHash) => admins.endSession(idHash)),
      purgeSessions: timed('admins.purgeSessions', (now) => admins.purgeSessions(now)),
    },
    migrate: timed('migrate', () => store.migrate()),
    pendingMigrations: timed('pendingMigrations', () => store.pendingMigrations()),
    ping: timed('ping', () => store.ping()),
    close: () => store.close(),
    purgeExpired: timed('purgeExpired', (before, limit) => store.purgeExpired(before, limit)),
    purgeAudit: timed('purgeAudit', (before, limit) => store.purgeAudit(before, limit)),
    isUnavailableError: (error) => store.isUnavailableError(error),
  };
}
