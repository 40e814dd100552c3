import type { ActiveSessionCount, MaybePromise, NewSession, Session, SessionChange, SessionContext, SessionEndReason, SessionStore } from '../port.js';
import { REALM_NOT_BEFORE, newSessionRecord, sessionContextColumns, sessionPatchColumns, toSession, toSessionContext, type SessionContextRow, type SessionRow } from '../rows.js';
import { onlyOwnCommitsBetween, type CommitMark, type SqliteDatabase } from './database.js';
import { OncePerTurn, type WalIndexHeader } from './wal-index.js';
import { WalSync, type WalSyncOptions } from './wal-sync.js';

/** When a session stopped (or stops) being usable: the expression the `sessions_purge` index holds. */
const USABLE_UNTIL = 'COALESCE(ended_at, MIN(idle_expires_at, max_expires_at))';

/** Contexts kept at most (the oldest read is dropped first). */
const CACHED_CONTEXTS = 10_000;

interface Pending {
  change: SessionChange;
  resolve: (applied: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * Sessions on SQLite; changes to them are group-committed (see {@link SqliteSessionStore.apply}).
 * Contexts read are kept only while nothing but this store's own batches changed the database
 * (see {@link getContext}).
 */
export class SqliteSessionStore implements SessionStore {
  readonly #d: SqliteDatabase;
  /** Contexts read since the database last changed (see {@link #contextsCurrent}), frozen: each is what a read would answer now. */
  readonly #contexts = new Map<string, SessionContext>();
  /** The wal-index header, once the file has one (in WAL mode, from its first read on). */
  #walIndex: WalIndexHeader | null = null;
  /** Rows this connection changed (`total_changes()`, any store part) when the contexts were last checked. */
  #changes = -1;
  /** Without a {@link #walIndex}: `data_version` when the contexts were last checked. */
  #version = -1;
  /** Context reads read the wal-index header at the first of each turn of the event loop. */
  readonly #headerTurns = new OncePerTurn();
  #pending: Pending[] = [];
  /** {@link applyOne} in a savepoint of its own (a transaction nested in the batch's). */
  readonly #applyInSavepoint: (change: SessionChange) => boolean;
  #scheduled: Promise<void> | null = null;
  /** Puts the batches on disk off the event loop; null unless the file is in WAL mode (then the commit does). */
  readonly #walSync: WalSync | null;
  /** Sessions changed by a batch not yet on disk, with that batch's commit number. */
  readonly #unsynced = new Map<string, number>();

  /** `fdatasync`: fault injection for tests (see {@link WalSync}). */
  constructor(d: SqliteDatabase, options: { fdatasync?: WalSyncOptions['fdatasync'] } = {}) {
    this.#d = d;
    // A failed fsync stops every write of the store, not only the sessions' (see WalSync).
    this.#walSync = d.wal ? new WalSync(d.db.name, { onFailure: (error) => d.stopWrites(error), fdatasync: options.fdatasync }) : null;
    this.#applyInSavepoint = d.db.transaction((change: SessionChange) => this.#applyOne(change));
  }

  /**
   * Runs `fn` in one write transaction and resolves once it is on disk. The fsync runs off the event
   * loop (see {@link WalSync}), shared with the batches' and other writes' made meanwhile: on a slow
   * disk an fsync inside the commit held the loop, every request and the hashing threads waiting for
   * their next password with it, for 1.4 ms at the median and 5 ms at the 90th percentile (EPYC VM).
   * `changed` tells from the result whether anything was written: nothing to wait for if not.
   */
  async #writeDurably<T>(fn: () => T, changed: (result: T) => boolean): Promise<T> {
    if (this.#walSync === null) return this.#d.write(fn, 'durable');
    const result = this.#d.write(fn, 'relaxed');
    if (changed(result)) await this.#durable(this.#walSync.committed());
    return result;
  }

  async create(session: NewSession, maxActive: number): Promise<Session | null> {
    return this.#writeDurably(() => {
      const userId = session.userId;
      const bound = this.#d.sql('SELECT live_sessions_bound FROM users WHERE id = ?').pluck().get(userId) as number | undefined;
      let live = bound ?? 0;
      if (live >= maxActive) {
        // The bound says there may be no room: count the sessions really active, as far as the limit.
        live = this.#d
          .sql(
            `SELECT COUNT(*) FROM (SELECT 1 FROM sessions
               WHERE user_id = @userId AND ended_at IS NULL AND idle_expires_at > @now AND max_expires_at > @now LIMIT @maxActive)`,
          )
          .pluck()
          .get({ userId, now: session.createdAt, maxActive }) as number;
        if (live >= maxActive) return null;
      }
      this.#d
        .sql(
          `INSERT INTO sessions (id, user_id, created_at, idle_expires_at, max_expires_at, last_refresh_at,
             source_address, user_agent, generation, token_issued_at, rotation_window_start)
           VALUES (@id, @userId, @now, @idleExpiresAt, @maxExpiresAt, @now, @address, @userAgent, 0, @tokenIssuedAt, @now)`,
        )
        .run({
          id: session.id,
          userId,
          now: session.createdAt,
          idleExpiresAt: session.idleExpiresAt,
          maxExpiresAt: session.maxExpiresAt,
          tokenIssuedAt: session.tokenIssuedAt,
          address: session.source.address,
          userAgent: session.source.userAgent,
        });
      this.#d.sql('UPDATE users SET live_sessions_bound = ? WHERE id = ?').run(live + 1, userId);
      if (session.audit) this.#d.insertAudit(session.audit);
      return newSessionRecord(session);
    }, (created) => created !== null);
  }

  async get(id: string): Promise<Session | null> {
    const row = this.#d.sql('SELECT * FROM sessions WHERE id = ?').get(id) as SessionRow | undefined;
    return row ? toSession(row) : null;
  }

  /**
   * A context is answered from memory only when nothing was committed to the database since it was
   * read, but by this store's batches, which patch the contexts they change (see
   * {@link #carryContexts}). A write of this connection (any store part: a logout, a revocation, an
   * operator's change through this server) is seen by the very next read. Another connection's
   * commit (a second server on the file, the CLI) is seen by the first read of each turn of the
   * event loop, which reads the wal-index header (see {@link #contextsCurrent}): so by every request
   * that arrived after it. Expiry needs no care here: the caller compares the context's expiry
   * times with its clock.
   */
  getContext(id: string): MaybePromise<SessionContext | null> {
    if (!this.#contextsCurrent(false)) this.#contexts.clear();
    const context = this.#contexts.get(id) ?? this.#read(id);
    // A context a batch not yet on disk wrote must not lead to a token handed out (a converged
    // replay hands out the rotation's token): it is answered once that batch is on disk.
    const unsynced = this.#unsynced.get(id);
    if (unsynced !== undefined && this.#walSync) return this.#durable(unsynced).then(() => context);
    return context;
  }

  /**
   * Resolves once commit number `commit` is on disk. A failed fsync has stopped the store's writes
   * (see {@link WalSync}): the request it held answers as every later write does, unavailable.
   */
  #durable(commit: number): Promise<void> {
    return (this.#walSync as WalSync).durable(commit).catch((error: unknown) => {
      throw this.#d.stopped ?? error;
    });
  }

  #read(id: string): SessionContext | null {
    const row = this.#d
      .sql(`SELECT ${sessionContextColumns('settings', '?')} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`)
      .get(REALM_NOT_BEFORE, id) as SessionContextRow | undefined;
    if (!row) return null;
    const context = toSessionContext(row);
    if (context.session.rotatedBy !== null) Object.freeze(context.session.rotatedBy);
    Object.freeze(context.session);
    Object.freeze(context.user);
    this.#keep(Object.freeze(context));
    return context;
  }

  /**
   * Whether the contexts kept still answer as a read would; takes the database's state now as the
   * new mark either way. `total_changes()` (a counter in memory: 0.1 µs) moves with every row this
   * connection changes, committed or not. Other connections' commits move the wal-index header,
   * read once per turn of the event loop (see {@link OncePerTurn}); `exact` reads it every time
   * (the batch's check under the write lock).
   */
  #contextsCurrent(exact: boolean): boolean {
    this.#walIndex ??= this.#d.openWalIndex();
    const changes = this.#totalChanges();
    const ownWrites = changes !== this.#changes;
    this.#changes = changes;
    if (this.#walIndex !== null) {
      const read = exact || this.#headerTurns.first() || ownWrites;
      return read ? this.#walIndex.unchanged() && !ownWrites : true;
    }
    // Without one (not in WAL mode, or before the file has one): `data_version` moves with every
    // commit of another connection.
    const version = this.#d.sql('PRAGMA data_version').pluck().get() as number;
    const current = !ownWrites && version === this.#version;
    this.#version = version;
    return current;
  }

  #totalChanges(): number {
    return this.#d.sql('SELECT total_changes()').pluck().get() as number;
  }

  #keep(context: SessionContext): void {
    const id = context.session.id;
    if (!this.#contexts.delete(id) && this.#contexts.size >= CACHED_CONTEXTS) {
      this.#contexts.delete(this.#contexts.keys().next().value as string);
    }
    this.#contexts.set(id, context);
  }

  /**
   * After a batch this connection committed: the contexts kept stay current when nothing else
   * changed the database since they were read (checked inside the batch's transaction, which holds
   * the write lock), with the sessions the batch changed patched as their rows were. Without that, a
   * refresh would always miss: every session it reads was rotated by the batch before.
   */
  #carryContexts(
    current: boolean,
    before: CommitMark | null,
    batch: readonly Pending[],
    outcomes: ReadonlyArray<{ applied: boolean } | { error: unknown }>,
  ): void {
    if (this.#walIndex !== null) {
      // The batch committed once if it changed a row, else not at all; any other commit since the
      // mark is another connection's, made between this commit and this read.
      this.#walIndex.unchanged();
      current &&= onlyOwnCommitsBetween(before, this.#d.commitMark(this.#walIndex.commits));
    }
    // The batch's own rows (`data_version` stays as it was for this connection's own commit).
    this.#changes = this.#totalChanges();
    if (!current) {
      this.#contexts.clear();
      return;
    }
    batch.forEach(({ change }, index) => {
      const outcome = outcomes[index];
      const kept = this.#contexts.get(change.sessionId);
      if (kept === undefined || !outcome || !('applied' in outcome) || !outcome.applied) return;
      const session: Session = { ...kept.session };
      for (const [field, value] of Object.entries(change.patch)) {
        if (value !== undefined) (session as unknown as Record<string, unknown>)[field] = value;
      }
      if (change.patch.rotatedBy) session.rotatedBy = Object.freeze({ address: change.patch.rotatedBy.address, userAgent: change.patch.rotatedBy.userAgent });
      this.#keep(Object.freeze({ ...kept, session: Object.freeze(session) }));
    });
  }

  /**
   * Changes wait for the end of the current event-loop turn and then commit together, in one
   * transaction and one fsync (group commit): a response still leaves only once its token is on
   * disk, but a burst of refreshes pays for one disk flush instead of one each. The fsync runs off
   * the event loop (see {@link WalSync}), so the loop serves other requests while the disk works.
   * Each change is compare-and-set on the generation it was decided from, so of two changes decided
   * from the same snapshot only the first applies.
   */
  apply(change: SessionChange): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ change, resolve, reject });
      this.#scheduled ??= new Promise((done) =>
        setImmediate(() => {
          this.#commit();
          done();
        }),
      );
    });
  }

  /** Resolves once every change already handed to {@link apply} is committed and on disk. */
  async flush(): Promise<void> {
    await this.#scheduled;
    await this.#walSync?.idle();
  }

  /** Ends the store's use of the WAL file (after {@link flush}). */
  close(): void {
    this.#walSync?.close();
  }

  #commit(): void {
    const batch = this.#pending;
    this.#pending = [];
    this.#scheduled = null;
    let current = false;
    let before: CommitMark | null = null;
    let outcomes: Array<{ applied: boolean } | { error: unknown }>;
    try {
      // With a WalSync, the commit skips its own fsync: WalSync runs it off the event loop, and
      // the batch is answered only once it has returned.
      outcomes = this.#d.write(() => {
        // Read with the write lock held: no other connection can commit until this one has.
        current = this.#contextsCurrent(true);
        before = this.#d.commitMark(this.#walIndex?.commits ?? null);
        return batch.map(({ change }) => {
          try {
            return { applied: this.#applyChange(change) };
          } catch (error) {
            return { error };
          }
        });
      }, this.#walSync ? 'relaxed' : 'durable');
    } catch (error) {
      this.#contexts.clear();
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.#carryContexts(current, before, batch, outcomes);
    const settle = () =>
      batch.forEach((pending, index) => {
        const outcome = outcomes[index];
        if (outcome && 'applied' in outcome) pending.resolve(outcome.applied);
        else pending.reject(outcome?.error);
      });
    if (!this.#walSync) return settle();
    const commit = this.#walSync.committed();
    batch.forEach(({ change }, index) => {
      const outcome = outcomes[index];
      if (outcome && 'applied' in outcome && outcome.applied) this.#unsynced.set(change.sessionId, commit);
    });
    const synced = () => {
      for (const { change } of batch) if (this.#unsynced.get(change.sessionId) === commit) this.#unsynced.delete(change.sessionId);
    };
    this.#durable(commit).then(
      () => {
        synced();
        settle();
      },
      (error: unknown) => {
        synced();
        for (const pending of batch) pending.reject(error);
      },
    );
  }

  /**
   * One change of a batch: a change that fails rolls back alone and rejects alone; the others still
   * commit. A lone UPDATE that fails is undone by SQLite itself; an update with its audit event
   * needs a savepoint of its own (a transaction nested in the batch's), so that both or neither stay.
   */
  #applyChange(change: SessionChange): boolean {
    return change.audit ? this.#applyInSavepoint(change) : this.#applyOne(change);
  }

  #applyOne(change: SessionChange): boolean {
    const fields = sessionPatchColumns(change.patch);
    const assignments = fields.map(([column]) => `${column} = ?`).join(', ');
    const changed = this.#d
      .sql(`UPDATE sessions SET ${assignments} WHERE id = ? AND generation = ? AND ended_at IS NULL`)
      .run(...fields.map(([, value]) => value), change.sessionId, change.expectedGeneration).changes;
    if (changed === 1 && change.audit) this.#d.insertAudit(change.audit);
    return changed === 1;
  }

  async listActive(now: number, filter: { userId?: string; limit: number }): Promise<Session[]> {
    // Two statements, so each walks its own index (sessions_created, sessions_user) newest first.
    const active = 'ended_at IS NULL AND idle_expires_at > @now AND max_expires_at > @now';
    const rows = (
      filter.userId === undefined
        ? this.#d.sql(`SELECT * FROM sessions WHERE ${active} ORDER BY created_at DESC, id LIMIT @limit`).all({ now, limit: filter.limit })
        : this.#d
            .sql(`SELECT * FROM sessions WHERE user_id = @userId AND ${active} ORDER BY created_at DESC, id LIMIT @limit`)
            .all({ now, userId: filter.userId, limit: filter.limit })
    ) as SessionRow[];
    return rows.map(toSession);
  }

  async countActive(now: number, bounds: { total: number; sample: number }): Promise<ActiveSessionCount> {
    // Both walk the sessions_purge index from its end, and stop at their bound: the count reads the
    // index alone, the sample also each session's user.
    const { total } = this.#d
      .sql(`SELECT COUNT(*) AS total FROM (SELECT 1 FROM sessions WHERE ${USABLE_UNTIL} > ? LIMIT ?)`)
      .get(now, bounds.total) as { total: number };
    const { busiest } = this.#d
      .sql(
        `SELECT COALESCE(MAX(n), 0) AS busiest FROM (SELECT COUNT(*) AS n FROM (
           SELECT user_id FROM sessions WHERE ${USABLE_UNTIL} > ? ORDER BY ${USABLE_UNTIL} DESC LIMIT ?) GROUP BY user_id)`,
      )
      .get(now, bounds.sample) as { busiest: number };
    return { total, busiestUser: busiest };
  }

  async end(id: string, reason: SessionEndReason, at: number): Promise<boolean> {
    return this.#writeDurably(
      () => this.#d.sql('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(at, reason, id).changes > 0,
      (ended) => ended,
    );
  }

  async endAllOfUser(userId: string, reason: SessionEndReason, at: number): Promise<number> {
    return this.#writeDurably(
      () => this.#d.sql('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL').run(at, reason, userId).changes,
      (ended) => ended > 0,
    );
  }
}
