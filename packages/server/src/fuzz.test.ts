/**
 * A fixed-seed slice of the fuzz suite (`npm run fuzz` runs 100,000 cases from a fresh seed): the
 * same property over every route, on SQLite and on PostgreSQL, plus the regressions the suite
 * found, each named after what broke.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHarness, TOKEN_PATH } from './test/harness.js';
import { SKIP_WITHOUT_DATABASE } from './test/postgres.js';
import { formatReport, runFuzz, type FuzzReport } from './test/fuzz/property.js';
import type { StoreKind } from './test/fuzz/target.js';

const SEED = 20_260_101;
const RUNS = 1000;

/** The slice passes, and its requests reached the success path of every route, not only the refusals. */
async function assertSliceHolds(store: StoreKind): Promise<void> {
  const report: FuzzReport = await runFuzz({ store, seed: SEED, runs: RUNS });
  assert.equal(report.failure, null, formatReport(report));
  assert.equal(report.runs, RUNS);
  const succeeded = (route: string, status: number) => (report.statuses[route]?.[status] ?? 0) > 0;
  for (const [route, status] of [['token', 200], ['logout', 204], ['revoke', 200], ['introspect', 200], ['verify', 200], ['gateway', 200], ['certs', 200], ['metadata', 200], ['health', 200], ['openapi', 200], ['console', 200], ['console', 303]] as const) {
    assert.ok(succeeded(route, status), `no ${route} request answered ${status}:\n${formatReport(report)}`);
  }
  // The console's sign-in and DPoP's acceptances ran too, not only their refusals.
  assert.ok((report.events.console_login_succeeded ?? 0) > 0, `no console sign-in succeeded:\n${formatReport(report)}`);
  for (const route of ['token', 'gateway', 'verify']) {
    assert.ok((report.proofs[route]?.[200] ?? 0) > 0, `no ${route} request with a DPoP proof answered 200:\n${formatReport(report)}`);
  }
  // And DPoP's refusals both ways: a bad proof, and a proof without the nonce the server asks for.
  for (const error of ['invalid_dpop_proof', 'use_dpop_nonce']) {
    assert.ok((report.errors[error] ?? 0) > 0, `no request was refused with ${error}:\n${formatReport(report)}`);
  }
}

describe('fuzzing every route with a fixed seed', () => {
  it(`no request breaks an invariant on SQLite (${RUNS} cases)`, () => assertSliceHolds('sqlite'));
  it(`no request breaks an invariant on PostgreSQL (${RUNS} cases)`, { skip: SKIP_WITHOUT_DATABASE }, () => assertSliceHolds('postgres'));
});

describe('regressions the fuzz suite found', () => {
  it('a refresh token sent as grant_type is not repeated in the unsupported_grant_type answer', async () => {
    const h = await startHarness();
    try {
      const { refresh_token: refreshToken } = await h.login();
      for (const response of [
        await h.token({ grant_type: refreshToken, refresh_token: refreshToken }),
        await h.tokenForm(new URLSearchParams({ grant_type: refreshToken }).toString()),
      ]) {
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' });
        assert.ok(!response.body.includes(refreshToken.slice(27, 43)), 'no part of the token’s MAC comes back');
      }
      // A registered grant type is still named: it says nothing secret and helps the client.
      const known = await h.server.app.inject({ method: 'POST', url: TOKEN_PATH, payload: { grant_type: 'client_credentials' } });
      assert.equal(known.json<{ error_description: string }>().error_description, 'Unsupported grant_type: client_credentials');
    } finally {
      await h.close();
    }
  });
});
