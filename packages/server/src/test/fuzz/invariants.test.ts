/**
 * The fuzz property is only as good as its checks: each invariant, shown a request that broke it,
 * reports it (and reports it without the secret), and a request that behaved passes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Arrival } from '../recording-upstream.js';
import { checkInvariants, endpointOf, redact, type Observation } from './invariants.js';
import type { ProofSpec } from './model.js';
import type { ConcreteRequest } from './materialize.js';
import type { Snapshot } from './store-state.js';

const SESSION = '0b7a4c1e-1d8f-4c55-9a5e-3f0e9d6b2a11';
const REFRESH = `C3pMHh2PTFWaXj8OnWsqEQAAAAA${'k'.repeat(20)}Q9xT7_vB-3mZ2yWq0cLr8aH`;
const PASSWORD = 'fuzz: correct horse battery staple';

const quiet: Snapshot = {
  users: 2, enabledUsers: 1, userNotBefore: 0, usersUpdatedAt: 5, sessions: 4, endedSessions: 1,
  generations: 7, idleExpiry: '123', settings: 2, keys: 1, retiredKeys: 0, administrators: 1, consoleSessions: 1, lastAuditId: 10,
};

const request: ConcreteRequest = {
  method: 'POST',
  url: '/bankit-api/antPeer/v1/auth/logout',
  headers: { 'content-type': 'application/json', 'x-auth-username': 'qCanary12345' },
  payload: Buffer.from(JSON.stringify({ refresh_token: REFRESH })),
  remoteAddress: '192.0.2.1',
  secrets: [{ label: 'refresh token #0', value: REFRESH, sessionId: SESSION }],
  canaries: ['qCanary12345'],
  proofs: [],
  consoleAuthorized: false,
  consoleCookies: [],
};

function observe(changes: Partial<Observation> = {}): Observation {
  return {
    request,
    answer: { status: 400, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ error: 'invalid_grant', error_description: 'Session not active' }) },
    before: quiet,
    after: quiet,
    events: [],
    logs: [],
    arrivals: null,
    crashes: [],
    knownSecrets: [PASSWORD],
    basePath: '/bankit-api/antPeer/v1',
    username: 'merchant-app',
    console: null,
    dpopNonce: null,
    ...changes,
  };
}

describe('the fuzz invariants', () => {
  it('pass a refused request that changed nothing and said nothing', () => {
    assert.deepEqual(checkInvariants(observe()), []);
  });

  it('report a 5xx, an error body of another shape, and a crash', () => {
    assert.match(checkInvariants(observe({ answer: { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"server_error","error_description":"x"}' } })).join(), /answered 500/);
    assert.match(checkInvariants(observe({ answer: { status: 404, headers: { 'content-type': 'application/json' }, body: '{"message":"Not Found"}' } })).join(), /not \{"error", "error_description"\}/);
    assert.match(checkInvariants(observe({ crashes: [new TypeError('boom')] })).join(), /crash: TypeError: boom/);
  });

  it('report an answer that repeats the path or a header, or shows the token sent, without printing the token', () => {
    const echo = (description: string) => observe({ answer: { status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'invalid_request', error_description: description }) } });
    assert.match(checkInvariants(echo('bad qCanary12345')).join(), /repeats "qCanary12345"/);
    const findings = checkInvariants(echo(`Unsupported grant_type: ${REFRESH.slice(0, 64)}`)).join('\n');
    assert.match(findings, /contains refresh token #0/);
    assert.ok(!findings.includes(REFRESH.slice(27, 43)), 'the finding does not print the MAC');
  });

  it('report a log line with the password or a token, and an error logged', () => {
    assert.match(checkInvariants(observe({ logs: [JSON.stringify({ level: 30, msg: `login ${PASSWORD}` })] })).join(), /a log line contains/);
    assert.match(checkInvariants(observe({ logs: [JSON.stringify({ level: 30, token: REFRESH })] })).join(), /a log line contains refresh token #0/);
    assert.match(checkInvariants(observe({ logs: [JSON.stringify({ level: 50, msg: 'unexpected error' })] })).join(), /logged an error/);
  });

  it('report a session created, rotated or ended by a refused request', () => {
    const created = observe({ after: { ...quiet, sessions: 5, lastAuditId: 11 }, events: [{ id: 11, type: 'login_succeeded', sessionId: 'x' }] });
    assert.match(checkInvariants(created).join(), /login_succeeded/);
    assert.match(checkInvariants(observe({ after: { ...quiet, generations: 8 } })).join(), /generations moved/);
    assert.match(checkInvariants(observe({ after: { ...quiet, endedSessions: 2 } })).join(), /1 session\(s\) ended, 0 ending/);
  });

  it('accept exactly the change a success describes: a logout ends the session its token names', () => {
    const logout = (sessionId: string) =>
      observe({ answer: { status: 204, headers: {}, body: '' }, after: { ...quiet, endedSessions: 2, lastAuditId: 11 }, events: [{ id: 11, type: 'session_logout', sessionId }] });
    assert.deepEqual(checkInvariants(logout(SESSION)), []);
    assert.match(checkInvariants(logout('another-session')).join(), /did not name/);
  });

  it('accept a detected reuse ending the session of the token presented, and only as that answer', () => {
    const reuse = (description: string) =>
      observe({
        request: { ...request, url: '/bankit-api/antPeer/v1/auth/token' },
        answer: { status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'invalid_grant', error_description: description }) },
        after: { ...quiet, endedSessions: 2, lastAuditId: 11 },
        events: [{ id: 11, type: 'refresh_token_reuse', sessionId: SESSION }],
      });
    assert.deepEqual(checkInvariants(reuse('Refresh token reuse detected')), []);
    assert.match(checkInvariants(reuse('Invalid refresh token')).join(), /reuse was recorded/);
  });

  it('report a refused request that reached the upstream, and a spoofed identity that did', () => {
    const arrival: Arrival = {
      method: 'GET',
      url: '/svc/accounts',
      headers: { 'x-auth-subject': 's', 'x-auth-username': 'merchant-app', 'x-auth-session': SESSION, 'x-auth-token-id': 'qCanary12345' },
      rawHeaderNames: [],
      body: '',
      aborted: false,
    };
    const findings = checkInvariants(observe({ request: { ...request, method: 'GET', url: '/bankit-api/antPeer/v1/accounts' }, arrivals: [arrival] })).join('\n');
    assert.match(findings, /answered 400 reached the upstream/);
    assert.match(findings, /spoofed identity value/);
  });

  it('report a console page without its framing policy, or showing markup a request sent', () => {
    const page = { status: 404, headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "frame-ancestors 'none'", 'x-frame-options': 'DENY' }, body: '<p>&lt;script&gt;</p>' };
    const consoleRequest: ConcreteRequest = { ...request, method: 'GET', url: '/admin/x', payload: undefined, secrets: [], canaries: [] };
    assert.deepEqual(checkInvariants(observe({ request: consoleRequest, answer: page })), []);
    const findings = checkInvariants(observe({ request: consoleRequest, answer: { status: 400, headers: { 'content-type': 'text/html' }, body: '<p><script>alert(1)</script></p>' } }));
    assert.equal(findings.length, 3, findings.join('\n'));
  });

  it('report a console change without the session and CSRF token, and a sign-in that keeps the planted cookie', () => {
    const planted = 'p'.repeat(43);
    const signIn: ConcreteRequest = { ...request, url: '/admin/login', secrets: [], canaries: [], consoleCookies: [planted] };
    const kept = { status: 303, headers: { 'set-cookie': `antpeer_console=${planted}; Path=/admin` }, body: '' };
    assert.match(checkInvariants(observe({ request: signIn, answer: kept })).join(), /kept the console cookie/);
    const changed = { ...quiet, users: 3, consoleSessions: 2 };
    const forged: ConcreteRequest = { ...request, url: '/admin/applications', secrets: [], canaries: [] };
    const answer = { status: 303, headers: {}, body: '' };
    assert.equal(checkInvariants(observe({ request: forged, answer, after: changed })).length, 2);
    assert.deepEqual(checkInvariants(observe({ request: { ...forged, consoleAuthorized: true }, answer, after: changed })), []);
  });

  it('report a bad DPoP proof accepted, and DPoP refusals with other codes than RFC 9449’s', () => {
    const spec: ProofSpec = { key: 'private', typ: 'dpop+jwt', alg: null, htm: 'request', htu: 'request', iatOffset: 0, jti: 'fresh', ath: null, extraJwk: {}, nonce: null, mutation: { op: 'none' } };
    const token: ConcreteRequest = { ...request, url: '/bankit-api/antPeer/v1/auth/token', secrets: [], canaries: [], headers: { dpop: 'x' }, proofs: [{ spec, value: 'x' }] };
    const issued = { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
    assert.match(checkInvariants(observe({ request: token, answer: issued })).join(), /bad DPoP proof was accepted/);
    assert.deepEqual(checkInvariants(observe({ request: { ...token, proofs: [{ spec: { ...spec, key: 'A' }, value: 'x' }] }, answer: issued })), []);
    const as401 = { status: 401, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'invalid_dpop_proof', error_description: 'x' }) };
    assert.match(checkInvariants(observe({ request: token, answer: as401 })).join(), /invalid_dpop_proof answered 401/);
    const resource: ConcreteRequest = { ...request, method: 'GET', url: '/bankit-api/antPeer/v1/x', payload: undefined, secrets: [], canaries: [], headers: { Authorization: 'DPoP abc.def.ghi' } };
    const bearerChallenge = { status: 401, headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' }, body: JSON.stringify({ error: 'invalid_token', error_description: 'x' }) };
    assert.match(checkInvariants(observe({ request: resource, answer: bearerChallenge })).join(), /challenges with "Bearer"/);
  });

  it('report a proof without the current or previous nonce accepted where nonces are asked for, and use_dpop_nonce answers without it', () => {
    const spec: ProofSpec = { key: 'A', typ: 'dpop+jwt', alg: null, htm: 'request', htu: 'request', iatOffset: 0, jti: 'fresh', ath: null, extraJwk: {}, nonce: 'current', mutation: { op: 'none' } };
    const token = (nonce: ProofSpec['nonce']): ConcreteRequest => ({
      ...request,
      url: '/bankit-api/antPeer/v1/auth/token',
      secrets: [],
      canaries: [],
      headers: { dpop: 'x' },
      proofs: [{ spec: { ...spec, nonce }, value: 'x' }],
    });
    const issued = { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
    const asked = { dpopNonce: 'k1.AAAAAAAAAAAAAAAAAAAAAA' };
    for (const nonce of ['current', 'previous'] as const) assert.deepEqual(checkInvariants(observe({ request: token(nonce), answer: issued, ...asked })), []);
    for (const nonce of ['expired', null, { literal: 'k1.AAAAAAAAAAAAAAAAAAAAAB' }] as const) {
      assert.match(checkInvariants(observe({ request: token(nonce), answer: issued, ...asked })).join(), /bad DPoP proof was accepted/, JSON.stringify(nonce));
      assert.deepEqual(checkInvariants(observe({ request: token(nonce), answer: issued })), [], 'no nonce asked for');
    }
    assert.match(checkInvariants(observe({ request: token({ literal: 7 }), answer: issued })).join(), /bad DPoP proof was accepted/, 'a nonce that is not a string');

    const useNonce = (headers: Record<string, string>, status = 400) => ({
      status,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ error: 'use_dpop_nonce', error_description: 'x' }),
    });
    assert.deepEqual(checkInvariants(observe({ request: token(null), answer: useNonce({ 'dpop-nonce': asked.dpopNonce }), ...asked })), []);
    assert.match(checkInvariants(observe({ request: token(null), answer: useNonce({}), ...asked })).join(), /not the current nonce/);
    assert.match(checkInvariants(observe({ request: token(null), answer: useNonce({ 'dpop-nonce': 'k0.AAAAAAAAAAAAAAAAAAAAAA' }), ...asked })).join(), /not the current nonce/);
    assert.match(checkInvariants(observe({ request: token(null), answer: useNonce({ 'dpop-nonce': 'x' }) })).join(), /asks for no nonce/);
    assert.match(checkInvariants(observe({ request: token(null), answer: useNonce({ 'dpop-nonce': asked.dpopNonce }, 401), ...asked })).join(), /use_dpop_nonce answered 401/);
  });

  it('read the endpoint a target names as the router does', () => {
    assert.equal(endpointOf('/bankit-api/antPeer/v1/auth/%74oken'), 'token');
    assert.equal(endpointOf('http://h/bankit-api/antPeer/v1/auth/logout;x'), 'logout');
    assert.equal(endpointOf('/bankit-api/antPeer/v1/auth/revoke#f'), 'revoke');
    assert.equal(endpointOf('/bankit-api/antPeer/v1/auth/tokens'), null);
  });

  it('redact whole tokens, on one line', () => {
    assert.equal(redact(`a\n${REFRESH.slice(0, 60)} b`, [REFRESH]), 'a | [secret] b');
  });
});
