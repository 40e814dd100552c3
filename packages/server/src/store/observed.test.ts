import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../clock.js';
import { loadConfig } from '../config.js';
import { addClientApplication } from '../credentials/client-applications.js';
import { startServer, type RunningServer } from '../server.js';
import { CLIENT, TEST_ACTOR, TEST_ARGON2, TOKEN_PATH } from '../test/harness.js';
import { ACTIVE_SESSIONS_MAX_AGE_MS } from '../http/metrics.js';
import { MetricsProbe } from '../test/metrics.js';
import { openStore } from './open.js';
import type { Store } from './port.js';

const DURATION_COUNT = 'antpeer_store_operation_duration_seconds_count';
const ERRORS = 'antpeer_store_errors_total';

describe('store metrics, through the server', () => {
  let dataDir: string;
  let store: Store;
  let server: RunningServer;
  let probe: MetricsProbe;
  const clock = new ManualClock();
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'antpeer-store-metrics-'));
    const config = loadConfig({ ANTPEER_DATA_DIR: dataDir, PORT: '0' });
    // The store the server wraps, kept here to inject faults under the wrapper.
    store = await openStore(config);
    server = await startServer(config, { clock, store, logger: pino({ level: 'silent' }), argon2: TEST_ARGON2, listen: false });
    await addClientApplication(server.auth, TEST_ACTOR, CLIENT.username, CLIENT.password);
    probe = new MetricsProbe(() => server.metrics.registry.metrics());
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const token = (body: Record<string, string>) =>
    server.app.inject({ method: 'POST', url: TOKEN_PATH, headers: { 'content-type': 'application/json' }, payload: body });
  const login = async () => (await token(CLIENT)).json<{ refresh_token: string }>().refresh_token;
  const refresh = (refreshToken: string) => token({ grant_type: 'refresh_token', refresh_token: refreshToken });

  it('a refresh is timed as exactly one session read and one session apply', async () => {
    const refreshToken = await login();
    await probe.mark();
    assert.equal((await refresh(refreshToken)).statusCode, 200);
    await probe.read();
    assert.equal(probe.change(DURATION_COUNT, { operation: 'sessions.getContext' }), 1);
    assert.equal(probe.change(DURATION_COUNT, { operation: 'sessions.apply' }), 1);
    assert.equal(probe.changeOfAll(ERRORS), 0);
  });

  it('a store that cannot be reached counts an unavailable error (503); a broken one an other error (500)', async () => {
    const refreshToken = await login();
    const original = store.sessions.getContext;
    try {
      await probe.mark();
      store.sessions.getContext = async () => Promise.reject(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }));
      assert.equal((await refresh(refreshToken)).statusCode, 503);
      assert.equal((await refresh(refreshToken)).statusCode, 503);
      store.sessions.getContext = async () => Promise.reject(new Error('disk on fire'));
      assert.equal((await refresh(refreshToken)).statusCode, 500);
      await probe.read();
    } finally {
      store.sessions.getContext = original;
    }
    assert.equal(probe.change(ERRORS, { operation: 'sessions.getContext', kind: 'unavailable' }), 2);
    assert.equal(probe.change(ERRORS, { operation: 'sessions.getContext', kind: 'other' }), 1);
    assert.equal(probe.changeOfAll(ERRORS), 3);
    assert.equal(probe.change(DURATION_COUNT, { operation: 'sessions.getContext' }), 3, 'failed calls are timed too');
    assert.equal(probe.change('antpeer_http_responses_total', { route: '/auth/token', status: '503' }), 2);
    assert.equal(probe.change('antpeer_http_responses_total', { route: '/auth/token', status: '500' }), 1);
    assert.equal((await refresh(refreshToken)).statusCode, 200, 'the session was left as it was');
  });

  it('a scrape while the store cannot count the sessions still answers, with the last count, and counts the failure', async () => {
    await login();
    await probe.read();
    const active = probe.value('antpeer_sessions_active');
    assert.ok(active > 0);
    const original = store.sessions.countActive;
    try {
      await probe.mark();
      store.sessions.countActive = async () => Promise.reject(Object.assign(new Error('connection refused'), { code: 'SQLITE_BUSY' }));
      clock.advance(ACTIVE_SESSIONS_MAX_AGE_MS);
      await probe.read();
      assert.equal(probe.value('antpeer_sessions_active'), active);
      // The count runs while the scrape collects, after the store's counters were written into it:
      // the failure shows in the next scrape, which does not count again for 30 s (a third shows that).
      await probe.read();
      await probe.read();
    } finally {
      store.sessions.countActive = original;
    }
    assert.equal(probe.change(ERRORS, { operation: 'sessions.countActive', kind: 'unavailable' }), 1);
    assert.equal(probe.change('antpeer_store_operation_duration_seconds_count', { operation: 'sessions.countActive' }), 1, 'one try per 30 s');
  });
});
