import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidResponseError } from '../errors.js';
import type { TokenResponse } from './token-endpoint.js';
import { isAccessTokenUsable, isRefreshTokenUsable, toTokenSet } from './token-set.js';

const timing = { refreshRatio: 0.8, refreshJitter: 0.1, expiryMarginMs: 10_000 };
const NOW = Date.UTC(2030, 0, 1);

function jwt(claims: object): string {
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none' })}.${encode(claims)}.sig`;
}

function answer(overrides: Partial<TokenResponse> = {}): TokenResponse {
  return {
    accessToken: 'opaque',
    tokenType: 'bearer',
    expiresIn: 900,
    refreshExpiresIn: 1800,
    refreshToken: 'r1',
    sessionState: 's',
    scope: '',
    notBeforePolicy: 0,
    receivedAt: NOW,
    serverDate: undefined,
    ...overrides,
  };
}

test('times count from when the answer arrived', () => {
  const set = toTokenSet(answer(), undefined, timing, () => 0);
  assert.equal(set.expiresAt, NOW + 900_000);
  assert.equal(set.refreshAt, NOW + 720_000);
  assert.equal(set.refreshExpiresAt, NOW + 1_800_000);
  assert.equal(isAccessTokenUsable(set, NOW + 889_000, timing), true);
  assert.equal(isAccessTokenUsable(set, NOW + 890_000, timing), false, 'not within the margin before expiry');
  assert.equal(isRefreshTokenUsable(set, NOW + 1_789_999, timing), true);
  assert.equal(isRefreshTokenUsable(set, NOW + 1_790_000, timing), false);
});

test("a JWT exp is put on the local clock through the server's Date header", () => {
  // The server is 10 minutes ahead and its token expires sooner than expires_in says.
  const skew = 600_000;
  const token = jwt({ exp: (NOW + skew + 300_000) / 1000 });
  const set = toTokenSet(answer({ accessToken: token, serverDate: NOW + skew }), undefined, timing, () => 0);
  assert.equal(set.serverSkewMs, skew);
  assert.equal(set.expiresAt, NOW + 300_000);
});

test('a JWT exp is not trusted over expires_in without a Date header to correct it', () => {
  const token = jwt({ exp: (NOW - 3_600_000) / 1000 }); // a server clock an hour behind
  const set = toTokenSet(answer({ accessToken: token }), undefined, timing, () => 0);
  assert.equal(set.expiresAt, NOW + 900_000);
});

test('a refresh answer without a refresh token keeps the previous one and its expiry', () => {
  const previous = toTokenSet(answer(), undefined, timing, () => 0);
  const next = toTokenSet(answer({ refreshToken: undefined, refreshExpiresIn: undefined, receivedAt: NOW + 1000 }), previous, timing, () => 0);
  assert.equal(next.refreshToken, 'r1');
  assert.equal(next.refreshExpiresAt, previous.refreshExpiresAt);
});

test('an answer without any expiry, or already expired, is refused', () => {
  assert.throws(() => toTokenSet(answer({ expiresIn: undefined }), undefined, timing, () => 0), InvalidResponseError);
  assert.throws(() => toTokenSet(answer({ expiresIn: 0 }), undefined, timing, () => 0), InvalidResponseError);
});

test('a short lifetime still leaves time between the refresh point and expiry', () => {
  const set = toTokenSet(answer({ expiresIn: 8 }), undefined, timing, () => 0);
  assert.ok(set.refreshAt < set.expiresAt - 2_000 + 1);
  assert.equal(isAccessTokenUsable(set, NOW + 5_000, timing), true);
});
