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
    sentAt: NOW,
    receivedAt: NOW,
    serverDate: undefined,
    ...overrides,
  };
}

test('times count from when the request was sent, and a whole-second expires_in loses a second', () => {
  const set = toTokenSet(answer({ sentAt: NOW - 200 }), undefined, timing, () => 0);
  assert.equal(set.obtainedAt, NOW);
  assert.equal(set.expiresAt, NOW - 200 + 899_000);
  assert.equal(set.refreshExpiresAt, NOW - 200 + 1_800_000);
  const lifetime = set.expiresAt - NOW;
  assert.equal(set.refreshAt, NOW + lifetime * 0.8);
  assert.equal(isAccessTokenUsable(set, set.expiresAt - 10_001, timing), true);
  assert.equal(isAccessTokenUsable(set, set.expiresAt - 10_000, timing), false, 'not within the margin before expiry');
  assert.equal(isRefreshTokenUsable(set, NOW - 200 + 1_789_999, timing), true);
  assert.equal(isRefreshTokenUsable(set, NOW - 200 + 1_790_000, timing), false);
});

test("a JWT exp is put on the local clock through the server's Date header", () => {
  // The server is 10 minutes ahead and its token expires sooner than expires_in says.
  const skew = 600_000;
  const token = jwt({ exp: (NOW + skew + 300_000) / 1000 });
  const set = toTokenSet(answer({ accessToken: token, serverDate: NOW + skew }), undefined, timing, () => 0);
  assert.equal(set.serverSkewMs, skew);
  // The Date header is cut to the second: the server's clock may be up to 1 s further ahead.
  assert.equal(set.expiresAt, NOW + 299_000);
});

test('a JWT exp is not trusted over expires_in without a Date header to correct it', () => {
  const token = jwt({ exp: (NOW - 3_600_000) / 1000 }); // a server clock an hour behind
  const set = toTokenSet(answer({ accessToken: token }), undefined, timing, () => 0);
  assert.equal(set.expiresAt, NOW + 899_000);
});

test('a refresh answer without a refresh token keeps the previous one and its expiry', () => {
  const previous = toTokenSet(answer(), undefined, timing, () => 0);
  const next = toTokenSet(answer({ refreshToken: undefined, refreshExpiresIn: undefined, sentAt: NOW + 1000, receivedAt: NOW + 1000 }), previous, timing, () => 0);
  assert.equal(next.refreshToken, 'r1');
  assert.equal(next.refreshExpiresAt, previous.refreshExpiresAt);
});

test('an answer without any expiry, or already expired, is refused', () => {
  assert.throws(() => toTokenSet(answer({ expiresIn: undefined }), undefined, timing, () => 0), InvalidResponseError);
  assert.throws(() => toTokenSet(answer({ expiresIn: 0 }), undefined, timing, () => 0), InvalidResponseError);
});

test('a short lifetime still leaves time between the refresh point and expiry', () => {
  const set = toTokenSet(answer({ expiresIn: 8 }), undefined, timing, () => 0);
  assert.ok(set.refreshAt <= set.expiresAt - 1_750, 'a quarter of the 7 s counted');
  assert.equal(isAccessTokenUsable(set, NOW + 5_000, timing), true);
});

test('a fractional expires_in is taken as it is: only whole seconds may have been rounded up', () => {
  assert.equal(toTokenSet(answer({ expiresIn: 2.5 }), undefined, timing, () => 0).expiresAt, NOW + 2_500);
});

test('the margin is rounded up to the millisecond', () => {
  const set = toTokenSet(answer({ expiresIn: 3.003 }), undefined, timing, () => 0); // margin 750.75 ms
  assert.equal(isAccessTokenUsable(set, NOW + 3_003 - 752, timing), true);
  assert.equal(isAccessTokenUsable(set, NOW + 3_003 - 751, timing), false);
});
