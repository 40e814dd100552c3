import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, SignJWT, UnsecuredJWT, base64url } from 'jose';
import { InvalidTokenError, VerifierUnavailableError, type InvalidTokenReason } from './errors.js';
import { AUDIENCE, FakeIssuer, makeSigningKey, manualClock } from './test/fake-issuer.js';
import { createVerifier, type VerifierOptions } from './verify.js';
import { kPeek } from './lib/internal.js';

const clock = manualClock();
let issuer: FakeIssuer;

before(async () => {
  issuer = await FakeIssuer.start(clock.now);
});
after(() => issuer.close());

function verifierFor(fake: FakeIssuer, options: Partial<VerifierOptions> = {}) {
  return createVerifier({ issuer: fake.issuer, audience: AUDIENCE, clock: fake.clock, ...options });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

async function assertRefused(promise: Promise<unknown>, reason: InvalidTokenReason): Promise<void> {
  const error = await rejection(promise);
  assert.ok(error instanceof InvalidTokenError, `expected InvalidTokenError, got ${String(error)}`);
  assert.equal(error.reason, reason);
  assert.equal(error.code, 'ERR_GUARD_INVALID_TOKEN');
  assert.equal(error.error, 'invalid_token');
  assert.equal(error.status, 401);
}

function segments(token: string): [string, string, string] {
  return token.split('.') as [string, string, string];
}

function json(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

describe('createVerifier().verify', () => {
  test('a valid token yields its identity, deeply frozen', async () => {
    const verifier = verifierFor(issuer);
    const identity = await verifier.verify(await issuer.mint());
    assert.equal(identity.subject, 'user-42');
    assert.equal(identity.username, 'fintech-app');
    assert.equal(identity.sessionId, 'session-7');
    assert.match(identity.tokenId, /^jti-/);
    assert.equal(identity.issuedAt, issuer.nowSeconds());
    assert.equal(identity.expiresAt, issuer.nowSeconds() + 900);
    assert.equal(identity.claims.iss, issuer.issuer);
    assert.ok(Object.isFrozen(identity) && Object.isFrozen(identity.claims));
  });

  const badTokens: { name: string; reason: InvalidTokenReason; token: () => Promise<string> }[] = [
    { name: 'an empty string', reason: 'malformed', token: async () => '' },
    { name: 'one segment', reason: 'malformed', token: async () => 'abc' },
    { name: 'two segments', reason: 'malformed', token: async () => 'abc.def' },
    { name: 'four segments', reason: 'malformed', token: async () => `${await issuer.mint()}.x` },
    { name: 'a header that is not JSON', reason: 'malformed', token: async () => `bm90IGpzb24.${segments(await issuer.mint())[1]}.c2ln` },
    { name: 'a header that is a JSON array', reason: 'malformed', token: async () => `${json([1])}.${segments(await issuer.mint())[1]}.c2ln` },
    { name: 'characters outside base64url', reason: 'malformed', token: async () => (await issuer.mint()).replace('.', '+.') },
    { name: 'a header without alg', reason: 'malformed', token: async () => `${json({ typ: 'at+jwt' })}.e30.c2ln` },
    {
      name: 'a crit header',
      reason: 'malformed',
      token: async () => {
        const [, payload] = segments(await issuer.mint());
        const header = json({ alg: 'EdDSA', typ: 'at+jwt', kid: 'key-1', crit: ['x-antpeer'], 'x-antpeer': 1 });
        const signature = await crypto.subtle.sign('Ed25519', issuer.keys[0]!.privateKey, new TextEncoder().encode(`${header}.${payload}`));
        return `${header}.${payload}.${base64url.encode(new Uint8Array(signature))}`;
      },
    },
    { name: 'a token longer than maxTokenLength', reason: 'malformed', token: async () => `${'a'.repeat(9000)}.b.c` },
    {
      name: 'alg none (an unsecured JWT)',
      reason: 'unsigned',
      token: async () => new UnsecuredJWT({ iss: issuer.issuer, sub: 'x', aud: AUDIENCE }).encode(),
    },
    {
      name: 'alg none with a signature attached',
      reason: 'unsigned',
      token: async () => {
        const [, payload, signature] = segments(await issuer.mint());
        return `${json({ alg: 'none', typ: 'at+jwt', kid: 'key-1' })}.${payload}.${signature}`;
      },
    },
    {
      name: 'a valid token with its signature stripped',
      reason: 'unsigned',
      token: async () => {
        const [header, payload] = segments(await issuer.mint());
        return `${header}.${payload}.`;
      },
    },
    {
      name: 'HS256 signed with the public key as the secret',
      reason: 'algorithm',
      token: async () => {
        const raw = base64url.decode(issuer.keys[0]!.publicJwk.x!);
        const claims = { iss: issuer.issuer, sub: 'attacker', aud: AUDIENCE, iat: issuer.nowSeconds(), exp: issuer.nowSeconds() + 60, jti: 'j', client_id: 'c' };
        return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'key-1' }).sign(raw);
      },
    },
    {
      name: 'ES256 claimed for the Ed25519 key',
      reason: 'algorithm',
      token: async () => {
        const { privateKey } = await generateKeyPair('ES256');
        const [, payload] = segments(await issuer.mint());
        const header = json({ alg: 'ES256', typ: 'at+jwt', kid: 'key-1' });
        const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, new TextEncoder().encode(`${header}.${payload}`));
        return `${header}.${payload}.${base64url.encode(new Uint8Array(signature))}`;
      },
    },
    { name: 'an unknown algorithm', reason: 'algorithm', token: async () => `${json({ alg: 'XX512', typ: 'at+jwt', kid: 'key-1' })}.e30.c2ln` },
    {
      name: 'a tampered payload',
      reason: 'signature',
      token: async () => {
        const [header, , signature] = segments(await issuer.mint());
        const forged = segments(await issuer.mint({ claims: { sub: 'admin' } }))[1];
        return `${header}.${forged}.${signature}`;
      },
    },
    {
      name: 'a signature by another key under a known kid',
      reason: 'signature',
      token: async () => issuer.mint({ key: { ...(await makeSigningKey('key-1')) } }),
    },
    { name: 'an unknown kid', reason: 'key_unknown', token: async () => issuer.mint({ key: await makeSigningKey('not-published') }) },
    { name: 'typ JWT', reason: 'type', token: async () => issuer.mint({ header: { typ: 'JWT' } }) },
    { name: 'no typ', reason: 'type', token: async () => issuer.mint({ header: { typ: undefined } }) },
    { name: 'another issuer', reason: 'issuer', token: async () => issuer.mint({ claims: { iss: 'https://evil.example' } }) },
    { name: 'no issuer', reason: 'issuer', token: async () => issuer.mint({ omit: ['iss'] }) },
    { name: 'another audience', reason: 'audience', token: async () => issuer.mint({ claims: { aud: 'billing' } }) },
    { name: 'an audience list without ours', reason: 'audience', token: async () => issuer.mint({ claims: { aud: ['billing', 'crm'] } }) },
    { name: 'no audience', reason: 'audience', token: async () => issuer.mint({ omit: ['aud'] }) },
    { name: 'expired beyond the tolerance', reason: 'expired', token: async () => issuer.mint({ claims: { exp: issuer.nowSeconds() - 6 } }) },
    { name: 'issued in the future beyond the tolerance', reason: 'not_yet_valid', token: async () => issuer.mint({ claims: { iat: issuer.nowSeconds() + 6 } }) },
    { name: 'nbf in the future beyond the tolerance', reason: 'not_yet_valid', token: async () => issuer.mint({ claims: { nbf: issuer.nowSeconds() + 6 } }) },
    { name: 'no sub', reason: 'claims', token: async () => issuer.mint({ omit: ['sub'] }) },
    { name: 'no client_id', reason: 'claims', token: async () => issuer.mint({ omit: ['client_id'] }) },
    { name: 'no jti', reason: 'claims', token: async () => issuer.mint({ omit: ['jti'] }) },
    { name: 'no exp', reason: 'claims', token: async () => issuer.mint({ omit: ['exp'] }) },
    { name: 'no iat', reason: 'claims', token: async () => issuer.mint({ omit: ['iat'] }) },
    { name: 'exp as a string', reason: 'claims', token: async () => issuer.mint({ claims: { exp: String(issuer.nowSeconds() + 60) } }) },
    { name: 'a numeric sub', reason: 'claims', token: async () => issuer.mint({ claims: { sub: 42 } }) },
  ];
  for (const { name, reason, token } of badTokens) {
    test(`refuses ${name} (${reason})`, async () => {
      await assertRefused(verifierFor(issuer).verify(await token()), reason);
    });
  }

  test('refuses a token issued before the not-before policy (revoked)', async () => {
    const fake = await FakeIssuer.start(clock.now);
    try {
      const token = await fake.mint({ claims: { iat: fake.nowSeconds() - 10 } });
      fake.notBeforePolicy = fake.nowSeconds() - 5;
      await assertRefused(verifierFor(fake).verify(token), 'revoked');
      assert.ok(await verifierFor(fake).verify(await fake.mint()));
    } finally {
      await fake.close();
    }
  });

  test('accepts exp and iat within the clock tolerance, and both typ spellings and audience lists', async () => {
    const verifier = verifierFor(issuer);
    await verifier.verify(await issuer.mint({ claims: { exp: issuer.nowSeconds() - 4 } }));
    await verifier.verify(await issuer.mint({ claims: { iat: issuer.nowSeconds() + 4, nbf: issuer.nowSeconds() + 4 } }));
    await verifier.verify(await issuer.mint({ header: { typ: 'application/at+jwt' } }));
    await verifier.verify(await issuer.mint({ claims: { aud: ['billing', AUDIENCE] } }));
    await assertRefused(
      verifierFor(issuer, { clockTolerance: 0 }).verify(await issuer.mint({ claims: { exp: issuer.nowSeconds() } })),
      'expired',
    );
  });

  test('iatTolerance lets an iat ahead of the clock through without loosening exp', async () => {
    const strict = verifierFor(issuer, { clockTolerance: 0 });
    const ahead = await issuer.mint({ claims: { iat: issuer.nowSeconds() + 1 } });
    await assertRefused(strict.verify(ahead), 'not_yet_valid');
    const lenient = verifierFor(issuer, { clockTolerance: 0, iatTolerance: 1 });
    await lenient.verify(ahead);
    await assertRefused(lenient.verify(await issuer.mint({ claims: { iat: issuer.nowSeconds() + 2 } })), 'not_yet_valid');
    await assertRefused(lenient.verify(await issuer.mint({ claims: { exp: issuer.nowSeconds() } })), 'expired');
  });

  test('verifies ES256 and RS256 keys by the algorithm their JWK names', async () => {
    const fake = await FakeIssuer.start(clock.now);
    try {
      const es = await makeSigningKey('es', 'ES256');
      const rs = await makeSigningKey('rs', 'RS256');
      const ps = await makeSigningKey('ps', 'PS256');
      fake.keys.push(es, rs, ps);
      const verifier = verifierFor(fake);
      for (const key of [es, rs, ps]) assert.equal((await verifier.verify(await fake.mint({ key }))).subject, 'user-42');
      // Each key allows the algorithm its JWK names and no other.
      await assertRefused(verifier.verify(await fake.mint({ key: { ...ps, kid: 'rs' } })), 'algorithm');
      await assertRefused(verifier.verify(await fake.mint({ key: { ...rs, kid: 'ps' } })), 'algorithm');
    } finally {
      await fake.close();
    }
  });

  test('infers the algorithm of a JWK without alg from its key type', async () => {
    const fake = await FakeIssuer.start(clock.now);
    try {
      fake.keys = [await makeSigningKey('bare', 'EdDSA', { publishAlg: false })];
      const verifier = verifierFor(fake);
      await verifier.verify(await fake.mint());
      await verifier.verify(await fake.mint({ header: { alg: 'Ed25519' } }));
    } finally {
      await fake.close();
    }
  });

  test('never uses symmetric or encryption keys from the JWKS', async () => {
    const fake = await FakeIssuer.start(clock.now);
    try {
      const secret = new TextEncoder().encode('s'.repeat(32));
      fake.published = [
        { kty: 'oct', kid: 'hmac', alg: 'HS256', k: base64url.encode(secret) },
        { ...fake.keys[0]!.publicJwk, kid: 'enc', use: 'enc' },
      ];
      const verifier = verifierFor(fake);
      const hmac = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'hmac' }).sign(secret);
      await assertRefused(verifier.verify(hmac), 'algorithm');
      await assertRefused(verifier.verify(await fake.mint({ header: { kid: 'enc' } })), 'key_unknown');
    } finally {
      await fake.close();
    }
  });
});

describe('keys', () => {
  test('key rotation without downtime: a new kid is fetched at once, the old key keeps working', async () => {
    const fake = await FakeIssuer.start(clock.now);
    try {
      const verifier = verifierFor(fake);
      const oldToken = await fake.mint();
      await verifier.verify(oldToken);
      const rotated = await makeSigningKey('key-2');
      fake.keys.push(rotated);
      await verifier.verify(await fake.mint({ key: rotated }));
      assert.equal(fake.jwksRequests, 2);
      verifier.clearCache();
      await verifier.verify(oldToken);
      // Once the old key is retired, a set older than jwksMaxAge is refreshed and the key is gone.
      fake.keys.shift();
      clock.advance(600);
      await assertRefused(verifier.verify(await fake.mint({ key: { ...rotated, kid: 'key-1' } })), 'key_unknown');
      await verifier.verify(await fake.mint({ key: rotated }));
    } finally {
      await fake.close();
    }
  });

  test('a flood of unknown kids refetches the JWKS at most once per cooldown', async () => {
    const fake = await FakeIssuer.start(clock.now);
    try {
      const verifier = verifierFor(fake, { jwksCooldown: 10 });
      await verifier.verify(await fake.mint());
      assert.equal(fake.jwksRequests, 1);
      const bogus = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => fake.mint({ key: { ...fake.keys[0]!, kid: `bogus-${i}` } })),
      );
      const results = await Promise.allSettled(bogus.map((token) => verifier.verify(token)));
      assert.ok(results.every((result) => result.status === 'rejected'));
      for (const token of bogus) await assertRefused(verifier.verify(token), 'key_unknown');
      assert.equal(fake.jwksRequests, 2);
      clock.advance(9);
      await assertRefused(verifier.verify(bogus[0]!), 'key_unknown');
      assert.equal(fake.jwksRequests, 2);
      clock.advance(1);
      await assertRefused(verifier.verify(bogus[0]!), 'key_unknown');
      assert.equal(fake.jwksRequests, 3);
    } finally {
      await fake.close();
    }
  });

  test('an unreachable issuer at start makes verification unavailable (503), not invalid', async () => {
    const fake = await FakeIssuer.start(clock.now);
    try {
      fake.down = true;
      const verifier = verifierFor(fake);
      const error = await rejection(verifier.verify(await fake.mint()));
      assert.ok(error instanceof VerifierUnavailableError);
      assert.equal(error.status, 503);
      await assert.rejects(verifier.ready(), VerifierUnavailableError);
      fake.down = false;
      clock.advance(10);
      await verifier.ready();
      await verifier.verify(await fake.mint());
    } finally {
      await fake.close();
    }
  });

  test('metadata describing another issuer is not trusted', async () => {
    const fake = await FakeIssuer.start(clock.now);
    try {
      fake.metadataIssuer = 'https://evil.example';
      await assert.rejects(verifierFor(fake).verify(await fake.mint()), VerifierUnavailableError);
    } finally {
      await fake.close();
    }
  });
});

describe('the verified-token cache', () => {
  test('a repeated token is verified once', async () => {
    const verifier = verifierFor(issuer);
    const token = await issuer.mint();
    const first = await verifier.verify(token);
    assert.equal(await verifier.verify(token), first);
  });

  test('a token carrying a cached token’s signature over another header or payload is checked in full, and refused', async () => {
    const verifier = verifierFor(issuer);
    const genuine = await issuer.mint({ claims: { sub: 'client-a' } });
    const cached = await verifier.verify(genuine);
    const other = await issuer.mint({ claims: { sub: 'client-b' } });
    const signature = genuine.slice(genuine.lastIndexOf('.'));
    const forged = `${other.slice(0, other.lastIndexOf('.'))}${signature}`;
    const [header, payload] = genuine.split('.');
    for (const token of [forged, `${header}.${payload}x${signature}`, `x${genuine}`]) {
      assert.equal(verifier[kPeek](token), undefined, 'not answered at once');
      await assertRefused(verifier.verify(token), token.startsWith('x') ? 'malformed' : 'signature');
    }
    assert.equal(verifier[kPeek](genuine), cached, 'the genuine token is still cached');
  });

  test('never accepts a cached token after its expiry', async () => {
    const verifier = verifierFor(issuer, { clockTolerance: 0 });
    const token = await issuer.mint({ claims: { exp: issuer.nowSeconds() + 60 } });
    await verifier.verify(token);
    clock.advance(59);
    await verifier.verify(token);
    clock.advance(1);
    await assertRefused(verifier.verify(token), 'expired');
  });

  test('with a clock tolerance, a cached token expires at exp and the tolerance applies only to a full check', async () => {
    const verifier = verifierFor(issuer, { clockTolerance: 5 });
    const token = await issuer.mint({ claims: { exp: issuer.nowSeconds() + 60 } });
    const cached = await verifier.verify(token);
    clock.advance(62);
    assert.notEqual(await verifier.verify(token), cached);
    clock.advance(3);
    await assertRefused(verifier.verify(token), 'expired');
  });

  test('never accepts a cached token after a newer not-before policy is read', async () => {
    const fake = await FakeIssuer.start(clock.now);
    try {
      const verifier = verifierFor(fake, { policyRefreshInterval: 30 });
      const token = await fake.mint();
      await verifier.verify(token);
      assert.equal(fake.metadataRequests, 1);
      clock.advance(10);
      fake.notBeforePolicy = fake.nowSeconds();
      // The policy is re-read at most once per interval: until then the cache may still answer.
      await verifier.verify(token);
      assert.equal(fake.metadataRequests, 1);
      clock.advance(20);
      await assertRefused(verifier.verify(token), 'revoked');
      assert.equal(fake.metadataRequests, 2);
      assert.equal(verifier.notBeforePolicy, fake.notBeforePolicy);
      await verifier.verify(await fake.mint());
    } finally {
      await fake.close();
    }
  });

  test('keeps the last known policy while the metadata endpoint is down', async () => {
    const fake = await FakeIssuer.start(clock.now);
    try {
      fake.notBeforePolicy = fake.nowSeconds() - 100;
      const verifier = verifierFor(fake);
      await verifier.verify(await fake.mint());
      fake.down = true;
      clock.advance(31);
      await assertRefused(verifier.verify(await fake.mint({ claims: { iat: fake.nowSeconds() - 200 } })), 'revoked');
      await verifier.verify(await fake.mint());
    } finally {
      await fake.close();
    }
  });

  test('is bounded: the least recently used token is evicted', async () => {
    const verifier = verifierFor(issuer, { cacheSize: 2 });
    const [a, b, c] = await Promise.all([issuer.mint(), issuer.mint(), issuer.mint()]);
    const first = await verifier.verify(a!);
    await verifier.verify(b!);
    assert.equal(await verifier.verify(a!), first);
    await verifier.verify(c!);
    const second = await verifier.verify(b!);
    assert.notEqual(await verifier.verify(b!), undefined);
    assert.equal(await verifier.verify(b!), second);
    assert.equal(await verifier.verify(c!), await verifier.verify(c!));
  });

  test('cacheSize 0 verifies every time', async () => {
    const verifier = verifierFor(issuer, { cacheSize: 0 });
    const token = await issuer.mint();
    assert.notEqual(await verifier.verify(token), await verifier.verify(token));
  });
});

describe('options', () => {
  test('a not-before policy function is read at most once per interval', async () => {
    let reads = 0;
    const verifier = verifierFor(issuer, {
      notBeforePolicy: () => {
        reads += 1;
        return issuer.nowSeconds() - 60;
      },
    });
    await verifier.verify(await issuer.mint());
    await verifier.verify(await issuer.mint());
    assert.equal(reads, 1);
    await assertRefused(verifier.verify(await issuer.mint({ claims: { iat: issuer.nowSeconds() - 61 } })), 'revoked');
  });

  test('fixed keys and no policy work without any server', async () => {
    const key = await makeSigningKey('fixed');
    const fake = new FakeIssuer(clock.now);
    fake.issuer = 'https://auth.example/bankit-api/antPeer/v1';
    const verifier = createVerifier({
      issuer: fake.issuer,
      audience: [AUDIENCE],
      jwks: { keys: [key.publicJwk as Record<string, unknown>] },
      notBeforePolicy: false,
      clock: clock.now,
    });
    assert.equal((await verifier.verify(await fake.mint({ key }))).subject, 'user-42');
  });

  test('caller misuse throws TypeError', async () => {
    const valid = { issuer: 'https://auth.example', audience: 'a' };
    assert.throws(() => createVerifier({ ...valid, issuer: '' }), TypeError);
    assert.throws(() => createVerifier({ ...valid, audience: [] }), TypeError);
    assert.throws(() => createVerifier({ ...valid, clockTolerance: -1 }), TypeError);
    assert.throws(() => createVerifier({ ...valid, clockTolerance: 3600 }), TypeError);
    assert.throws(() => createVerifier({ ...valid, cacheSize: 1.5 }), TypeError);
    assert.throws(() => createVerifier({ ...valid, jwks: 'http://auth.example/certs' }), TypeError);
    assert.throws(() => createVerifier({ ...valid, jwks: 'ftp://auth.example/certs' }), TypeError);
    assert.throws(() => createVerifier({ ...valid, notBeforePolicy: 42 as never }), TypeError);
    await assert.rejects(createVerifier(valid).verify(42 as never), TypeError);
  });
});
