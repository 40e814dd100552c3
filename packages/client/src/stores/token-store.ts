/**
 * The storage port of the token manager: where a session's tokens live so that they survive a
 * restart, or are shared by several processes. Implement {@link TokenStore} to keep them elsewhere
 * (Redis, a secrets manager); run the conformance suite in `src/test/store-conformance.ts` against it.
 *
 * @module
 */
import { isDpopKeyRecord, type DpopKeyRecord } from '../lib/dpop.js';

/**
 * A session's tokens as the manager keeps them: camelCase, times as epoch milliseconds on the
 * writer's clock, plain JSON (a store may serialise it as it likes, but must give back an equal
 * object). Holds secrets: a store must keep it from other users (the file store writes mode 0600).
 */
export interface TokenSet {
  /** Format version of this record. */
  version: 1;
  /** The access token to send as `Authorization: Bearer …` (RFC 6750 §2.1), or `DPoP …` when bound. */
  accessToken: string;
  /** The token type from the answer, lower-case: `bearer` (RFC 6749 §7.1), or `dpop` (RFC 9449 §5). */
  tokenType: string;
  /** The thumbprint of the DPoP key the tokens are bound to (RFC 9449 §6.1); absent for bearer tokens. */
  dpopJkt?: string;
  /**
   * The DPoP key itself, when the store must carry it to another process or a restart. Holds a
   * private key: a store keeps it like the refresh token (the file store: mode 0600).
   */
  dpopKey?: DpopKeyRecord;
  /** The refresh token (RFC 6749 §1.5), when the server gave one. */
  refreshToken?: string;
  /** When the answer that carried the access token arrived. */
  obtainedAt: number;
  /** When the access token expires (from `expires_in`, and a JWT `exp` corrected for clock skew). */
  expiresAt: number;
  /** When to refresh ahead of expiry: a share of the lifetime with jitter. */
  refreshAt: number;
  /** When the refresh token expires (from `refresh_expires_in`); absent when unknown. */
  refreshExpiresAt?: number;
  /** The session id (`session_state`). */
  sessionState?: string;
  /** `scope` from the answer. */
  scope?: string;
  /** `not-before-policy` from the answer (epoch seconds). */
  notBeforePolicy?: number;
  /** The server's clock minus ours when the answer arrived (from its `Date` header), in ms. */
  serverSkewMs?: number;
}

/** Releases a lock taken with {@link TokenStore.lock}. */
export type ReleaseLock = () => Promise<void>;

/**
 * Where the manager keeps a {@link TokenSet}, under a key naming the server and username.
 *
 * `get`, `set` and `delete` must be atomic with respect to each other: a `get` never sees half of a
 * `set`. `lock` is optional; a store shared by several processes must provide it, so that only one
 * of them asks the server for a token at a time and the others pick up its result (a rotating
 * refresh token used by two processes at once would otherwise end the session, RFC 9700 §4.14.2).
 */
export interface TokenStore {
  /** The token set under `key`, or undefined. May return anything: the manager validates it. */
  get(key: string): Promise<TokenSet | undefined>;
  /** Replaces the token set under `key`. */
  set(key: string, value: TokenSet): Promise<void>;
  /** Removes the token set under `key`, if any. */
  delete(key: string): Promise<void>;
  /**
   * Takes an exclusive lock on `key`, waiting while another holder has it, and resolves to its
   * release function. Must recover from a holder that died without releasing. Rejects with the
   * signal's reason when `signal` aborts while waiting.
   */
  lock?(key: string, signal?: AbortSignal): Promise<ReleaseLock>;
}

/** Whether `value` is a well-formed {@link TokenSet} (what a store gave back may be corrupt). */
export function isTokenSet(value: unknown): value is TokenSet {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  const optional = (key: string, type: 'string' | 'number'): boolean =>
    v[key] === undefined || (typeof v[key] === type && (type !== 'number' || Number.isFinite(v[key])));
  return (
    v.version === 1 &&
    typeof v.accessToken === 'string' &&
    v.accessToken.length > 0 &&
    typeof v.tokenType === 'string' &&
    typeof v.obtainedAt === 'number' &&
    typeof v.expiresAt === 'number' &&
    typeof v.refreshAt === 'number' &&
    Number.isFinite(v.obtainedAt) &&
    Number.isFinite(v.expiresAt) &&
    Number.isFinite(v.refreshAt) &&
    optional('refreshToken', 'string') &&
    optional('refreshExpiresAt', 'number') &&
    optional('sessionState', 'string') &&
    optional('scope', 'string') &&
    optional('notBeforePolicy', 'number') &&
    optional('serverSkewMs', 'number') &&
    optional('dpopJkt', 'string') &&
    (v.dpopKey === undefined || isDpopKeyRecord(v.dpopKey))
  );
}
