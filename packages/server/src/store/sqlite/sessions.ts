import type { ActiveSessionCount, NewSession, Session, SessionChange, SessionContext, SessionEndReason, SessionStore } from '../port.js';
import { REALM_NOT_BEFORE, newSessionRecord, sessionContextColumns, sessionPatchColumns, toSession, toSessionContext, type SessionContextRow, type SessionRow } from '../rows.js';
import type { SqliteDatabase } from './database.js';

/** When a session stopped (or stops) being usable: the expression the `sessions_purge` index holds. */
const USABLE_UNTIL = 'COALESCE(ended_at, MIN(idle_expires_at, max_expires_at))';

interface Pending {
  change: SessionChange;
  resolve: (applied: boolean) => void;
  reject: (error: unknown) => void;
}

/** Sessions on SQLite; changes to them are group-committed (see {@link SqliteSessionStore.apply}). */
export class SqliteSessionStore implements SessionStore {
  readonly #d: SqliteDatabase;
  #pending: Pending[] = [];
  /** {@link applyOne} in a savepoint of its own (a transaction nested in the batch's). */
  readonly #applyInSavepoint: (change: SessionChange) => boolean;
  #scheduled: Promise<void> | null = null;

  constructor(d: SqliteDatabase) {
    this.#d = d;
    this.#applyInSavepoint = d.db.transaction((change: SessionChange) => this.#applyOne(change));
  }

  async create(session: NewSession, maxActive: number): Promise<Session | null> {
    const inserted = this.#d
      .sql(
        `INSERT INTO sessions (id, user_id, created_at, idle_expires_at, max_expires_at, last_refresh_at,
           source_address, user_agent, generation, token_issued_at, rotation_window_start)
         SELECT @id, @userId, @now, @idleExpiresAt, @maxExpiresAt, @now, @address, @userAgent, 0, @tokenIssuedAt, @now
          WHERE (SELECT COUNT(*) FROM sessions
                  WHERE user_id = @userId AND ended_at IS NULL AND idle_expires_at > @now AND max_expires_at > @now) < @maxActive`,
      )
      .run({
        id: session.id,
        userId: session.userId,
        now: session.createdAt,
        idleExpiresAt: session.idleExpiresAt,
        maxExpiresAt: session.maxExpiresAt,
        tokenIssuedAt: session.tokenIssuedAt,
        address: session.source.address,
        userAgent: session.source.userAgent,
        maxActive,
      }).changes;
    return inserted === 1 ? newSessionRecord(session) : null;
  }

  async get(id: string): Promise<Session | null> {
    const row = this.#d.sql('SELECT * FROM sessions WHERE id = ?').get(id) as SessionRow | undefined;
    return row ? toSession(row) : null;
  }

  async getContext(id: string): Promise<SessionContext | null> {
    const row = this.#d
      .sql(`SELECT ${sessionContextColumns('settings', '?')} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`)
      .get(REALM_NOT_BEFORE, id) as SessionContextRow | undefined;
    return row ? toSessionContext(row) : null;
  }

  /**
   * Changes wait for the end of the current event-loop turn and then commit together, in one
   * transaction and one fsync (group commit): a response still leaves only once its token is on
   * disk, but a burst of refreshes pays for one disk flush instead of one each. Each change is
   * compare-and-set on the generation it was decided from, so of two changes decided from the same
   * snapshot only the first applies.
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

  /** Resolves once every change already handed to {@link apply} is committed. */
  async flush(): Promise<void> {
    await this.#scheduled;
  }

  #commit(): void {
    const batch = this.#pending;
    this.#pending = [];
    this.#scheduled = null;
    // Each change in a savepoint of its own: one that fails rolls back alone (its update with its
    // audit event) and rejects alone; the others still commit.
    let outcomes: Array<{ applied: boolean } | { error: unknown }>;
    try {
      outcomes = this.#d.write(() =>
        batch.map(({ change }) => {
          try {
            return { applied: this.#applyInSavepoint(change) };
          } catch (error) {
            return { error };
          }
        }),
      );
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, index) => {
      const outcome = outcomes[index];
      if (outcome && 'applied' in outcome) pending.resolve(outcome.applied);
      else pending.reject(outcome?.error);
    });
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
    return this.#d.sql('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(at, reason, id).changes > 0;
  }

  async endAllOfUser(userId: string, reason: SessionEndReason, at: number): Promise<number> {
    return this.#d
      .sql('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL')
      .run(at, reason, userId).changes;
  }
}
