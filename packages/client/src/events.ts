/**
 * What the token manager reports for logging and metrics. No event carries a password or a token.
 *
 * @module
 */
import type { AntPeerClientError } from './errors.js';

/** The token-service operations the manager performs. */
export type TokenOperation = 'login' | 'refresh' | 'logout';

/** Events of a {@link TokenManager}, by name. Subscribe with `manager.on(name, listener)`. */
export interface TokenManagerEvents {
  /** A password grant succeeded (RFC 6749 §4.3). */
  login: TokenObtainedEvent;
  /** A refresh grant succeeded (RFC 6749 §6). */
  refresh: TokenObtainedEvent & {
    /** Whether the answer carried a new refresh token (rotation). */
    rotated: boolean;
  };
  /** A token set written by another process (or manager) sharing the store was picked up. */
  adopt: { expiresInSeconds: number };
  /** A failed attempt is about to be tried again. */
  retry: {
    operation: TokenOperation | 'request';
    /** The attempt that failed, from 1. */
    attempt: number;
    /** How long the manager waits before the next attempt. */
    delayMs: number;
    /** The error code, or `invalid_token` for an application request answered 401. */
    code: string;
    status?: number;
  };
  /**
   * Something failed: a token operation after its retries (`error.retryAt` says until when calls
   * fail fast), a refresh token the server refused (followed by a login), or the store.
   */
  failure: { operation: TokenOperation | 'store'; error: AntPeerClientError | Error };
  /** The session was ended with {@link TokenManager.logout}. */
  logout: Record<string, never>;
  /** Something worth a log line that is not a failure, e.g. a malformed record in the store. */
  warning: { message: string };
}

/** Common fields of `login` and `refresh`. */
export interface TokenObtainedEvent {
  /** From the start of the operation (retries included) to the answer. */
  durationMs: number;
  /** The access token's lifetime as the manager will use it. */
  expiresInSeconds: number;
  /** The server's clock minus ours, from its `Date` header, when known. */
  serverSkewMs?: number;
}

/** A listener for event `K`. Listeners must not throw; what they throw is ignored. */
export type TokenManagerListener<K extends keyof TokenManagerEvents> = (event: TokenManagerEvents[K]) => void;
