import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHarness } from '../../test/harness.js';

describe('health routes', () => {
  it('/readyz answers 200 while the store answers, and 503 in the OAuth error shape with Retry-After when it does not', async () => {
    const h = await startHarness();
    try {
      assert.equal((await h.server.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
      // Fault injection: the store stops answering.
      h.server.auth.store.ping = async () => {
        throw new Error('connection refused by 10.0.0.5:5432');
      };
      const response = await h.server.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(response.statusCode, 503);
      assert.equal(response.headers['retry-after'], '5');
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.deepEqual(response.json(), { error: 'temporarily_unavailable', error_description: 'The store cannot be reached' });
    } finally {
      await h.close();
    }
  });
});
