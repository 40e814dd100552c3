/**
 * `@antpeer/guard`: verifies AntPeer access tokens (RFC 9068 JWTs) and makes every route
 * authenticated unless explicitly public.
 *
 * @module
 */
export { createVerifier } from './verify.js';
export type { AccessTokenClaims, DpopOptions, Identity, PresentedRequest, Verifier, VerifierOptions } from './verify.js';
export {
  accessTokenHash,
  calculateJwkThumbprint,
  createDpopReplayCache,
  DEFAULT_DPOP_ALGORITHMS,
  verifyDpopProof,
} from './dpop.js';
export type { DpopProof, DpopProofExpectations, DpopReplayCache } from './dpop.js';
export { createKeySet } from './jwks.js';
export type { JSONWebKeySet, KeySet, KeySetOptions, KeySetSource } from './jwks.js';
export { authenticate, authenticateAtOnce } from './authenticate.js';
export type { Authentication, AuthenticateOptions } from './authenticate.js';
export { challenge } from './challenge.js';
export type { ChallengeResponse } from './challenge.js';
export { antpeerGuard } from './fastify.js';
export type { AuthGuard, GuardedRoute, GuardPluginOptions } from './fastify.js';
export { createNodeGuard } from './node.js';
export type { NodeGuard, NodeGuardOptions } from './node.js';
export { assertAllRoutesProtected } from './testing.js';
export type { AssertAllRoutesProtectedOptions } from './testing.js';
export {
  GuardError,
  InvalidDpopProofError,
  InvalidRequestError,
  InvalidTokenError,
  TokenMissingError,
  VerifierUnavailableError,
} from './errors.js';
export type { GuardErrorCode, InvalidDpopProofReason, InvalidTokenReason } from './errors.js';
