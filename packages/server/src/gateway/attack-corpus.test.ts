/**
 * The gateway attack corpus: every header, path, token and framing trick we know of, sent byte for
 * byte over a real socket to a listening server, each with the exact answer it must get and a
 * check of what reached a recording upstream. New tricks go here, with their expected answer.
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BASE, startHarness, type Harness } from '../test/harness.js';
import { sendRaw, wire, type RawResponse } from '../test/raw-http.js';
import { startRecordingUpstream, type Arrival, type RecordingUpstream } from '../test/recording-upstream.js';

const BODY_LIMIT = 65_536;

let h: Harness;
let upstream: RecordingUpstream;
let port: number;
let token: string;
let subject: string;

before(async () => {
  upstream = await startRecordingUpstream();
  h = await startHarness({ ANTPEER_UPSTREAM: `${upstream.url}/svc`, ANTPEER_GATEWAY_BODY_LIMIT: String(BODY_LIMIT) }, { listen: true });
  port = (h.server.app.server.address() as AddressInfo).port;
  const login = await h.login();
  token = login.access_token;
  subject = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).sub as string;
});

after(async () => {
  await h.close();
  await upstream.close();
});

/** A request line and headers (plus Host and Connection: close) on the wire. */
function get(target: string, lines: string[] = [], method = 'GET'): string {
  return wire(`${method} ${target} HTTP/1.1`, ['Host: 127.0.0.1', 'Connection: close', ...lines]);
}

const bearer = () => `Authorization: Bearer ${token}`;

/** Sends a request and returns the answer with the requests it caused at the upstream. */
async function send(request: string): Promise<{ response: RawResponse; arrivals: Arrival[] }> {
  const before = upstream.arrivals.length;
  const response = await sendRaw(port, request);
  return { response, arrivals: upstream.arrivals.slice(before) };
}

/** The answer is an RFC 6749 §5.2 error object with exactly these members, and echoes no path. */
function assertOAuthError(response: RawResponse, status: number, error: string, mustNotEcho: string[] = []): void {
  assert.equal(response.status, status, response.raw);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description']);
  assert.equal(body.error, error);
  for (const text of mustNotEcho) assert.ok(!response.body.includes(text), `the answer echoes ${text}: ${response.body}`);
}

describe('identity and address headers a client sends never reach the upstream', () => {
  it('X-Auth-* in any case and with underscores for dashes are dropped; the verified identity is passed once', async () => {
    const { response, arrivals } = await send(
      get(`${BASE}/accounts`, [
        bearer(),
        'X_Auth_Username: admin',
        'X-AUTH-SUBJECT: root',
        'x_auth_session: forged',
        'X-Auth_Token-Id: forged',
        'X_AUTH_ROLE: superuser',
        'x-auth-role: superuser',
      ]),
    );
    assert.equal(response.status, 200, response.raw);
    const [seen] = arrivals as [Arrival];
    assert.equal(seen.headers['x-auth-username'], 'merchant-app');
    assert.equal(seen.headers['x-auth-subject'], subject);
    assert.notEqual(seen.headers['x-auth-session'], 'forged');
    assert.notEqual(seen.headers['x-auth-token-id'], 'forged');
    assert.equal(seen.headers['x-auth-role'], undefined);
    assert.deepEqual(seen.rawHeaderNames.filter((name) => name.includes('_')), [], 'no header name with an underscore is forwarded');
    assert.equal(seen.rawHeaderNames.filter((name) => name.toLowerCase() === 'x-auth-username').length, 1);
  });

  it('every header name with an underscore is dropped, whatever it says', async () => {
    const { arrivals } = await send(get(`${BASE}/accounts`, [bearer(), 'X_Forwarded_For: 6.6.6.6', 'Client_IP: 6.6.6.6', 'My_Header: x']));
    const [seen] = arrivals as [Arrival];
    assert.deepEqual(seen.rawHeaderNames.filter((name) => name.includes('_')), []);
  });

  it('a Connection header naming the identity headers cannot strip them', async () => {
    const { response, arrivals } = await send(
      wire(`GET ${BASE}/accounts HTTP/1.1`, ['Host: 127.0.0.1', bearer(), 'Connection: close, X-Auth-Subject, X-Auth-Username, X-Forwarded-For']),
    );
    assert.equal(response.status, 200, response.raw);
    const [seen] = arrivals as [Arrival];
    assert.equal(seen.headers['x-auth-subject'], subject);
    assert.equal(seen.headers['x-auth-username'], 'merchant-app');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  });

  it('X-Forwarded-*, Forwarded and X-Real-IP from an untrusted client are replaced by what the gateway saw', async () => {
    const { arrivals } = await send(
      get(`${BASE}/accounts`, [
        bearer(),
        'X-Forwarded-For: 6.6.6.6',
        'X-Forwarded-Proto: https',
        'X-Forwarded-Host: evil.example',
        'X-Forwarded-Port: 443',
        'Forwarded: for=6.6.6.6;proto=https',
        'X-Real-IP: 6.6.6.6',
        'True-Client-IP: 6.6.6.6',
        'X-Original-URL: /svc/admin',
        'X-Rewrite-URL: /svc/admin',
      ]),
    );
    const [seen] = arrivals as [Arrival];
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], '127.0.0.1');
    for (const name of ['x-forwarded-port', 'forwarded', 'x-real-ip', 'true-client-ip', 'x-original-url', 'x-rewrite-url']) {
      assert.equal(seen.headers[name], undefined, name);
    }
    assert.equal(seen.url, '/svc/accounts');
  });

  it('the caller’s Authorization, cookies and Proxy-Authorization are not forwarded by default', async () => {
    const { arrivals } = await send(get(`${BASE}/accounts`, [bearer(), 'Cookie: session=abc', 'Proxy-Authorization: Basic eDp5']));
    const [seen] = arrivals as [Arrival];
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.headers['proxy-authorization'], undefined);
    assert.equal(seen.headers.host, new URL(upstream.url).host);
  });
});

/** Path tricks: each must be refused with 400 once authenticated, 401 before, and never reach the upstream. */
const PATH_TRICKS: [string, string][] = [
  ['backslash dot segments', `${BASE}/a\\..\\..\\secret`],
  ['encoded slashes', `${BASE}/a/..%2f..%2fsecret`],
  ['upper-case encoded slashes', `${BASE}/a%2F..%2F..%2Fsecret`],
  ['encoded backslashes', `${BASE}/a%5c..%5c..%5csecret`],
  ['plain dot segments', `${BASE}/a/../../secret`],
  ['a single dot segment', `${BASE}/./secret`],
  ['encoded dot segments', `${BASE}/a/%2e%2e/%2E%2E/secret`],
  ['half-encoded dot segments', `${BASE}/a/.%2e/secret`],
  ['dot segments with a path parameter', `${BASE}/a/..;/..;/secret`],
  ['an empty segment (protocol-relative upstream target)', `${BASE}//evil.example/secret`],
  ['an encoded NUL', `${BASE}/secret%00.json`],
  ['a bad percent-encoding', `${BASE}/secret%zz`],
  ['a truncated percent-encoding', `${BASE}/secret%`],
  ['absolute form with dot segments', `http://127.0.0.1${BASE}/a/../../secret`],
];

describe('path tricks never reach the upstream', () => {
  for (const [name, target] of PATH_TRICKS) {
    it(`${name}: 401 without a token, 400 invalid_request with one, nothing forwarded`, async () => {
      const anonymous = await send(get(target));
      assert.equal(anonymous.response.status, 401, anonymous.response.raw);
      assert.equal(anonymous.response.headers['www-authenticate'], 'Bearer realm="127.0.0.1:0"');
      const authenticated = await send(get(target, [bearer()]));
      assertOAuthError(authenticated.response, 400, 'invalid_request', ['secret']);
      assert.deepEqual([...anonymous.arrivals, ...authenticated.arrivals], []);
    });
  }

  it('absolute form for our own base is served as the origin form, under the upstream prefix', async () => {
    const { response, arrivals } = await send(get(`http://127.0.0.1:${port}${BASE}/accounts?x=1`, [bearer()]));
    assert.equal(response.status, 200, response.raw);
    assert.deepEqual(arrivals.map((a) => a.url), ['/svc/accounts?x=1']);
  });

  for (const target of ['http://127.0.0.1/svc/secret', 'http://127.0.0.1/healthz', `ftp://127.0.0.1${BASE}/secret`, '127.0.0.1:443', '*']) {
    it(`a target that is not a path under our base (${target.split('/').slice(0, 3).join('/')}…) is 400 before anything else`, async () => {
      for (const lines of [[], [bearer()]]) {
        const { response, arrivals } = await send(get(target, lines));
        assertOAuthError(response, 400, 'invalid_request', ['secret']);
        assert.deepEqual(arrivals, []);
      }
    });
  }

  it('a query string is passed as sent, and cannot move the path', async () => {
    const { arrivals } = await send(get(`${BASE}/accounts?next=..%2f..%2fadmin&x=\\..`, [bearer()]));
    assert.deepEqual(arrivals.map((a) => a.url), ['/svc/accounts?next=..%2f..%2fadmin&x=\\..']);
  });

  it('a bad percent-encoding outside the base is a 400 in the OAuth shape that does not echo the path', async () => {
    const { response } = await send(get('/secret%zz<xss>'));
    assertOAuthError(response, 400, 'invalid_request', ['secret', 'xss']);
  });

  it('an unknown path outside the base is a 404 in the OAuth shape that does not echo the path', async () => {
    const { response } = await send(get('/secret-admin-panel'));
    assertOAuthError(response, 404, 'not_found', ['secret']);
  });
});

describe('every method is authenticated before anything is said about a path', () => {
  for (const method of ['PROPFIND', 'MKCOL', 'SEARCH', 'PURGE', 'LOCK', 'REPORT', 'TRACE', 'M-SEARCH']) {
    it(`${method} gets 401 without a token and reaches the upstream with one`, async () => {
      const anonymous = await send(get(`${BASE}/files/x`, [], method));
      assert.equal(anonymous.response.status, 401, anonymous.response.raw);
      const authenticated = await send(get(`${BASE}/files/x`, [bearer()], method));
      assert.equal(authenticated.response.status, 200, authenticated.response.raw);
      assert.deepEqual(authenticated.arrivals.map((a) => `${a.method} ${a.url}`), [`${method} /svc/files/x`]);
    });
  }

  it('a method the HTTP parser does not know is refused with 400 in the OAuth shape', async () => {
    const { response, arrivals } = await send(get(`${BASE}/files/x`, [bearer()], 'FOO'));
    assertOAuthError(response, 400, 'invalid_request', ['files']);
    assert.deepEqual(arrivals, []);
  });
});

describe('framing tricks (request smuggling) are refused before the upstream', () => {
  const smuggled = `GET /svc/admin HTTP/1.1\r\nHost: x\r\n\r\n`;
  const cases: [string, string][] = [
    ['Content-Length with Transfer-Encoding', wire(`POST ${BASE}/x HTTP/1.1`, ['Host: a', bearer(), 'Content-Length: 4', 'Transfer-Encoding: chunked'], `0\r\n\r\n${smuggled}`)],
    ['two different Content-Lengths', wire(`POST ${BASE}/x HTTP/1.1`, ['Host: a', bearer(), 'Content-Length: 4', 'Content-Length: 40'], `abcd${smuggled}`)],
    ['two equal Content-Lengths', wire(`POST ${BASE}/x HTTP/1.1`, ['Host: a', bearer(), 'Content-Length: 4', 'Content-Length: 4'], `abcd${smuggled}`)],
    ['Transfer-Encoding other than chunked last', wire(`POST ${BASE}/x HTTP/1.1`, ['Host: a', bearer(), 'Transfer-Encoding: chunked, identity'], `0\r\n\r\n${smuggled}`)],
    ['a space before the colon', wire(`POST ${BASE}/x HTTP/1.1`, ['Host: a', bearer(), 'Transfer-Encoding : chunked', 'Content-Length: 4'], `0\r\n\r\n${smuggled}`)],
    ['an obs-fold continuation line', wire(`POST ${BASE}/x HTTP/1.1`, ['Host: a', bearer(), 'Transfer-Encoding: identity', ' chunked'], `0\r\n\r\n${smuggled}`)],
    ['a bare LF line ending', `POST ${BASE}/x HTTP/1.1\nHost: a\n${bearer()}\nContent-Length: 4\n\nabcd${smuggled}`],
  ];
  for (const [name, request] of cases) {
    it(`${name}: 400 in the OAuth shape, nothing forwarded`, async () => {
      const { response, arrivals } = await send(request);
      assertOAuthError(response, 400, 'invalid_request');
      assert.deepEqual(arrivals, []);
    });
  }

  it('HTTP/1.1 without a Host: 400 in the OAuth shape, nothing forwarded', async () => {
    const { response, arrivals } = await send(wire(`GET ${BASE}/x HTTP/1.1`, [bearer(), 'Connection: close']));
    assertOAuthError(response, 400, 'invalid_request');
    assert.deepEqual(arrivals, []);
  });

  it('two Host headers: 400 in the OAuth shape, nothing forwarded', async () => {
    const { response, arrivals } = await send(wire(`GET ${BASE}/x HTTP/1.1`, ['Host: a', 'Host: b', bearer(), 'Connection: close']));
    assertOAuthError(response, 400, 'invalid_request');
    assert.deepEqual(arrivals, []);
  });

  it('an expectation other than 100-continue: 417 in the OAuth shape, nothing forwarded', async () => {
    const { response, arrivals } = await send(get(`${BASE}/x`, [bearer(), 'Expect: 200-ok']));
    assertOAuthError(response, 417, 'invalid_request');
    assert.deepEqual(arrivals, []);
  });

  it('headers larger than the parser allows: 431 in the OAuth shape, nothing forwarded', async () => {
    const { response, arrivals } = await send(get(`${BASE}/x`, [bearer(), `X-Big: ${'y'.repeat(20_000)}`]));
    assertOAuthError(response, 431, 'invalid_request');
    assert.deepEqual(arrivals, []);
  });

  it('a GET body is forwarded framed by its own length: the upstream sees one request, not two', async () => {
    const { response, arrivals } = await send(wire(`GET ${BASE}/x HTTP/1.1`, ['Host: a', bearer(), `Content-Length: ${smuggled.length}`], smuggled));
    assert.equal(response.status, 200, response.raw);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(upstream.arrivals.slice(-arrivals.length).map((a) => `${a.method} ${a.url}`), ['GET /svc/x']);
  });

  it('an unauthenticated body is discarded, never read as a second request', async () => {
    const inner = get(`${BASE}/x`, [bearer()]);
    const { response, arrivals } = await send(
      wire(`POST ${BASE}/x HTTP/1.1`, ['Host: a', `Content-Length: ${inner.length}`], inner) + get(`${BASE}/y`),
    );
    assert.equal(response.status, 401);
    assert.deepEqual(arrivals, []);
  });

  it('a body over the gateway limit is 413 in the OAuth shape, by its Content-Length, before the upstream', async () => {
    const { response, arrivals } = await send(
      wire(`PUT ${BASE}/upload HTTP/1.1`, ['Host: a', bearer(), 'Connection: close', `Content-Length: ${BODY_LIMIT + 1}`], 'x'.repeat(BODY_LIMIT + 1)),
    );
    assertOAuthError(response, 413, 'invalid_request');
    assert.deepEqual(arrivals, []);
  });

  it('a chunked body that grows over the gateway limit is 413 in the OAuth shape', async () => {
    const chunk = 'x'.repeat(16_384);
    const chunks = Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
    const { response } = await send(
      wire(`PUT ${BASE}/upload HTTP/1.1`, ['Host: a', bearer(), 'Connection: close', 'Transfer-Encoding: chunked'], `${chunks}0\r\n\r\n`),
    );
    assertOAuthError(response, 413, 'invalid_request');
    assert.ok(upstream.arrivals.every((a) => a.body.length <= BODY_LIMIT), 'no upstream received more than the limit');
  });
});

/** Signs a compact JWS by hand, so the header can say anything. */
function jws(header: Record<string, unknown>, payload: string, signer: (input: Buffer) => Buffer): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${payload}`;
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`;
}

describe('token tricks get 401 invalid_token and fetch nothing', () => {
  let attackerServer: Server;
  let attackerUrl: string;
  let fetches = 0;
  const attacker = generateKeyPairSync('ed25519');
  const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: 'EdDSA', use: 'sig' };
  const signAttacker = (input: Buffer) => sign(null, input, attacker.privateKey);
  let payload: string;
  let ourKid: string;
  let ourPublic: KeyObject;
  let signOurs: (input: Buffer) => Buffer;

  before(async () => {
    attackerServer = createServer((_request, response) => {
      fetches += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [attackerJwk] }));
    });
    await new Promise<void>((resolve) => attackerServer.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attackerServer.address() as AddressInfo).port}/jwks.json`;
    payload = token.split('.')[1] as string;
    const signing = h.server.auth.keys.signingKey();
    ourKid = signing.kid;
    signOurs = signing.sign;
    const published = h.server.auth.keys.jwks().keys.find((key) => key.kid === ourKid);
    ourPublic = createPublicKey({ key: published as JsonWebKey, format: 'jwk' });
  });
  after(() => new Promise<void>((resolve) => attackerServer.close(() => resolve())));

  const tricks: [string, () => string][] = [
    ['alg none', () => `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`],
    ['alg None with a signature', () => jws({ alg: 'None', typ: 'at+jwt', kid: ourKid }, payload, () => Buffer.from('x'))],
    ['HS256 with the public key (raw) as the secret', () => jws({ alg: 'HS256', typ: 'at+jwt', kid: ourKid }, payload, (input) => createHmac('sha256', Buffer.from(ourPublic.export({ format: 'jwk' }).x as string, 'base64url')).update(input).digest())],
    ['HS256 with the public key (PEM) as the secret', () => jws({ alg: 'HS256', typ: 'at+jwt', kid: ourKid }, payload, (input) => createHmac('sha256', ourPublic.export({ format: 'pem', type: 'spki' })).update(input).digest())],
    ['kid path traversal', () => jws({ alg: 'EdDSA', typ: 'at+jwt', kid: '../../../../dev/null' }, payload, signAttacker)],
    ['kid SQL injection', () => jws({ alg: 'EdDSA', typ: 'at+jwt', kid: "x' UNION SELECT 'key" }, payload, signAttacker)],
    ['jku to the attacker’s JWKS', () => jws({ alg: 'EdDSA', typ: 'at+jwt', kid: 'attacker', jku: attackerUrl }, payload, signAttacker)],
    ['x5u to the attacker', () => jws({ alg: 'EdDSA', typ: 'at+jwt', kid: 'attacker', x5u: attackerUrl }, payload, signAttacker)],
    ['embedded jwk of the attacker', () => jws({ alg: 'EdDSA', typ: 'at+jwt', jwk: attackerJwk }, payload, signAttacker)],
    ['our kid, signed by the attacker', () => jws({ alg: 'EdDSA', typ: 'at+jwt', kid: ourKid }, payload, signAttacker)],
    ['crit, validly signed by our key', () => jws({ alg: 'EdDSA', typ: 'at+jwt', kid: ourKid, crit: ['exp'] }, payload, (input) => signOurs(input))],
    ['typ JWT instead of at+jwt, validly signed', () => jws({ alg: 'EdDSA', typ: 'JWT', kid: ourKid }, payload, (input) => signOurs(input))],
  ];
  for (const [name, make] of tricks) {
    it(name, async () => {
      const { response, arrivals } = await send(get(`${BASE}/accounts`, [`Authorization: Bearer ${make()}`]));
      assertOAuthError(response, 401, 'invalid_token');
      assert.match(response.headers['www-authenticate'] ?? '', /error="invalid_token"/);
      assert.deepEqual(arrivals, []);
      assert.equal(fetches, 0, 'the gateway fetched a key from where the token pointed');
    });
  }

  it('the same claims validly signed by our key pass (the corpus tests the tricks, not the claims)', async () => {
    const genuine = jws({ alg: 'EdDSA', typ: 'at+jwt', kid: ourKid }, payload, (input) => signOurs(input));
    const { response } = await send(get(`${BASE}/accounts`, [`Authorization: Bearer ${genuine}`]));
    assert.equal(response.status, 200, response.raw);
  });
});
