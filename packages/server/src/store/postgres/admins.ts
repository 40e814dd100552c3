import { AdministratorNameTakenError, type AdminStore, type Administrator, type ConsoleSession, type NewAdministrator } from '../port.js';
import { toAdministrator, toConsoleSession, type AdministratorRow, type ConsoleSessionRow } from '../rows.js';
import type { PostgresDatabase } from './database.js';

const UNIQUE_VIOLATION = '23505';

/** The console's administrators and their sessions. */
export class PostgresAdminStore implements AdminStore {
  constructor(private readonly d: PostgresDatabase) {}

  async create(admin: NewAdministrator): Promise<Administrator> {
    try {
      await this.d.query(
        `INSERT INTO ${this.d.s}.administrators (id, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
        [admin.id, admin.name, admin.passwordHash, admin.createdAt],
      );
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code === UNIQUE_VIOLATION && constraint === 'administrators_name_key') throw new AdministratorNameTakenError(admin.name);
      throw error;
    }
    return { ...admin, updatedAt: admin.createdAt };
  }

  async findByName(name: string): Promise<Administrator | null> {
    // Whatever a login form sends; one with NUL cannot be stored in TEXT, so no administrator has it.
    if (name.includes('\u0000')) return null;
    const { rows } = await this.d.query<AdministratorRow>(`SELECT * FROM ${this.d.s}.administrators WHERE name = $1`, [name]);
    return rows[0] ? toAdministrator(rows[0]) : null;
  }

  async list(): Promise<Administrator[]> {
    const { rows } = await this.d.query<AdministratorRow>(`SELECT * FROM ${this.d.s}.administrators ORDER BY name COLLATE "C"`);
    return rows.map(toAdministrator);
  }

  async setPasswordHash(id: string, passwordHash: string, at: number): Promise<boolean> {
    return this.d.transaction(async (client) => {
      const result = await client.query(`UPDATE ${this.d.s}.administrators SET password_hash = $1, updated_at = $2 WHERE id = $3`, [passwordHash, at, id]);
      await client.query(`DELETE FROM ${this.d.s}.console_sessions WHERE admin_id = $1`, [id]);
      return (result.rowCount ?? 0) > 0;
    });
  }

  async remove(id: string): Promise<boolean> {
    const result = await this.d.query(`DELETE FROM ${this.d.s}.administrators WHERE id = $1`, [id]);
    return (result.rowCount ?? 0) > 0;
  }

  async createSession(session: ConsoleSession): Promise<void> {
    await this.d.query(
      `INSERT INTO ${this.d.s}.console_sessions (id_hash, admin_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [session.idHash, session.adminId, session.createdAt, session.lastSeenAt, session.idleExpiresAt, session.absoluteExpiresAt],
    );
  }

  async getSession(idHash: string): Promise<{ session: ConsoleSession; admin: Administrator } | null> {
    if (idHash.includes('\u0000')) return null;
    const { rows } = await this.d.query<ConsoleSessionRow & AdministratorRow & { admin_created_at: string }>(
      `SELECT s.*, a.name, a.password_hash, a.updated_at, a.created_at AS admin_created_at
         FROM ${this.d.s}.console_sessions s JOIN ${this.d.s}.administrators a ON a.id = s.admin_id WHERE s.id_hash = $1`,
      [idHash],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      session: toConsoleSession(row),
      admin: toAdministrator({ ...row, id: row.admin_id, created_at: row.admin_created_at }),
    };
  }

  async touchSession(idHash: string, lastSeenAt: number, idleExpiresAt: number): Promise<boolean> {
    const result = await this.d.query(`UPDATE ${this.d.s}.console_sessions SET last_seen_at = $1, idle_expires_at = $2 WHERE id_hash = $3`, [
      lastSeenAt,
      idleExpiresAt,
      idHash,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async endSession(idHash: string): Promise<boolean> {
    const result = await this.d.query(`DELETE FROM ${this.d.s}.console_sessions WHERE id_hash = $1`, [idHash]);
    return (result.rowCount ?? 0) > 0;
  }

  async purgeSessions(now: number): Promise<number> {
    const result = await this.d.query(`DELETE FROM ${this.d.s}.console_sessions WHERE idle_expires_at <= $1 OR absolute_expires_at <= $1`, [now]);
    return result.rowCount ?? 0;
  }
}
