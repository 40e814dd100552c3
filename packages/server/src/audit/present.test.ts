import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAuditTime } from './present.js';

const NOW = Date.UTC(2026, 10, 30, 12);

describe('audit time filters', () => {
  it('read an ISO 8601 time or a duration ago', () => {
    assert.equal(parseAuditTime('2026-11-30T11:00:00Z', NOW), NOW - 3_600_000);
    assert.equal(parseAuditTime('15m', NOW), NOW - 900_000);
    assert.equal(parseAuditTime('7d', NOW), NOW - 7 * 86_400_000);
  });

  it('a duration or date beyond what a date can be is no time, not a number the store cannot compare (it was a 500 on PostgreSQL)', () => {
    for (const value of ['99999999999999999999d', '9'.repeat(400) + 's', '200000000d', '+275760-09-14', 'x', '']) {
      assert.equal(parseAuditTime(value, NOW), null, value.slice(0, 24));
    }
    assert.equal(parseAuditTime('100000000d', NOW), NOW - 8.64e15, 'the furthest date still is one');
  });
});
