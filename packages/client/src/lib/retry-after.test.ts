import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRetryAfter } from './retry-after.js';

test('Retry-After in seconds', () => {
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': '7' }), 0), 7000);
  assert.equal(parseRetryAfter(new Headers(), 0), undefined);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), 0), undefined);
});

test("a Retry-After date is measured against the server's Date, not the local clock", () => {
  const serverNow = Date.UTC(2030, 0, 1, 12, 0, 0);
  const headers = new Headers({
    date: new Date(serverNow).toUTCString(),
    'retry-after': new Date(serverNow + 30_000).toUTCString(),
  });
  const localNow = serverNow - 600_000; // local clock ten minutes behind
  assert.equal(parseRetryAfter(headers, localNow), 30_000);
});
