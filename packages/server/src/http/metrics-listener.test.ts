import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { call, login } from '../test/http.js';
import { parseExposition, sampleValue } from '../test/metrics.js';
import { ISSUER } from '../test/postgres.js';
import { freePort, makeDataDir, startServe, waitFor } from '../test/process.js';
import { CLIENT, startHarness } from '../test/harness.js';

describe('metrics on a listener of their own', () => {
  it('are not on the API port: /metrics there is a 404 in the OAuth shape', async () => {
    const h = await startHarness();
    try {
      const response = await h.server.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.statusCode, 404);
      assert.deepEqual(response.json(), { error: 'not_found', error_description: 'No such endpoint' });
    } finally {
      await h.close();
    }
  });

  it('are served on ANTPEER_METRICS_HOST:ANTPEER_METRICS_PORT (here an ephemeral loopback port), and nothing else is', async () => {
    const h = await startHarness({ ANTPEER_METRICS_PORT: '0' }, { listen: true });
    try {
      await h.login();
      const listener = h.server.metricsListener;
      assert.ok(listener !== null && listener.port > 0);
      const origin = `http://127.0.0.1:${listener.port}`;
      const metrics = await fetch(`${origin}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(await metrics.text(), /antpeer_token_grants_total\{grant="password",outcome="ok"\} 1/);
      const other = await fetch(`${origin}/bankit-api/antPeer/v1/auth/token`);
      assert.equal(other.status, 404);
      assert.deepEqual(await other.json(), { error: 'not_found', error_description: 'Only /metrics is served here' });
      const post = await fetch(`${origin}/metrics`, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
    } finally {
      await h.close();
    }
  });

  it('are not served at all with ANTPEER_METRICS_PORT=off, nor by a server that does not listen', async () => {
    for (const [env, listen] of [[{ ANTPEER_METRICS_PORT: 'off' }, true], [{}, false]] as const) {
      const h = await startHarness(env, { listen });
      try {
        assert.equal(h.server.metricsListener, null);
      } finally {
        await h.close();
      }
    }
  });

  it('of several workers are served together by the primary: a scrape adds up every worker’s counters, and takes the largest count of the shared store', async () => {
    const data = makeDataDir();
    const metricsPort = await freePort();
    const primary = await startServe({
      dataDir: data.dir,
      env: {
        ANTPEER_ISSUER: ISSUER,
        ANTPEER_METRICS_PORT: String(metricsPort),
        ANTPEER_BOOTSTRAP_USERNAME: CLIENT.username,
        ANTPEER_BOOTSTRAP_PASSWORD: CLIENT.password,
      },
      args: ['--workers', '2'],
    });
    try {
      // Each login on a fresh connection: the workers share them out.
      for (let i = 0; i < 6; i += 1) await login(primary.tokenUrl, CLIENT.username, CLIENT.password);
      const scraped = await waitFor('the aggregated metrics', async () => {
        const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
        return response.status === 200 ? response.text() : undefined;
      });
      assert.match(scraped, /antpeer_token_grants_total\{grant="password",outcome="ok"\} 6/);
      const samples = parseExposition(scraped);
      assert.equal(sampleValue(samples, 'antpeer_audit_events_total', { kind: 'login_succeeded' }), 6, 'counters are added up');
      // Each worker counts the same store: the largest of their counts, not their sum (12).
      assert.equal(sampleValue(samples, 'antpeer_sessions_active'), 6);
      assert.equal((await call('GET', `${primary.origin}/metrics`)).status, 404);
    } finally {
      await primary.stop();
      data.cleanup();
    }
  });
});
