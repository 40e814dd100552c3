import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authenticate, authenticateAtOnce } from './authenticate.js';
import { challenge } from './challenge.js';
import { InvalidTokenError } from './errors.js';
import { AUDIENCE, FakeIssuer, manualClock } from './test/fake-issuer.js';
import { createVerifier, type Verifier } from './verify.js';

const clock = manualClock();
let issuer: FakeIssuer;
let verifier: Verifier;

before(async () => {
  issuer = await FakeIssuer.start(clock.now);
  verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, clock: clock.now });
});
after(() => issuer.close());

describe('authenticate', () => {
  test('a valid bearer token yields the identity; the scheme is case-insensitive', async () => {
    const token = await issuer.mint();
    for (const header of [`Bearer ${token}`, `bearer ${token}`, `BEARER  ${token}`, [`Bearer ${token}`]]) {
      const result = await authenticate(verifier, header);
      assert.ok(result.ok);
      assert.equal(result.identity.subject, 'user-42');
    }
  });

  const failures: { name: string; header: string | string[] | undefined; status: number; challenge: string }[] = [
    { name: 'no Authorization header', header: undefined, status: 401, challenge: 'Bearer realm="AntPeer"' },
    { name: 'an empty header', header: '', status: 401, challenge: 'Bearer realm="AntPeer"' },
    { name: 'another scheme', header: 'Basic dXNlcjpwYXNz', status: 401, challenge: 'Bearer realm="AntPeer"' },
    { name: 'Bearer without a token', header: 'Bearer', status: 400, challenge: 'error="invalid_request"' },
    { name: 'Bearer with a blank token', header: 'Bearer    ', status: 400, challenge: 'error="invalid_request"' },
    { name: 'two tokens', header: 'Bearer a.b.c d.e.f', status: 400, challenge: 'error="invalid_request"' },
    { name: 'a token outside b64token', header: 'Bearer a"b', status: 400, challenge: 'error="invalid_request"' },
    { name: 'a scheme glued to the token', header: 'Bearerabc.def.ghi', status: 400, challenge: 'error="invalid_request"' },
    { name: 'two Authorization headers', header: ['Bearer a.b.c', 'Bearer d.e.f'], status: 400, challenge: 'error="invalid_request"' },
    { name: 'garbage', header: '"quoted"', status: 400, challenge: 'error="invalid_request"' },
    { name: 'a bad token', header: 'Bearer not.a.jwt', status: 401, challenge: 'error="invalid_token"' },
  ];
  for (const failure of failures) {
    test(`${failure.name} answers ${failure.status} per RFC 6750`, async () => {
      const result = await authenticate(verifier, failure.header);
      assert.ok(!result.ok);
      assert.equal(result.response.status, failure.status);
      assert.equal(result.response.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(result.response.headers['cache-control'], 'no-store');
      const header = result.response.headers['www-authenticate'] ?? '';
      assert.ok(header.startsWith('Bearer realm="AntPeer"'), header);
      assert.ok(header.includes(failure.challenge), header);
      if (failure.status === 401 && !failure.challenge.includes('error=')) assert.ok(!header.includes('error='), header);
      const body = JSON.parse(result.response.body);
      assert.deepEqual(Object.keys(body), ['error', 'error_description']);
    });
  }

  test('every refused token gets the same answer, whatever check failed', async () => {
    const expired = await issuer.mint({ claims: { exp: issuer.nowSeconds() - 60 } });
    const wrongAudience = await issuer.mint({ claims: { aud: 'other' } });
    const answers = await Promise.all([expired, wrongAudience, 'a.b.c'].map((token) => authenticate(verifier, `Bearer ${token}`)));
    const responses = answers.map((answer) => (answer.ok ? assert.fail('accepted') : answer.response));
    assert.deepEqual(responses[0], responses[1]);
    assert.deepEqual(responses[1], responses[2]);
    assert.deepEqual(JSON.parse(responses[0]!.body), { error: 'invalid_token', error_description: 'The access token is not valid' });
  });

  test('the realm is configurable and must be quotable', () => {
    const error = new InvalidTokenError('expired');
    assert.equal(
      challenge(error, 'accounts').headers['www-authenticate'],
      'Bearer realm="accounts", error="invalid_token", error_description="The access token is not valid"',
    );
    assert.throws(() => challenge(error, 'a"b'), TypeError);
    assert.throws(() => challenge(error, 'a\\b'), TypeError);
    assert.throws(() => challenge(error, 'a\r\nSet-Cookie: x'), TypeError);
  });
});

describe('authenticateAtOnce', () => {
  test('a header that is missing or malformed is answered at once, as authenticate answers it', async () => {
    for (const header of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a"b', ['Bearer a.b.c', 'Bearer d.e.f'], 'DPoP a"b']) {
      const atOnce = authenticateAtOnce(verifier, header, { realm: 'api' });
      assert.ok(atOnce && !atOnce.ok, JSON.stringify(header));
      assert.deepEqual(atOnce, await authenticate(verifier, header, { realm: 'api' }));
    }
  });

  test('a bearer token is answered at once only once verified, and only while it is still valid', async () => {
    const token = await issuer.mint({ claims: { exp: issuer.nowSeconds() + 120 } });
    assert.equal(authenticateAtOnce(verifier, `Bearer ${token}`), undefined, 'never verified: it must be');
    const verified = await authenticate(verifier, `Bearer ${token}`);
    assert.ok(verified.ok);

    const atOnce = authenticateAtOnce(verifier, `Bearer ${token}`);
    assert.ok(atOnce?.ok);
    assert.equal(atOnce.identity, verified.identity);

    clock.advance(3600);
    assert.equal(authenticateAtOnce(verifier, `Bearer ${token}`), undefined, 'expired: verified again, and refused');
    assert.equal((await authenticate(verifier, `Bearer ${token}`)).ok, false);
  });

  test('a token presented with the DPoP scheme is never answered at once: its proof is checked every time', async () => {
    const token = await issuer.mint();
    assert.ok((await authenticate(verifier, `Bearer ${token}`)).ok);
    assert.equal(authenticateAtOnce(verifier, `DPoP ${token}`), undefined);
  });
});
