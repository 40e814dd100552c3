import type { Administrator, AuditRecord, ConsoleSession, Session, SessionContext, SessionEndReason, SessionPatch, SessionUser, Source, StoredKey, User } from './port.js';

/**
 * The rows both SQL adapters read, and their mapping to domain objects. The schemas use the same
 * column names; drivers differ only in how they hand back values (SQLite: 0/1 and numbers;
 * PostgreSQL: booleans, and BIGINT as strings), which `Number` and `Boolean` absorb.
 */
type Int = number | string;

export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  enabled: number | boolean;
  not_before: Int;
  can_introspect: number | boolean;
  require_dpop: number | boolean;
  created_at: Int;
  updated_at: Int;
}

export interface SessionRow {
  id: string;
  user_id: string;
  created_at: Int;
  idle_expires_at: Int;
  max_expires_at: Int;
  last_refresh_at: Int;
  ended_at: Int | null;
  end_reason: string | null;
  source_address: string;
  user_agent: string;
  generation: Int;
  token_issued_at: Int;
  previous_issued_at: Int | null;
  rotated_by_address: string | null;
  rotated_by_user_agent: string | null;
  rotation_window_start: Int;
  rotations_in_window: Int;
}

/** A session joined with its user's columns under the `u_` prefix and the realm policy. */
export type SessionContextRow = SessionRow & {
  u_username: string;
  u_enabled: number | boolean;
  u_not_before: Int;
  u_can_introspect: number | boolean;
  u_require_dpop: number | boolean;
  u_created_at: Int;
  u_updated_at: Int;
  realm_not_before: string | null;
};

/** The select list of a {@link SessionContextRow}: sessions `s`, users `u`, settings looked up by name (first parameter). */
export function sessionContextColumns(settingsTable: string, parameter: string): string {
  return `s.*, u.username AS u_username, u.enabled AS u_enabled,
    u.not_before AS u_not_before, u.can_introspect AS u_can_introspect, u.require_dpop AS u_require_dpop, u.created_at AS u_created_at, u.updated_at AS u_updated_at,
    (SELECT value FROM ${settingsTable} WHERE name = ${parameter}) AS realm_not_before`;
}

export interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: string | Record<string, unknown>;
  sealed_private_key: string;
  created_at: Int;
  retired_at: Int | null;
}

export interface AuditRow {
  id: Int;
  at: Int;
  type: string;
  user_id: string | null;
  session_id: string | null;
  source_address: string;
  user_agent: string;
  detail: string;
}

/** The settings row that holds the realm-wide not-before policy. */
export const REALM_NOT_BEFORE = 'realm_not_before';

/** The settings row name of a sealed secret. */
export function secretName(name: string): string {
  return `secret:${name}`;
}

function nullableNumber(value: Int | null): number | null {
  return value === null ? null : Number(value);
}

export function toUser(row: UserRow): User {
  return { ...toSessionUser(row), passwordHash: row.password_hash };
}

/** A user without its password hash, as session checks get it. */
function toSessionUser(row: Omit<UserRow, 'password_hash'>): SessionUser {
  return {
    id: row.id,
    username: row.username,
    enabled: Boolean(row.enabled),
    notBefore: Number(row.not_before),
    canIntrospect: Boolean(row.can_introspect),
    requireDpop: Boolean(row.require_dpop),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    createdAt: Number(row.created_at),
    idleExpiresAt: Number(row.idle_expires_at),
    maxExpiresAt: Number(row.max_expires_at),
    lastRefreshAt: Number(row.last_refresh_at),
    endedAt: nullableNumber(row.ended_at),
    endReason: row.end_reason as SessionEndReason | null,
    sourceAddress: row.source_address,
    userAgent: row.user_agent,
    generation: Number(row.generation),
    tokenIssuedAt: Number(row.token_issued_at),
    previousIssuedAt: nullableNumber(row.previous_issued_at),
    rotatedBy:
      row.rotated_by_address === null ? null : { address: row.rotated_by_address, userAgent: row.rotated_by_user_agent ?? '' },
    rotationWindowStart: Number(row.rotation_window_start),
    rotationsInWindow: Number(row.rotations_in_window),
  };
}

export function toSessionContext(row: SessionContextRow): SessionContext {
  return {
    session: toSession(row),
    user: toSessionUser({
      id: row.user_id,
      username: row.u_username,
      enabled: row.u_enabled,
      not_before: row.u_not_before,
      can_introspect: row.u_can_introspect,
      require_dpop: row.u_require_dpop,
      created_at: row.u_created_at,
      updated_at: row.u_updated_at,
    }),
    realmNotBefore: Number(row.realm_not_before ?? 0),
  };
}

export function toKey(row: KeyRow): StoredKey {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: typeof row.public_jwk === 'string' ? (JSON.parse(row.public_jwk) as Record<string, unknown>) : row.public_jwk,
    sealedPrivateKey: row.sealed_private_key,
    createdAt: Number(row.created_at),
    retiredAt: nullableNumber(row.retired_at),
  };
}

export function toAuditRecord(row: AuditRow): AuditRecord {
  return {
    id: Number(row.id),
    at: Number(row.at),
    type: row.type,
    userId: row.user_id,
    sessionId: row.session_id,
    sourceAddress: row.source_address,
    userAgent: row.user_agent,
    detail: row.detail,
  };
}

/** The session a {@link NewSession} starts as. */
export function newSessionRecord(session: {
  id: string;
  userId: string;
  createdAt: number;
  idleExpiresAt: number;
  maxExpiresAt: number;
  tokenIssuedAt: number;
  source: { address: string; userAgent: string };
}): Session {
  return {
    id: session.id,
    userId: session.userId,
    createdAt: session.createdAt,
    idleExpiresAt: session.idleExpiresAt,
    maxExpiresAt: session.maxExpiresAt,
    lastRefreshAt: session.createdAt,
    endedAt: null,
    endReason: null,
    sourceAddress: session.source.address,
    userAgent: session.source.userAgent,
    generation: 0,
    tokenIssuedAt: session.tokenIssuedAt,
    previousIssuedAt: null,
    rotatedBy: null,
    rotationWindowStart: session.createdAt,
    rotationsInWindow: 0,
  };
}

const SESSION_PATCH_COLUMNS = {
  generation: 'generation',
  tokenIssuedAt: 'token_issued_at',
  previousIssuedAt: 'previous_issued_at',
  idleExpiresAt: 'idle_expires_at',
  lastRefreshAt: 'last_refresh_at',
  endedAt: 'ended_at',
  endReason: 'end_reason',
  rotationWindowStart: 'rotation_window_start',
  rotationsInWindow: 'rotations_in_window',
} as const;

/** The columns a {@link SessionPatch} writes and their values, in the patch's order. */
export function sessionPatchColumns(patch: SessionPatch): Array<[column: string, value: unknown]> {
  const columns: Array<[string, unknown]> = [];
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (field === 'rotatedBy') {
      const source = value as Source;
      columns.push(['rotated_by_address', source.address], ['rotated_by_user_agent', source.userAgent]);
    } else {
      columns.push([SESSION_PATCH_COLUMNS[field as keyof typeof SESSION_PATCH_COLUMNS], value]);
    }
  }
  if (columns.length === 0) throw new TypeError('a session change must set at least one field');
  return columns;
}

export interface AdministratorRow {
  id: string;
  name: string;
  password_hash: string;
  created_at: Int;
  updated_at: Int;
}

export function toAdministrator(row: AdministratorRow): Administrator {
  return { id: row.id, name: row.name, passwordHash: row.password_hash, createdAt: Number(row.created_at), updatedAt: Number(row.updated_at) };
}

export interface ConsoleSessionRow {
  id_hash: string;
  admin_id: string;
  created_at: Int;
  last_seen_at: Int;
  idle_expires_at: Int;
  absolute_expires_at: Int;
}

export function toConsoleSession(row: ConsoleSessionRow): ConsoleSession {
  return {
    idHash: row.id_hash,
    adminId: row.admin_id,
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    idleExpiresAt: Number(row.idle_expires_at),
    absoluteExpiresAt: Number(row.absolute_expires_at),
  };
}
