/**
 * PostgreSQL schema, one entry per version; applied in order by `PostgresStore.migrate()` inside one
 * transaction that holds an advisory lock, with `search_path` set to the store's schema (so the
 * names here are unqualified). Times are BIGINT milliseconds since the epoch, as in the SQLite schema.
 * Never edit a published entry: append a new one.
 */
export const postgresMigrations: readonly string[] = [
  `
  CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    not_before    BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
  );
  CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    max_expires_at  BIGINT NOT NULL,
    last_refresh_at BIGINT NOT NULL,
    ended_at        BIGINT,
    end_reason      TEXT,
    source_address  TEXT NOT NULL,
    user_agent      TEXT NOT NULL,
    current_hash    TEXT NOT NULL,
    previous_hash   TEXT,
    rotated_at      BIGINT
  );
  CREATE INDEX sessions_user ON sessions (user_id);
  -- What purgeExpired scans for: when a session stopped being usable.
  CREATE INDEX sessions_purge ON sessions ((COALESCE(ended_at, LEAST(idle_expires_at, max_expires_at))));
  CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
  CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
  CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    alg                TEXT NOT NULL,
    public_jwk         JSONB NOT NULL,
    sealed_private_key TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    retired_at         BIGINT
  );
  CREATE TABLE audit_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             BIGINT NOT NULL,
    type           TEXT NOT NULL,
    user_id        TEXT,
    session_id     TEXT,
    source_address TEXT NOT NULL,
    user_agent     TEXT NOT NULL,
    detail         TEXT NOT NULL
  );
  CREATE INDEX audit_events_at ON audit_events (at);
  CREATE TABLE failure_counters (
    key      TEXT PRIMARY KEY, -- SHA-256 (hex) of the counter key: see counterKey()
    count    INTEGER NOT NULL,
    reset_at BIGINT NOT NULL
  );
  CREATE INDEX failure_counters_reset ON failure_counters (reset_at);
  `,
  // Self-describing refresh tokens: one row per session, no row per token. Tokens of the old
  // format cannot be presented any more, so the sessions they belonged to end here. Counter keys
  // become keyed hashes computed by the domain, so the ones kept so far go.
  `
  DROP TABLE refresh_tokens;
  UPDATE sessions SET ended_at = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint, end_reason = 'revoked'
   WHERE ended_at IS NULL;
  ALTER TABLE sessions
    DROP COLUMN current_hash,
    DROP COLUMN previous_hash,
    DROP COLUMN rotated_at,
    ADD COLUMN generation BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN token_issued_at BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN previous_issued_at BIGINT,
    ADD COLUMN rotated_by_address TEXT,
    ADD COLUMN rotated_by_user_agent TEXT,
    ADD COLUMN rotation_window_start BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN rotations_in_window INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX audit_events_user ON audit_events (user_id, at);
  DELETE FROM failure_counters;
  ALTER TABLE users ADD COLUMN can_introspect BOOLEAN NOT NULL DEFAULT FALSE;
  `,
  // The web console: its administrators (never client applications) and their sessions, each
  // kept under a hash of its cookie's value.
  `
  CREATE TABLE administrators (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
  );
  CREATE TABLE console_sessions (
    id_hash             TEXT PRIMARY KEY,
    admin_id            TEXT NOT NULL REFERENCES administrators(id) ON DELETE CASCADE,
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL
  );
  CREATE INDEX console_sessions_admin ON console_sessions (admin_id);
  `,
  // Client applications an operator requires to use DPoP (RFC 9449) on every grant.
  `
  ALTER TABLE users ADD COLUMN require_dpop BOOLEAN NOT NULL DEFAULT FALSE;
  `,
  // Listing the newest sessions (all, or one client application's) walks an index and stops at
  // its limit, instead of sorting every live session.
  `
  CREATE INDEX sessions_created ON sessions (created_at);
  DROP INDEX sessions_user;
  CREATE INDEX sessions_user ON sessions (user_id, created_at);
  `,
  // A login counts the client application's active sessions only when this upper bound of them
  // reaches its limit (see SessionStore.create), instead of on every login. Sessions not ended are
  // at least as many as the active ones.
  `
  ALTER TABLE users ADD COLUMN live_sessions_bound BIGINT NOT NULL DEFAULT 0;
  UPDATE users SET live_sessions_bound = (SELECT COUNT(*) FROM sessions WHERE sessions.user_id = users.id AND ended_at IS NULL);
  `,
];
