/** SQLite schema, one entry per version; applied in order, each in its own transaction. Never edit a published entry. */
export const sqliteMigrations: readonly string[] = [
  `
  CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    not_before    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
  );
  CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    max_expires_at  INTEGER NOT NULL,
    last_refresh_at INTEGER NOT NULL,
    ended_at        INTEGER,
    end_reason      TEXT,
    source_address  TEXT NOT NULL,
    user_agent      TEXT NOT NULL,
    current_hash    TEXT NOT NULL,
    previous_hash   TEXT,
    rotated_at      INTEGER
  );
  CREATE INDEX sessions_user ON sessions(user_id);
  CREATE INDEX sessions_idle_expiry ON sessions(idle_expires_at);
  CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
  CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    alg                TEXT NOT NULL,
    public_jwk         TEXT NOT NULL,
    sealed_private_key TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    retired_at         INTEGER
  );
  CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    type           TEXT NOT NULL,
    user_id        TEXT,
    session_id     TEXT,
    source_address TEXT NOT NULL,
    user_agent     TEXT NOT NULL,
    detail         TEXT NOT NULL
  );
  CREATE INDEX audit_events_at ON audit_events(at);
  CREATE TABLE failure_counters (
    key      TEXT PRIMARY KEY,
    count    INTEGER NOT NULL,
    reset_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // Self-describing refresh tokens: one row per session, no row per token. Tokens of the old
  // format cannot be presented any more, so the sessions they belonged to end here. Counter keys
  // become keyed hashes, so the raw ones kept so far go.
  `
  DROP TABLE refresh_tokens;
  UPDATE sessions SET ended_at = CAST(unixepoch('subsec') * 1000 AS INTEGER), end_reason = 'revoked' WHERE ended_at IS NULL;
  ALTER TABLE sessions DROP COLUMN current_hash;
  ALTER TABLE sessions DROP COLUMN previous_hash;
  ALTER TABLE sessions DROP COLUMN rotated_at;
  ALTER TABLE sessions ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sessions ADD COLUMN token_issued_at INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sessions ADD COLUMN previous_issued_at INTEGER;
  ALTER TABLE sessions ADD COLUMN rotated_by_address TEXT;
  ALTER TABLE sessions ADD COLUMN rotated_by_user_agent TEXT;
  ALTER TABLE sessions ADD COLUMN rotation_window_start INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sessions ADD COLUMN rotations_in_window INTEGER NOT NULL DEFAULT 0;
  DROP INDEX sessions_idle_expiry;
  CREATE INDEX sessions_purge ON sessions(COALESCE(ended_at, MIN(idle_expires_at, max_expires_at)));
  CREATE INDEX audit_events_user ON audit_events(user_id, at);
  DELETE FROM failure_counters;
  ALTER TABLE users ADD COLUMN can_introspect INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX failure_counters_reset ON failure_counters(reset_at);
  `,
  // The web console: its administrators (never client applications) and their sessions, each
  // kept under a hash of its cookie's value.
  `
  CREATE TABLE administrators (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
  );
  CREATE TABLE console_sessions (
    id_hash             TEXT PRIMARY KEY,
    admin_id            TEXT NOT NULL REFERENCES administrators(id) ON DELETE CASCADE,
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX console_sessions_admin ON console_sessions(admin_id);
  `,
  // Client applications an operator requires to use DPoP (RFC 9449) on every grant.
  `
  ALTER TABLE users ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0;
  `,
  // Listing the newest sessions (all, or one client application's) walks an index and stops at
  // its limit, instead of sorting every live session.
  `
  CREATE INDEX sessions_created ON sessions(created_at);
  DROP INDEX sessions_user;
  CREATE INDEX sessions_user ON sessions(user_id, created_at);
  `,
  // A login counts the client application's active sessions only when this upper bound of them
  // reaches its limit (see SessionStore.create), instead of on every login. Sessions not ended are
  // at least as many as the active ones.
  `
  ALTER TABLE users ADD COLUMN live_sessions_bound INTEGER NOT NULL DEFAULT 0;
  UPDATE users SET live_sessions_bound = (SELECT COUNT(*) FROM sessions WHERE sessions.user_id = users.id AND ended_at IS NULL);
  `,
];
