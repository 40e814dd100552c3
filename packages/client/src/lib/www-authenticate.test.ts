import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isInvalidTokenChallenge } from './www-authenticate.js';

test('recognises a Bearer challenge with error="invalid_token" (RFC 6750 §3.1)', () => {
  assert.equal(isInvalidTokenChallenge('Bearer realm="antpeer", error="invalid_token", error_description="expired"'), true);
  assert.equal(isInvalidTokenChallenge('bearer error=invalid_token'), true);
  assert.equal(isInvalidTokenChallenge('Basic realm="x, error=\\"invalid_token\\"", Bearer realm="y", error="invalid_token"'), true);
  assert.equal(isInvalidTokenChallenge('Bearer realm="a,b", error="invalid_token"'), true);
});

test('ignores other errors, other schemes and quoted look-alikes', () => {
  assert.equal(isInvalidTokenChallenge(null), false);
  assert.equal(isInvalidTokenChallenge(''), false);
  assert.equal(isInvalidTokenChallenge('Bearer realm="antpeer"'), false);
  assert.equal(isInvalidTokenChallenge('Bearer error="insufficient_scope"'), false);
  assert.equal(isInvalidTokenChallenge('Basic error="invalid_token"'), false);
  assert.equal(isInvalidTokenChallenge('Bearer realm="error=\\"invalid_token\\""'), false);
  assert.equal(isInvalidTokenChallenge('Bearer error="invalid_token", Basic realm="x"'), true);
  assert.equal(isInvalidTokenChallenge('Basic realm="x", error="invalid_token"'), false);
});
