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
 * Turns a token answer into the {@link TokenSet} the manager keeps. Times are on the local clock, so
 * local clock skew does not matter, and the expiry is estimated on the safe side, never later than
 * the server's own clock could put it:
 *
 * - `expires_in` (RFC 6749 §5.1) counts from when the request was sent, since the server started
 *   counting later; and a whole number of seconds loses one, since a server whose `exp` is whole
 *   seconds rounds the lifetime up (a 3 s token issued at 12.9 s expires at 15 s, 2.1 s later).
 * - when the access token is a JWT, its `exp` (RFC 7519 §4.1.4) is a second opinion, put on the
 *   local clock with the largest offset the server's `Date` header allows: the header was written
 *   between sending and receiving and is cut to the second, so the server's clock is at most
 *   `Date + 1 s − sentAt` ahead of ours.
 *
 * A refresh answer without a refresh token keeps the previous one (RFC 6749 §6).
 */
export function toTokenSet(
  response: TokenResponse,
  previous: TokenSet | undefined,
  timing: RefreshTiming,
  random: () => number,
): TokenSet {
  const { sentAt, receivedAt, serverDate } = response;
  const serverSkewMs = serverDate === undefined ? undefined : serverDate - receivedAt;
  const candidates: number[] = [];
  const { expiresIn } = response;
  if (expiresIn !== undefined) candidates.push(sentAt + expiresIn * 1000 - (Number.isInteger(expiresIn) ? 1000 : 0));
  const jwtExpiry = readJwtExpiry(response.accessToken);
  // Without the server's Date we cannot put its clock on ours; then `exp` is only a last resort.
  if (jwtExpiry !== undefined && (serverDate !== undefined || candidates.length === 0)) {
    const largestSkewMs = serverDate === undefined ? 0 : serverDate + 1000 - sentAt;
    candidates.push(jwtExpiry * 1000 - largestSkewMs);
  }
  if (candidates.length === 0) {
    throw new InvalidResponseError('The token response has no expires_in', { status: 200 });
  }
  const expiresAt = Math.floor(Math.min(...candidates));
  const lifetime = expiresAt - receivedAt;
  if (lifetime <= 0) {
    throw new InvalidResponseError('The token service gave an access token that has expired, or may have, by the time it arrived', { status: 200 });
  }
  const share = Math.max(0, timing.refreshRatio - timing.refreshJitter * random());
  const refreshAt = Math.min(receivedAt + lifetime * share, expiresAt - expiryMargin(lifetime, timing));

  const rotated = response.refreshToken !== undefined;
  const refreshToken = response.refreshToken ?? previous?.refreshToken;
  const refreshExpiresAt =
    response.refreshExpiresIn !== undefined
      ? sentAt + response.refreshExpiresIn * 1000
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

/** The margin scales down with short lifetimes (a quarter of them), rounded up to the millisecond. */
function expiryMargin(lifetime: number, timing: RefreshTiming): number {
  return Math.ceil(Math.min(timing.expiryMarginMs, Math.max(0, lifetime) / 4));
}
