/**
 * The token service's errors: one class per RFC 6749 §5.2 `error` code, each carrying the HTTP
 * status and the public `error_description`. Internal detail goes in `cause`, which is logged and
 * never sent.
 */
export class OAuthError extends Error {
  constructor(
    /** The RFC 6749 `error` code. */
    readonly error: string,
    readonly status: number,
    /** Safe to send to the caller. */
    readonly description: string,
    options?: { cause?: unknown },
  ) {
    super(description, options);
    this.name = 'OAuthError';
  }
}

/** RFC 6749 §5.2 `invalid_request`: the request is missing or has a malformed parameter. */
export class InvalidRequestError extends OAuthError {
  constructor(description: string, status = 400, options?: { cause?: unknown }) {
    super('invalid_request', status, description, options);
  }
}

/** RFC 6749 §5.2 `invalid_grant`: the credentials or refresh token are not good. */
export class InvalidGrantError extends OAuthError {
  constructor(description: string, status = 400, options?: { cause?: unknown }) {
    super('invalid_grant', status, description, options);
  }
}

/** RFC 6749 §5.2 `unsupported_grant_type`. */
export class UnsupportedGrantTypeError extends OAuthError {
  constructor(description = 'Unsupported grant_type') {
    super('unsupported_grant_type', 400, description);
  }
}

/** RFC 6749 §5.2 `invalid_client`: the caller of introspection did not authenticate. */
export class InvalidClientError extends OAuthError {
  constructor(description = 'Client authentication failed') {
    super('invalid_client', 401, description);
  }
}

/** RFC 6585 §4: too many failed requests from one source; `retryAfter` is in seconds. */
export class TooManyRequestsError extends OAuthError {
  constructor(
    readonly retryAfter: number,
    description = 'Too many failed requests; retry later',
  ) {
    super('too_many_requests', 429, description);
  }
}

/** The store cannot be reached; the request can be retried (503 with Retry-After). */
export class TemporarilyUnavailableError extends OAuthError {
  constructor(options?: { cause?: unknown }) {
    super('temporarily_unavailable', 503, 'The service is temporarily unavailable; retry later', options);
  }
}

/**
 * The right password, but the client application already has as many active sessions as it may
 * (ANTPEER_MAX_SESSIONS_PER_CLIENT): it should reuse a session it has, or log out of one.
 */
export class SessionLimitError extends InvalidGrantError {
  constructor() {
    super('Too many active sessions');
  }
}

/**
 * More password checks arrived than the hashing threads can take (or one waited too long for a
 * thread): refused at once with 503 and `Retry-After` instead of queueing without bound. Nothing
 * was checked, so nothing counts as a failed login.
 */
export class OverloadedError extends OAuthError {
  constructor(readonly retryAfter: number) {
    super('temporarily_unavailable', 503, 'Too many logins in progress; retry later');
  }
}

/**
 * RFC 9449 §5 `invalid_dpop_proof`: the `DPoP` header of a token request is missing where required,
 * malformed, or fails a check of §4.3. Which check failed is in `cause`, for the log only.
 */
export class InvalidDpopProofError extends OAuthError {
  constructor(description = 'Invalid DPoP proof', options?: { cause?: unknown }) {
    super('invalid_dpop_proof', 400, description, options);
  }
}

/**
 * RFC 9449 §8 `use_dpop_nonce`: the proof lacks the server's current nonce; the answer carries it
 * in `DPoP-Nonce` for the client's one retry.
 */
export class UseDpopNonceError extends OAuthError {
  constructor(readonly nonce: string) {
    super('use_dpop_nonce', 400, 'Authorization server requires nonce in DPoP proof');
  }
}

/** The single public message for unknown user, wrong password and locked account alike. */
export const INVALID_CREDENTIALS = 'Invalid user credentials';
