/**
 * `@antpeer/server`: the AntPeer token service, for embedding (tests, sandboxes) as well as for
 * the `antpeer-auth` command.
 *
 * @module
 */
export { startServer } from './server.js';
export type { RunningServer, StartOptions } from './server.js';
export { loadConfig, ConfigError } from './config.js';
export type { Config, SigningAlgorithm } from './config.js';
export { ManualClock, systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { OWASP_ARGON2ID } from './credentials/password-hasher.js';
export type { Argon2Parameters } from './credentials/password-hasher.js';
export { addClientApplication, setEnabled, setIntrospection } from './credentials/client-applications.js';
export type { Actor } from './credentials/client-applications.js';
export { pushNotBefore } from './sessions/not-before.js';
export type { AuthService } from './auth-service.js';
export { UsernameTakenError } from './store/port.js';
export type {
  ActiveSessionCount,
  AuditEvent,
  AuditFilter,
  AuditRecord,
  AuditStore,
  Counter,
  CounterStore,
  CounterWrites,
  KeyStore,
  Maintenance,
  NewSession,
  NewUser,
  Session,
  SessionChange,
  SessionContext,
  SessionEndReason,
  SessionPatch,
  SessionStore,
  SettingsStore,
  Source,
  Store,
  StoredKey,
  User,
  UserPatch,
  UserStore,
} from './store/port.js';
