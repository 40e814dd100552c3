import { AdministratorNameTakenError, type AdminStore, type Administrator, type ConsoleSession, type NewAdministrator } from '../port.js';
import { toAdministrator, toConsoleSession, type AdministratorRow, type ConsoleSessionRow } from '../rows.js';
import type { SqliteDatabase } from './database.js';

/** The console's administrators and their sessions, in the durable connection (a sign-in survives a crash). */
export class SqliteAdminStore implements AdminStore {
  constructor(private readonly d: SqliteDatabase) {}

  async create(admin: NewAdministrator): Promise<Administrator> {
    try {
      this.d
        .sql('INSERT INTO administrators (id, name, password_hash, created_at, updated_at) VALUES (@id, @name, @passwordHash, @createdAt, @createdAt)')
        .run(admin);
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new AdministratorNameTakenError(admin.name);
      throw error;
    }
    return { ...admin, updatedAt: admin.createdAt };
  }

  async findByName(name: string): Promise<Administrator | null> {
    const row = this.d.sql('SELECT * FROM administrators WHERE name = ?').get(name) as AdministratorRow | undefined;
    return row ? toAdministrator(row) : null;
  }

  async list(): Promise<Administrator[]> {
    return (this.d.sql('SELECT * FROM administrators ORDER BY name').all() as AdministratorRow[]).map(toAdministrator);
  }

  async setPasswordHash(id: string, passwordHash: string, at: number): Promise<boolean> {
    return this.d.write(() => {
      const changed = this.d.sql('UPDATE administrators SET password_hash = ?, updated_at = ? WHERE id = ?').run(passwordHash, at, id).changes > 0;
      this.d.sql('DELETE FROM console_sessions WHERE admin_id = ?').run(id);
      return changed;
    });
  }

  async remove(id: string): Promise<boolean> {
    return this.d.sql('DELETE FROM administrators WHERE id = ?').run(id).changes > 0;
  }

  async createSession(session: ConsoleSession): Promise<void> {
    this.d
      .sql(
        `INSERT INTO console_sessions (id_hash, admin_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at)
         VALUES (@idHash, @adminId, @createdAt, @lastSeenAt, @idleExpiresAt, @absoluteExpiresAt)`,
      )
      .run(session);
  }

  async getSession(idHash: string): Promise<{ session: ConsoleSession; admin: Administrator } | null> {
    const row = this.d
      .sql(
        `SELECT s.*, a.name, a.password_hash, a.updated_at, a.created_at AS admin_created_at
           FROM console_sessions s JOIN administrators a ON a.id = s.admin_id WHERE s.id_hash = ?`,
      )
      .get(idHash) as (ConsoleSessionRow & AdministratorRow & { admin_created_at: number }) | undefined;
    if (!row) return null;
    return {
      session: toConsoleSession(row),
      admin: toAdministrator({ ...row, id: row.admin_id, created_at: row.admin_created_at }),
    };
  }

  async touchSession(idHash: string, lastSeenAt: number, idleExpiresAt: number): Promise<boolean> {
    return this.d.sql('UPDATE console_sessions SET last_seen_at = ?, idle_expires_at = ? WHERE id_hash = ?').run(lastSeenAt, idleExpiresAt, idHash).changes > 0;
  }

  async endSession(idHash: string): Promise<boolean> {
    return this.d.sql('DELETE FROM console_sessions WHERE id_hash = ?').run(idHash).changes > 0;
  }

  async purgeSessions(now: number): Promise<number> {
    return this.d.sql('DELETE FROM console_sessions WHERE idle_expires_at <= @now OR absolute_expires_at <= @now').run({ now }).changes;
  }
}
