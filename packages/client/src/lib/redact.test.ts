import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redact } from './redact.js';

test('removes known secrets and anything shaped like a JWT, and shortens long text', () => {
  assert.equal(redact('bad password hunter22 for app', ['hunter22']), 'bad password [redacted] for app');
  assert.equal(redact('token eyJhbGciOi.eyJzdWIiOi.c2ln expired', []), 'token [redacted] expired');
  assert.equal(redact('x'.repeat(500), []).length, 201);
  assert.equal(redact('short ab', ['ab', undefined]), 'short ab', 'too short to be a secret worth matching');
});
