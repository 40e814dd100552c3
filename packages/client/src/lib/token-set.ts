import { InvalidResponseError } from '../errors.js';
import type { TokenSet } from '../stores/token-store.js';
import { readJwtExpiry } from './jwt-expiry.js';
import type { TokenResponse } from './token-endpoint.js';

/** When to refresh, as shares of the access token's lifetime. */
export interface RefreshTiming {
  /** Refresh once this share of the lifetime has passed… */
  refreshRatio: number;
  /** …minus up to this share, at random, so a fleet does not refresh in step. */
  refreshJitter: number;
  /** A token is not used within this many ms of its expiry (capped at a quarter of its lifetime). */
  expiryMarginMs: number;
}

/**
 * Turns a token answer into the {@link TokenSet} the manager keeps. Times count from when the answer
 * arrived, on the local clock, so local clock skew does not matter; when the access token is a JWT
 * its `exp` is a second opinion, converted to the local clock through the server's `Date` header.
 * A refresh answer without a refresh token keeps the previous one (RFC 6749 §6).
 */
export function toTokenSet(
  response: TokenResponse,
  previous: TokenSet | undefined,
  timing: RefreshTiming,
  random: () => number,
): TokenSet {
  const { receivedAt, serverDate } = response;
  const serverSkewMs = serverDate === undefined ? undefined : serverDate - receivedAt;
  const candidates: number[] = [];
  if (response.expiresIn !== undefined) candidates.push(receivedAt + response.expiresIn * 1000);
  const jwtExpiry = readJwtExpiry(response.accessToken);
  // Without the server's Date we cannot put its clock on ours; then `exp` is only a last resort.
  if (jwtExpiry !== undefined && (serverSkewMs !== undefined || candidates.length === 0)) {
    candidates.push(jwtExpiry * 1000 - (serverSkewMs ?? 0));
  }
  if (candidates.length === 0) {
    throw new InvalidResponseError('The token response has no expires_in', { status: 200 });
  }
  const expiresAt = Math.min(...candidates);
  const lifetime = expiresAt - receivedAt;
  if (lifetime <= 0) {
    throw new InvalidResponseError('The token service gave an access token that has already expired', { status: 200 });
  }
  const share = Math.max(0, timing.refreshRatio - timing.refreshJitter * random());
  const refreshAt = Math.min(receivedAt + lifetime * share, expiresAt - expiryMargin(lifetime, timing));

  const rotated = response.refreshToken !== undefined;
  const refreshToken = response.refreshToken ?? previous?.refreshToken;
  const refreshExpiresAt =
    response.refreshExpiresIn !== undefined
      ? receivedAt + response.refreshExpiresIn * 1000
      : rotated
        ? undefined
        : previous?.refreshExpiresAt;

  const tokenSet: TokenSet = {
    version: 1,
    accessToken: response.accessToken,
    tokenType: response.tokenType,
    obtainedAt: receivedAt,
    expiresAt,
    refreshAt,
  };
  if (refreshToken !== undefined) tokenSet.refreshToken = refreshToken;
  if (refreshExpiresAt !== undefined) tokenSet.refreshExpiresAt = refreshExpiresAt;
  if (response.sessionState !== undefined) tokenSet.sessionState = response.sessionState;
  if (response.scope !== undefined) tokenSet.scope = response.scope;
  if (response.notBeforePolicy !== undefined) tokenSet.notBeforePolicy = response.notBeforePolicy;
  if (serverSkewMs !== undefined) tokenSet.serverSkewMs = serverSkewMs;
  return tokenSet;
}

/** Whether the access token can still be sent: not within the margin before its expiry. */
export function isAccessTokenUsable(tokenSet: TokenSet, now: number, timing: RefreshTiming): boolean {
  return now < tokenSet.expiresAt - expiryMargin(tokenSet.expiresAt - tokenSet.obtainedAt, timing);
}

/** Whether the refresh token is there and has not run out (`refresh_expires_in`). */
export function isRefreshTokenUsable(tokenSet: TokenSet, now: number, timing: RefreshTiming): boolean {
  if (tokenSet.refreshToken === undefined) return false;
  if (tokenSet.refreshExpiresAt === undefined) return true;
  return now < tokenSet.refreshExpiresAt - expiryMargin(tokenSet.refreshExpiresAt - tokenSet.obtainedAt, timing);
}

function expiryMargin(lifetime: number, timing: RefreshTiming): number {
  return Math.min(timing.expiryMarginMs, Math.max(0, lifetime) / 4);
}
