/**
 * Every failure the guard reports on purpose is a {@link GuardError} with a stable `code`, the
 * HTTP status it maps to, and the RFC 6750 §3.1 `error` code. Caller misuse (a bad option) throws a
 * plain `TypeError` instead.
 *
 * The `message` and `reason` say what exactly was wrong and belong in logs; the `description` is the
 * only text ever sent to the caller, and it is the same for every reason, so that a response never
 * tells an attacker which check a forged token failed.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 RFC 6750 §3.1}
 * @module
 */

/** The stable codes of {@link GuardError}; safe to switch on and to put in metrics. */
export type GuardErrorCode =
  | 'ERR_GUARD_TOKEN_MISSING'
  | 'ERR_GUARD_INVALID_REQUEST'
  | 'ERR_GUARD_INVALID_TOKEN'
  | 'ERR_GUARD_INVALID_DPOP_PROOF'
  | 'ERR_GUARD_UNAVAILABLE';

/**
 * Why a presented token was refused. For logs and metrics only: the response says `invalid_token`
 * whatever the reason.
 */
export type InvalidTokenReason =
  /** Not a compact JWS, bad base64url or JSON, oversized, or an unsupported `crit` header. */
  | 'malformed'
  /** `alg: none`, or no signature. */
  | 'unsigned'
  /** An algorithm no published key allows (HS256 signed with the public key, say). */
  | 'algorithm'
  /** No published key has this `kid`. */
  | 'key_unknown'
  /** The signature does not verify. */
  | 'signature'
  /** `typ` is not `at+jwt` (RFC 9068 §2.1). */
  | 'type'
  /** `iss` is not the configured issuer. */
  | 'issuer'
  /** `aud` does not name this service. */
  | 'audience'
  /** `exp` has passed, beyond the clock tolerance. */
  | 'expired'
  /** `nbf` or `iat` lies in the future, beyond the clock tolerance. */
  | 'not_yet_valid'
  /** A required claim is missing or has the wrong type (RFC 9068 §2.2). */
  | 'claims'
  /** Issued before the issuer's not-before policy: revoked. */
  | 'revoked'
  /** A DPoP-bound token (`cnf.jkt`) presented as a bearer token (RFC 9449 §7.1). */
  | 'dpop_bound'
  /** A token without `cnf.jkt` presented with the `DPoP` scheme. */
  | 'dpop_unbound';

/** The base class of every error the guard raises on purpose. */
export class GuardError extends Error {
  /** A stable machine-readable code. */
  readonly code: GuardErrorCode;
  /** The HTTP status an answer to this failure carries. */
  readonly status: number;
  /**
   * The RFC 6750 §3.1 error code for the `WWW-Authenticate` challenge and the JSON body, or
   * `undefined` when the request carried no credentials at all (RFC 6750 §3.1: then the challenge
   * carries no error code).
   */
  readonly error:
    | 'invalid_request'
    | 'invalid_token'
    | 'invalid_dpop_proof'
    | 'use_dpop_nonce'
    | 'temporarily_unavailable'
    | undefined;
  /**
   * The authentication scheme of the challenge: `DPoP` when the failure concerns a DPoP-bound token
   * or its proof (RFC 9449 §7.1), `Bearer` otherwise.
   */
  readonly scheme: 'Bearer' | 'DPoP';
  /** The public, deliberately vague `error_description`; the same for every failure of a kind. */
  readonly description: string;

  constructor(
    code: GuardErrorCode,
    status: number,
    error: GuardError['error'],
    description: string,
    message: string,
    options?: { cause?: unknown; scheme?: 'Bearer' | 'DPoP' },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.scheme = options?.scheme ?? 'Bearer';
    this.code = code;
    this.status = status;
    this.error = error;
    this.description = description;
  }
}

/**
 * The request carried no bearer token (no `Authorization` header, or one with another scheme).
 * Answered with 401 and a bare `Bearer realm="…"` challenge.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 RFC 6750 §3.1}
 */
export class TokenMissingError extends GuardError {
  constructor(message = 'no bearer token in the request') {
    super('ERR_GUARD_TOKEN_MISSING', 401, undefined, 'An access token is required', message);
  }
}

/**
 * The `Authorization` header is malformed (`Bearer` without a token, a token outside the b64token
 * syntax, more than one header). Answered with 400 `invalid_request`.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-2.1 RFC 6750 §2.1}
 */
export class InvalidRequestError extends GuardError {
  constructor(message: string) {
    super('ERR_GUARD_INVALID_REQUEST', 400, 'invalid_request', 'The Authorization header is malformed', message);
  }
}

/**
 * A token was presented and refused. Answered with 401 `invalid_token`; {@link reason} is for logs.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 RFC 6750 §3.1}
 */
export class InvalidTokenError extends GuardError {
  /** Which check failed; never sent to the caller. */
  readonly reason: InvalidTokenReason;

  constructor(reason: InvalidTokenReason, message: string = reason, options?: { cause?: unknown; scheme?: 'Bearer' | 'DPoP' }) {
    super('ERR_GUARD_INVALID_TOKEN', 401, 'invalid_token', 'The access token is not valid', message, {
      ...options,
      scheme: options?.scheme ?? (reason === 'dpop_bound' || reason === 'dpop_unbound' ? 'DPoP' : 'Bearer'),
    });
    this.reason = reason;
  }
}

/** Why a DPoP proof was refused; for logs and metrics only (RFC 9449 §4.3). */
export type InvalidDpopProofReason =
  /** No `DPoP` header, more than one, or not a compact JWS with a JSON header and claims. */
  | 'malformed'
  /** `typ` is not `dpop+jwt`. */
  | 'type'
  /** `alg` is not in the allow-list, or `none`, or symmetric. */
  | 'algorithm'
  /** `jwk` missing, private, symmetric, or not a key for `alg`. */
  | 'key'
  /** The signature does not verify with the header's `jwk`. */
  | 'signature'
  /** A required claim (`jti`, `htm`, `htu`, `iat`) is missing or of the wrong type. */
  | 'claims'
  /** `htm` is not the request's method. */
  | 'method'
  /** `htu` is not the request's URI. */
  | 'uri'
  /** `iat` is outside the acceptance window. */
  | 'stale'
  /** `ath` is missing or is not the hash of the presented access token. */
  | 'token_hash'
  /** The proof's key is not the key the token is bound to (`cnf.jkt`). */
  | 'key_mismatch'
  /** This `jti` was already seen within the acceptance window. */
  | 'replay'
  /** A server nonce is required and missing or wrong (answered with `use_dpop_nonce`). */
  | 'nonce';

/**
 * A DPoP proof was refused: answered with 401 `invalid_dpop_proof` (or `use_dpop_nonce` for
 * {@link reason} `nonce`) and a `DPoP` challenge; {@link reason} is for logs.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9449#section-7.1 RFC 9449 §7.1}
 */
export class InvalidDpopProofError extends GuardError {
  /** Which check failed; never sent to the caller. */
  readonly reason: InvalidDpopProofReason;

  constructor(reason: InvalidDpopProofReason, message: string = reason, options?: { cause?: unknown }) {
    super(
      'ERR_GUARD_INVALID_DPOP_PROOF',
      401,
      reason === 'nonce' ? 'use_dpop_nonce' : 'invalid_dpop_proof',
      reason === 'nonce' ? 'Resource server requires nonce in DPoP proof' : 'The DPoP proof is not valid',
      message,
      { ...options, scheme: 'DPoP' },
    );
    this.reason = reason;
  }
}

/**
 * The verifier cannot decide: it has never obtained the issuer's keys or its not-before policy
 * (the issuer is unreachable or answers nonsense). Answered with 503, never with a 401 that would
 * make a client throw away a good token.
 */
export class VerifierUnavailableError extends GuardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      'ERR_GUARD_UNAVAILABLE',
      503,
      'temporarily_unavailable',
      'Access tokens cannot be verified at the moment',
      message,
      options,
    );
  }
}
