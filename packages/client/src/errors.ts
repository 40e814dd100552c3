/**
 * Every error the client raises on purpose is an {@link AntPeerClientError} with a stable `code`.
 * Caller misuse (a bad option, a relative base URL) throws a plain `TypeError` instead.
 *
 * No error message, property or `cause` built here contains a password or a token: messages are
 * made from the HTTP status and the OAuth `error` / `error_description` only (RFC 6749 §5.2), and
 * the description is scrubbed of every secret the client knows before it is kept.
 *
 * @module
 */

/** The stable codes of {@link AntPeerClientError}; safe to switch on and to put in metrics. */
export type ClientErrorCode =
  | 'ERR_AUTHENTICATION'
  | 'ERR_REFRESH_REJECTED'
  | 'ERR_TOKEN_REQUEST'
  | 'ERR_SERVER'
  | 'ERR_RATE_LIMITED'
  | 'ERR_NETWORK'
  | 'ERR_TIMEOUT'
  | 'ERR_INVALID_RESPONSE'
  | 'ERR_CLOSED'
  | 'ERR_LOCK_TIMEOUT';

/** What an error may carry besides its message. */
export interface ClientErrorDetails {
  /** HTTP status of the answer that caused it, when there was one. */
  status?: number;
  /** OAuth `error` code from the answer (RFC 6749 §5.2), e.g. `invalid_grant`. */
  error?: string;
  /** OAuth `error_description` from the answer, scrubbed of secrets and shortened. */
  errorDescription?: string;
  /** How long the server asked us to wait (`Retry-After`, RFC 9110 §10.2.3), in milliseconds. */
  retryAfterMs?: number;
  /** The underlying error (a network failure, say); never a request or response body. */
  cause?: unknown;
}

/** The base class of every error the client raises on purpose. */
export class AntPeerClientError extends Error {
  /** A stable machine-readable code. */
  readonly code: ClientErrorCode;
  /** Whether the same request may succeed if sent again later (network, timeout, 5xx, 429). */
  readonly retryable: boolean;
  /** @see ClientErrorDetails.status */
  readonly status: number | undefined;
  /** @see ClientErrorDetails.error */
  readonly error: string | undefined;
  /** @see ClientErrorDetails.errorDescription */
  readonly errorDescription: string | undefined;
  /** @see ClientErrorDetails.retryAfterMs */
  readonly retryAfterMs: number | undefined;
  /**
   * While the manager is backing off after this failure, the epoch millisecond (local clock) until
   * which calls fail fast with this same error instead of asking the server again.
   */
  retryAt: number | undefined;

  constructor(code: ClientErrorCode, message: string, retryable: boolean, details: ClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
    this.status = details.status;
    this.error = details.error;
    this.errorDescription = details.errorDescription;
    this.retryAfterMs = details.retryAfterMs;
    this.retryAt = undefined;
  }
}

/**
 * The server refused the username and password (`invalid_grant`, "Invalid user credentials", or an
 * account that is disabled). Not retried; the manager fails fast for a growing back-off period so
 * that a wrong password cannot hammer the server or trip its lockout.
 */
export class AuthenticationError extends AntPeerClientError {
  constructor(message: string, details: ClientErrorDetails = {}) {
    super('ERR_AUTHENTICATION', message, false, details);
  }
}

/**
 * The server refused the refresh token (`invalid_grant`: expired, reused, session ended; RFC 6749
 * §5.2). The manager handles it by logging in again; it reaches callers only through events.
 */
export class RefreshTokenRejectedError extends AntPeerClientError {
  constructor(message: string, details: ClientErrorDetails = {}) {
    super('ERR_REFRESH_REJECTED', message, false, details);
  }
}

/**
 * The token endpoint refused the request for a reason sending it again will not fix
 * (`invalid_request`, `unsupported_grant_type`, 404, a redirect): a configuration problem.
 */
export class TokenRequestError extends AntPeerClientError {
  constructor(message: string, details: ClientErrorDetails = {}) {
    super('ERR_TOKEN_REQUEST', message, false, details);
  }
}

/** The server answered 5xx (or 408). Retried with back-off. */
export class ServerError extends AntPeerClientError {
  constructor(message: string, details: ClientErrorDetails = {}) {
    super('ERR_SERVER', message, true, details);
  }
}

/** The server answered 429 Too Many Requests. Retried no sooner than its `Retry-After`. */
export class RateLimitedError extends AntPeerClientError {
  constructor(message: string, details: ClientErrorDetails = {}) {
    super('ERR_RATE_LIMITED', message, true, details);
  }
}

/** The request never got an answer: connection refused or reset, DNS, TLS. Retried with back-off. */
export class NetworkError extends AntPeerClientError {
  constructor(message: string, details: ClientErrorDetails = {}) {
    super('ERR_NETWORK', message, true, details);
  }
}

/**
 * No answer within the request timeout (retried with back-off), or no token (or logout) within the
 * call's deadline, `deadlineMs`.
 */
export class TimeoutError extends AntPeerClientError {
  constructor(message: string, details: ClientErrorDetails = {}) {
    super('ERR_TIMEOUT', message, true, details);
  }
}

/** A 200 answer that is not a usable token response (not JSON, no `access_token`, …). Retried. */
export class InvalidResponseError extends AntPeerClientError {
  constructor(message: string, details: ClientErrorDetails = {}) {
    super('ERR_INVALID_RESPONSE', message, true, details);
  }
}

/** The manager was closed; pending and later calls fail with this. */
export class ClosedError extends AntPeerClientError {
  constructor(message = 'The token manager is closed') {
    super('ERR_CLOSED', message, false);
  }
}

/** A shared store's lock could not be taken in time (another process holds it and keeps it alive). */
export class LockTimeoutError extends AntPeerClientError {
  constructor(message: string) {
    super('ERR_LOCK_TIMEOUT', message, true);
  }
}
