/**
 * From an HTTP `Authorization` header to a verified identity or the RFC 6750 answer: the piece a
 * gateway, a framework adapter or a hand-written server reuses.
 *
 * @module
 */
import { challenge, DEFAULT_REALM, type ChallengeResponse } from './challenge.js';
import { GuardError } from './errors.js';
import { readBearerToken } from './lib/bearer.js';
import { kPeek } from './lib/internal.js';
import type { Identity, Verifier } from './verify.js';

/** The outcome of {@link authenticate}. */
export type Authentication =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly error: GuardError; readonly response: ChallengeResponse };

/** Options of {@link authenticate}. */
export interface AuthenticateOptions {
  /** The `realm` of the challenge. Default `AntPeer`. */
  realm?: string;
}

function failed(error: GuardError, realm: string): Authentication {
  return { ok: false, error, response: challenge(error, realm) };
}

/**
 * Authenticates a request by its `Authorization` header (the raw value, or the array some servers
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
  const token = readBearerToken(authorization);
  if (typeof token !== 'string') return failed(token, realm);
  const cached = verifier[kPeek](token);
  if (cached !== undefined) return { ok: true, identity: cached };
  try {
    return { ok: true, identity: await verifier.verify(token) };
  } catch (error) {
    if (error instanceof GuardError) return failed(error, realm);
    throw error;
  }
}
