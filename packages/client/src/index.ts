/**
 * `@antpeer/client`: keeps a valid AntPeer access token. Zero dependencies, no `node:` imports here
 * (the file store is at `@antpeer/client/file-store`), so it runs wherever `fetch` does.
 *
 * @module
 */
export { TokenManager, type WaitOptions } from './token-manager.js';
export type { DpopOptions, TokenManagerOptions } from './options.js';
export { DpopKey, type DpopAlgorithm, type DpopKeyRecord, type ProofClaims } from './lib/dpop.js';
export { systemClock, type Clock } from './clock.js';
export { MemoryTokenStore } from './stores/memory.js';
export { isTokenSet, type ReleaseLock, type TokenSet, type TokenStore } from './stores/token-store.js';
export type { TokenManagerEvents, TokenManagerListener, TokenObtainedEvent, TokenOperation } from './events.js';
export {
  AntPeerClientError,
  AuthenticationError,
  ClosedError,
  InvalidResponseError,
  LockTimeoutError,
  NetworkError,
  RateLimitedError,
  RefreshTokenRejectedError,
  ServerError,
  TimeoutError,
  TokenRequestError,
  type ClientErrorCode,
  type ClientErrorDetails,
} from './errors.js';
