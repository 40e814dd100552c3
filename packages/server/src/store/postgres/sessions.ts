import type { ActiveSessionCount, NewSession, Session, SessionChange, SessionContext, SessionEndReason, SessionStore } from '../port.js';
import { REALM_NOT_BEFORE, newSessionRecord, sessionContextColumns, sessionPatchColumns, toSession, toSessionContext, type SessionContextRow, type SessionRow } from '../rows.js';
import { TurnBatcher } from './batch.js';
import type { PostgresDatabase } from './database.js';

/** When a session stopped (or stops) being usable: the expression the `sessions_purge` index holds. */
const USABLE_UNTIL = 'COALESCE(ended_at, LEAST(idle_expires_at, max_expires_at))';

/** The SQL type of every column a session change may write: what a batched change's arrays are cast to. */
const PATCH_COLUMN_TYPES: Readonly<Record<string, string>> = {
  generation: 'bigint',
  token_issued_at: 'bigint',
  previous_issued_at: 'bigint',
  idle_expires_at: 'bigint',
  last_refresh_at: 'bigint',
  ended_at: 'bigint',
  end_reason: 'text',
  rotated_by_address: 'text',
  rotated_by_user_agent: 'text',
  rotation_window_start: 'bigint',
  rotations_in_window: 'integer',
};

/**
 * Sessions on PostgreSQL. A refresh is a read of the session's context and a compare-and-set
 * statement that applies the change (and its audit event) only if the session is still at the
 * generation the change was decided from — exactly once across any number of instances. Both are
 * batched: the reads of one event-loop turn are one statement, and so are its changes (one
 * UPDATE … FROM unnest(…), each row still compare-and-set on its own generation), so under load a
 * refresh costs a fraction of a round trip each.
 */
export class PostgresSessionStore implements SessionStore {
  readonly #contexts: TurnBatcher<string, SessionContext | null>;
  readonly #changes: TurnBatcher<SessionChange, boolean>;

  constructor(private readonly d: PostgresDatabase) {
    this.#contexts = new TurnBatcher((ids) => this.#readContexts(ids));
    this.#changes = new TurnBatcher((changes) => this.#applyBatch(changes));
  }

  async create(session: NewSession, maxActive: number): Promise<Session | null> {
    const s = this.d.s;
    return this.d.transaction(async (client) => {
      // Logins of one user queue here, so two of them cannot both see room for one more session.
      const { rows } = await client.query<{ bound: string }>(`SELECT live_sessions_bound AS bound FROM ${s}.users WHERE id = $1 FOR UPDATE`, [session.userId]);
      let live = Number(rows[0]?.bound ?? 0);
      if (live >= maxActive) {
        // The bound says there may be no room: count the sessions really active, as far as the limit.
        const counted = await client.query<{ live: string }>(
          `SELECT COUNT(*) AS live FROM (SELECT 1 FROM ${s}.sessions
             WHERE user_id = $1 AND ended_at IS NULL AND idle_expires_at > $2 AND max_expires_at > $2 LIMIT $3) active`,
          [session.userId, session.createdAt, maxActive],
        );
        live = Number(counted.rows[0]?.live ?? 0);
        if (live >= maxActive) return null;
      }
      const audit = session.audit;
      await client.query(
        `WITH started AS (
           INSERT INTO ${s}.sessions (id, user_id, created_at, idle_expires_at, max_expires_at, last_refresh_at,
             source_address, user_agent, generation, token_issued_at, rotation_window_start)
           VALUES ($1, $2, $3, $4, $5, $3, $6, $7, 0, $8, $3)),
         recorded AS (
           INSERT INTO ${s}.audit_events (at, type, user_id, session_id, source_address, user_agent, detail)
           SELECT $10, $11, $12, $13, $14, $15, $16 WHERE $11::text IS NOT NULL)
         UPDATE ${s}.users SET live_sessions_bound = $9 WHERE id = $2`,
        [
          session.id,
          session.userId,
          session.createdAt,
          session.idleExpiresAt,
          session.maxExpiresAt,
          session.source.address,
          session.source.userAgent,
          session.tokenIssuedAt,
          live + 1,
          audit?.at ?? null,
          audit?.type ?? null,
          audit?.userId ?? null,
          audit?.sessionId ?? null,
          audit?.sourceAddress ?? null,
          audit?.userAgent ?? null,
          audit?.detail ?? null,
        ],
      );
      return newSessionRecord(session);
    });
  }

  async get(id: string): Promise<Session | null> {
    // An id from a console URL may hold NUL, which TEXT cannot: no session has it.
    if (id.includes('\u0000')) return null;
    const { rows } = await this.d.query<SessionRow>(`SELECT * FROM ${this.d.s}.sessions WHERE id = $1`, [id]);
    return rows[0] ? toSession(rows[0]) : null;
  }

  getContext(id: string): Promise<SessionContext | null> {
    return this.#contexts.call(id);
  }

  async #readContexts(ids: string[]): Promise<Array<SessionContext | null>> {
    const s = this.d.s;
    const { rows } = await this.d.query<SessionContextRow & { id: string }>(
      `SELECT ${sessionContextColumns(`${s}.settings`, '$1')}
         FROM ${s}.sessions s JOIN ${s}.users u ON u.id = s.user_id WHERE s.id = ANY($2::text[])`,
      [REALM_NOT_BEFORE, [...new Set(ids)]],
    );
    const byId = new Map(rows.map((row) => [row.id, toSessionContext(row)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  apply(change: SessionChange): Promise<boolean> {
    // A change with an audit event (a detected reuse: rare) keeps its own statement.
    return change.audit ? this.#applyOne(change) : this.#changes.call(change);
  }

  /**
   * One statement per kind of change (the columns it writes) for the first change of each session;
   * a second change of a session in the same batch runs after it, alone, and so misses its
   * compare-and-set as it would have a moment later.
   */
  async #applyBatch(changes: SessionChange[]): Promise<boolean[]> {
    const applied = new Array<boolean>(changes.length).fill(false);
    const seen = new Set<string>();
    const later: number[] = [];
    const groups = new Map<string, number[]>();
    changes.forEach((change, index) => {
      const columns = sessionPatchColumns(change.patch).map(([column]) => column);
      if (seen.has(change.sessionId) || columns.some((column) => !(column in PATCH_COLUMN_TYPES))) {
        later.push(index);
        return;
      }
      seen.add(change.sessionId);
      const key = columns.join(',');
      groups.set(key, [...(groups.get(key) ?? []), index]);
    });
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        const batch = indexes.map((index) => changes[index] as SessionChange);
        const done = indexes.length === 1 ? [(await this.#applyOne(batch[0] as SessionChange)) ? 0 : -1] : await this.#applyMany(batch);
        for (const position of done) if (position >= 0) applied[indexes[position] as number] = true;
      }),
    );
    for (const index of later) applied[index] = await this.#applyOne(changes[index] as SessionChange);
    return applied;
  }

  /** Changes of distinct sessions that write the same columns, in one statement; answers the positions that applied. */
  async #applyMany(changes: SessionChange[]): Promise<number[]> {
    const columns = sessionPatchColumns((changes[0] as SessionChange).patch).map(([column]) => column);
    const values = changes.map((change) => sessionPatchColumns(change.patch).map(([, value]) => value));
    const arrays: unknown[] = [
      changes.map((_, index) => index),
      changes.map((change) => change.sessionId),
      changes.map((change) => change.expectedGeneration),
      ...columns.map((_, column) => values.map((row) => row[column])),
    ];
    const types = ['integer', 'text', 'bigint', ...columns.map((column) => PATCH_COLUMN_TYPES[column] as string)];
    const { rows } = await this.d.query<{ position: number }>(
      `UPDATE ${this.d.s}.sessions s SET ${columns.map((column) => `${column} = v.${column}`).join(', ')}
         FROM unnest(${types.map((type, i) => `$${i + 1}::${type}[]`).join(', ')}) AS v(position, id, expected, ${columns.join(', ')})
        WHERE s.id = v.id AND s.generation = v.expected AND s.ended_at IS NULL
        RETURNING v.position`,
      arrays,
    );
    return rows.map((row) => row.position);
  }

  async #applyOne(change: SessionChange): Promise<boolean> {
    const s = this.d.s;
    const fields = sessionPatchColumns(change.patch);
    const values: unknown[] = [change.sessionId, change.expectedGeneration, ...fields.map(([, value]) => value)];
    const assignments = fields.map(([column], index) => `${column} = $${index + 3}`).join(', ');
    const update = `UPDATE ${s}.sessions SET ${assignments} WHERE id = $1 AND generation = $2 AND ended_at IS NULL RETURNING id`;
    if (!change.audit) return ((await this.d.query(update, values)).rowCount ?? 0) === 1;
    const audit = change.audit;
    const base = values.length;
    const { rows } = await this.d.query<{ applied: string }>(
      `WITH changed AS (${update}),
            recorded AS (
              INSERT INTO ${s}.audit_events (at, type, user_id, session_id, source_address, user_agent, detail)
              SELECT $${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5}, $${base + 6}, $${base + 7} FROM changed)
       SELECT COUNT(*) AS applied FROM changed`,
      [...values, audit.at, audit.type, audit.userId, audit.sessionId, audit.sourceAddress, audit.userAgent, audit.detail],
    );
    return Number(rows[0]?.applied ?? 0) === 1;
  }

  async listActive(now: number, filter: { userId?: string; limit: number }): Promise<Session[]> {
    if (filter.userId?.includes('\u0000')) return [];
    const { rows } = await this.d.query<SessionRow>(
      `SELECT * FROM ${this.d.s}.sessions
        WHERE ended_at IS NULL AND idle_expires_at > $1 AND max_expires_at > $1
          AND ($2::text IS NULL OR user_id = $2)
        ORDER BY created_at DESC, id COLLATE "C"
        LIMIT $3`,
      [now, filter.userId ?? null, filter.limit],
    );
    return rows.map(toSession);
  }

  async countActive(now: number, bounds: { total: number; sample: number }): Promise<ActiveSessionCount> {
    const s = this.d.s;
    // Both walk the sessions_purge index from its end, and stop at their bound.
    const { rows } = await this.d.query<{ total: string; busiest: string }>(
      `SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM ${s}.sessions WHERE ${USABLE_UNTIL} > $1 LIMIT $2) a) AS total,
              (SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM (
                 SELECT user_id FROM ${s}.sessions WHERE ${USABLE_UNTIL} > $1 ORDER BY ${USABLE_UNTIL} DESC LIMIT $3) b GROUP BY user_id) c) AS busiest`,
      [now, bounds.total, bounds.sample],
    );
    return { total: Number(rows[0]?.total ?? 0), busiestUser: Number(rows[0]?.busiest ?? 0) };
  }

  async end(id: string, reason: SessionEndReason, at: number): Promise<boolean> {
    const result = await this.d.query(
      `UPDATE ${this.d.s}.sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL`,
      [at, reason, id],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async endAllOfUser(userId: string, reason: SessionEndReason, at: number): Promise<number> {
    const result = await this.d.query(
      `UPDATE ${this.d.s}.sessions SET ended_at = $1, end_reason = $2 WHERE user_id = $3 AND ended_at IS NULL`,
      [at, reason, userId],
    );
    return result.rowCount ?? 0;
  }
}
