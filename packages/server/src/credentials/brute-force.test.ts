import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT, startHarness } from '../test/harness.js';

const WRONG = { username: CLIENT.username, password: 'wrong password, again' };

describe('brute-force protection per username', () => {
  it('locks an account after the threshold; the right password then answers exactly as a wrong one', async () => {
    const h = await startHarness({ ANTPEER_LOCKOUT_THRESHOLD: '3', ANTPEER_LOCKOUT_WINDOW: '600' });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await h.token(WRONG)).statusCode, 401);
      const locked = await h.token(CLIENT);
      const wrong = await h.token(WRONG);
      assert.equal(locked.statusCode, 401);
      assert.equal(locked.body, wrong.body);
      assert.equal(locked.json<{ error_description: string }>().error_description, 'Invalid user credentials');
      h.clock.advance(600_000);
      assert.equal((await h.token(CLIENT)).statusCode, 200, 'the lock ends with the window');
    } finally {
      await h.close();
    }
  });

  it('locks an unknown username the same way, so a lock says nothing about existence', async () => {
    const h = await startHarness({ ANTPEER_LOCKOUT_THRESHOLD: '2' });
    try {
      const ghost = { username: 'no-such-app', password: 'whatever password' };
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push((await h.token(ghost)).body);
      for (let i = 0; i < 4; i++) answers.push((await h.token(WRONG)).body);
      assert.equal(new Set(answers).size, 1);
    } finally {
      await h.close();
    }
  });

  it('a successful login clears the username’s failures', async () => {
    const h = await startHarness({ ANTPEER_LOCKOUT_THRESHOLD: '3' });
    try {
      await h.token(WRONG);
      await h.token(WRONG);
      assert.equal((await h.token(CLIENT)).statusCode, 200);
      await h.token(WRONG);
      await h.token(WRONG);
      assert.equal((await h.token(CLIENT)).statusCode, 200, 'two new failures do not reach the threshold of three');
    } finally {
      await h.close();
    }
  });
});

describe('brute-force protection per source address', () => {
  it('answers 429 too_many_requests with Retry-After once a source is over its failure rate', async () => {
    const h = await startHarness({ ANTPEER_SOURCE_FAILURE_LIMIT: '5', ANTPEER_SOURCE_WINDOW: '60', ANTPEER_LOCKOUT_THRESHOLD: '1000' });
    try {
      for (let i = 0; i < 3; i++) await h.token({ username: `guess-${i}`, password: 'password guess' });
      for (let i = 0; i < 2; i++) await h.refresh('C'.repeat(43));
      h.clock.advance(20_000);
      const response = await h.token(CLIENT);
      assert.equal(response.statusCode, 429);
      assert.equal(response.headers['retry-after'], '40');
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.equal(response.json<{ error: string }>().error, 'too_many_requests');
      const refresh = await h.refresh('C'.repeat(43));
      assert.equal(refresh.statusCode, 429, 'the refresh grant is limited too');
      h.clock.advance(40_000);
      assert.equal((await h.token(CLIENT)).statusCode, 200, 'the source may try again after the window');
    } finally {
      await h.close();
    }
  });

  it('counts each source separately', async () => {
    const h = await startHarness({ ANTPEER_SOURCE_FAILURE_LIMIT: '2', ANTPEER_LOCKOUT_THRESHOLD: '1000' });
    try {
      await h.token(WRONG);
      await h.token(WRONG);
      assert.equal((await h.token(CLIENT)).statusCode, 429);
      const other = await h.server.app.inject({
        method: 'POST',
        url: '/bankit-api/antPeer/v1/auth/token',
        remoteAddress: '10.9.8.7',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(CLIENT),
      });
      assert.equal(other.statusCode, 200);
    } finally {
      await h.close();
    }
  });
});
