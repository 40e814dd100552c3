/**
 * From an HTTP `Authorization` header to a verified identity or the RFC 6750 answer: the piece a
 * gateway, a framework adapter or a hand-written server reuses.
 *
 * @module
 */
import { challenge, DEFAULT_REALM, type ChallengeResponse } from './challenge.js';
import { GuardError } from './errors.js';
import { readAccessToken } from './lib/bearer.js';
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
  const presented = readAccessToken(authorization);
  if (presented instanceof GuardError) return failed(presented, realm, verifier);
  if (presented.scheme === 'Bearer') {
    const cached = verifier[kPeek](presented.token);
    if (cached !== undefined && boundKeyOf(cached) === undefined) return { ok: true, identity: cached };
  }
  try {
    return { ok: true, identity: await verifier.verifyPresented(presented.scheme, presented.token, options.request) };
  } catch (error) {
    if (error instanceof GuardError) return failed(error, realm, verifier);
    throw error;
  }
}
