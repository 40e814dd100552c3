/**
 * From an HTTP `Authorization` header to a verified identity or the RFC 6750 answer: the piece a
 * gateway, a framework adapter or a hand-written server reuses.
 *
 * @module
 */
import { challenge, DEFAULT_REALM, type ChallengeResponse } from './challenge.js';
import { GuardError } from './errors.js';
import { readAccessToken, type PresentedToken } from './lib/bearer.js';
import { kPeek } from './lib/internal.js';
import { boundKeyOf, type Identity, type PresentedRequest, type Verifier } from './verify.js';

/** The outcome of {@link authenticate}. */
export type Authentication =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly error: GuardError; readonly response: ChallengeResponse };

/** Options of {@link authenticate}. */
export interface AuthenticateOptions {
  /** The `realm` of the challenge. Default `AntPeer`. */
  realm?: string;
  /**
   * The request, needed to check the DPoP proof of a sender-constrained token (RFC 9449 §7): its
   * `DPoP` header, method and absolute URI. Without it a DPoP-bound token is refused.
   */
  request?: PresentedRequest;
}

function failed(error: GuardError, realm: string, verifier: Verifier): Authentication {
  return { ok: false, error, response: challenge(error, realm, verifier.dpopAlgorithms) };
}

/**
 * The identity of a token that needs no verification now: presented as `Bearer`, verified before,
 * still cached, and not bound to a DPoP key (which must come with a proof under `DPoP`).
 * @internal for the framework hooks, which answer such a request without a promise.
 */
export function cachedBearerIdentity(verifier: Verifier, presented: PresentedToken): Identity | undefined {
  if (presented.scheme !== 'Bearer') return undefined;
  const cached = verifier[kPeek](presented.token);
  return cached !== undefined && boundKeyOf(cached) === undefined ? cached : undefined;
}

/**
 * The header read once: the answer when it needs no verification (a missing or malformed header, a
 * cached `Bearer` token not bound to a DPoP key), else the token to verify.
 */
function readOrAnswer(verifier: Verifier, authorization: string | readonly string[] | undefined, realm: string): Authentication | PresentedToken {
  const presented = readAccessToken(authorization);
  if (presented instanceof GuardError) return failed(presented, realm, verifier);
  const cached = cachedBearerIdentity(verifier, presented);
  return cached !== undefined ? { ok: true, identity: cached } : presented;
}

/**
 * What {@link authenticate} would answer, when it can be had without waiting: the answer to a
 * missing or malformed `Authorization` header, or the identity of a `Bearer` token verified before
 * and still cached (and not bound to a DPoP key). Undefined when the token must be verified: then
 * call {@link authenticate}. For a hot path that would rather not wait on a promise for what is in
 * memory, as the guard's own hooks do.
 */
export function authenticateAtOnce(
  verifier: Verifier,
  authorization: string | readonly string[] | undefined,
  options: Pick<AuthenticateOptions, 'realm'> = {},
): Authentication | undefined {
  const read = readOrAnswer(verifier, authorization, options.realm ?? DEFAULT_REALM);
  return 'ok' in read ? read : undefined;
}

/**
 * Authenticates a request by its `Authorization` header (`Bearer`, or `DPoP` with the request's proof) (the raw value, or the array some servers
 * give for repeated headers): a verified identity, or the error with the answer to send (status,
 * headers including `WWW-Authenticate`, JSON body). Never rejects for a bad request or token; it
 * rejects only on a bug.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-2.1 RFC 6750 §2.1}
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 RFC 6750 §3}
 */
export async function authenticate(
  verifier: Verifier,
  authorization: string | readonly string[] | undefined,
  options: AuthenticateOptions = {},
): Promise<Authentication> {
  const realm = options.realm ?? DEFAULT_REALM;
  const presented = readOrAnswer(verifier, authorization, realm);
  if ('ok' in presented) return presented;
  try {
    return { ok: true, identity: await verifier.verifyPresented(presented.scheme, presented.token, options.request) };
  } catch (error) {
    if (error instanceof GuardError) return failed(error, realm, verifier);
    throw error;
  }
}
