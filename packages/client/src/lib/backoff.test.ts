import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from './backoff.js';

test('back-off doubles per attempt, stays within half and all of the step, and is capped', () => {
  const settings = { baseDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(backoffDelay(settings, 1, () => 0), 50);
  assert.equal(backoffDelay(settings, 1, () => 1), 100);
  assert.equal(backoffDelay(settings, 3, () => 1), 400);
  assert.equal(backoffDelay(settings, 10, () => 1), 1000);
  assert.equal(backoffDelay(settings, 10, () => 0), 500);
});
