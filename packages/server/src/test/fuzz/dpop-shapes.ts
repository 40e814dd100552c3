/**
 * DPoP proofs (RFC 9449) as an attacker writes them: the fuzzer's own keys A and B, a jwk holding
 * its private part, a symmetric or no signature, wrong typ and alg, htm and htu of another request,
 * stale and future iat, repeated jti, a missing or wrong ath, a server nonce missing, expired,
 * forged or not a string, extra jwk members, and the compact JWS mutated after signing; and `DPoP`
 * headers that are not one proof (two, junk, huge). Proofs are signed with `node:crypto` while a
 * case runs, so that they are fresh for the server's clock and carry its current nonce.
 */
import fc from 'fast-check';
import { createHash, createHmac, generateKeyPairSync, randomUUID, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Piece, ProofSpec, Text } from './model.js';
import { base64urlString, hugeArb, mutationArb } from './token-shapes.js';

interface ProofKey {
  privateKey: KeyObject;
  publicJwk: JsonWebKey;
  privateJwk: JsonWebKey;
}

function ecKey(): ProofKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicJwk: publicKey.export({ format: 'jwk' }), privateJwk: privateKey.export({ format: 'jwk' }) };
}

/** The fuzzer's two proof keys; key A is the one the bound pool's tokens are bound to. */
export const PROOF_KEYS = { A: ecKey(), B: ecKey() } as const;

/** The jti every `repeat` proof carries: accepted once per key and server, a replay from then on. */
const REPEATED_JTI = 'fuzz-replayed-jti';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** What a proof is signed for: the request as the server will see it. */
export interface ProofContext {
  method: string;
  /** The URI the request is addressed by, as the server reconstructs it (scheme, host, path; no query). */
  uri: string;
  /** The request's query (with its `?`), or ''. */
  query: string;
  /** The access token in the request's Authorization header, if any. */
  accessToken: string | null;
  /** The server's clock, epoch milliseconds. */
  now: number;
  /** The server's DPoP nonce of the time window `windowsAgo` before the current one; null when it asks for none. */
  nonce: ((windowsAgo: number) => string) | null;
}

/** What a proof's `nonce` claim holds for a server that asks for no nonce. */
const UNASKED_NONCE = 'a nonce nobody asked for';
const NONCE_AGE = { current: 0, previous: 1, expired: 2 } as const;

/** Signs the proof `spec` describes for `context` (total: never throws). */
export function signProof(spec: ProofSpec, context: ProofContext): string {
  const key = spec.key === 'B' ? PROOF_KEYS.B : PROOF_KEYS.A;
  const naturalAlg = spec.key === 'symmetric' ? 'HS256' : spec.key === 'unsigned' ? 'none' : 'ES256';
  const jwk =
    spec.key === 'symmetric'
      ? { kty: 'oct', k: Buffer.from('a shared secret').toString('base64url') }
      : { ...(spec.key === 'private' ? key.privateJwk : key.publicJwk), ...spec.extraJwk };
  const header = { ...(spec.typ === null ? {} : { typ: spec.typ }), alg: spec.alg ?? naturalAlg, jwk };
  const claims = {
    ...(spec.jti === null ? {} : { jti: spec.jti === 'fresh' ? randomUUID() : spec.jti === 'repeat' ? REPEATED_JTI : spec.jti }),
    htm: spec.htm === 'request' ? context.method : spec.htm,
    htu: spec.htu === 'request' ? context.uri : spec.htu === 'query' ? `${context.uri}${context.query}` : spec.htu,
    iat: Math.floor(context.now / 1000) + spec.iatOffset,
    ...(spec.ath === null ? {} : { ath: createHash('sha256').update(spec.ath === 'request' ? (context.accessToken ?? '') : 'another token').digest('base64url') }),
    ...(spec.nonce === null
      ? {}
      : { nonce: typeof spec.nonce === 'object' ? spec.nonce.literal : (context.nonce?.(NONCE_AGE[spec.nonce]) ?? UNASKED_NONCE) }),
  };
  const input = `${b64(header)}.${b64(claims)}`;
  const signature =
    naturalAlg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
      : naturalAlg === 'HS256'
        ? createHmac('sha256', 'a shared secret').update(input).digest()
        : Buffer.alloc(0);
  return `${input}.${signature.toString('base64url')}`;
}

/**
 * Whether no server may accept the proof whatever the request: its key, header or claims break a
 * rule of RFC 9449 §4.3 that does not depend on the request or on what came before. A resource
 * server also needs the `ath` of the token presented; the token endpoint does not read it, but
 * reads the nonce when it asks for one (`nonceAsked`): then only its nonce of this time window or
 * of the one before will do (§8).
 */
export function isKnownBad(spec: ProofSpec, atResource: boolean, nonceAsked = false): boolean {
  return (
    spec.key === 'private' || spec.key === 'symmetric' || spec.key === 'unsigned' ||
    spec.typ !== 'dpop+jwt' || (spec.alg !== null && spec.alg !== 'ES256') ||
    spec.jti === null || spec.jti === '' || spec.jti.length > 256 ||
    // The acceptance window is a minute and some seconds of skew (at most ten minutes); an hour is outside it.
    Math.abs(spec.iatOffset) >= 3600 ||
    (spec.htm !== 'request' && !/^[A-Z]+$/.test(spec.htm)) ||
    (Object.hasOwn(spec.extraJwk, 'alg') && spec.extraJwk.alg !== 'ES256') || Object.hasOwn(spec.extraJwk, 'd') ||
    (atResource && spec.ath !== 'request') ||
    (spec.nonce !== null && typeof spec.nonce === 'object' && typeof spec.nonce.literal !== 'string') ||
    (!atResource && nonceAsked && spec.nonce !== 'current' && spec.nonce !== 'previous') ||
    // Other mutations may leave the proof as it was (a flip to the same character, a truncation at its end).
    spec.mutation.op === 'swapCase'
  );
}

const usually = <T>(value: T, others: fc.Arbitrary<T>, weight = 8): fc.Arbitrary<T> =>
  fc.oneof({ weight, arbitrary: fc.constant(value) }, { weight: 1, arbitrary: others });

/** A proof spec: mostly right for its request, else wrong in one or more ways. */
export const proofSpecArb: fc.Arbitrary<ProofSpec> = fc.record({
  key: fc.oneof({ weight: 12, arbitrary: fc.constant('A' as const) }, { weight: 3, arbitrary: fc.constant('B' as const) }, { weight: 1, arbitrary: fc.constantFrom('private' as const, 'symmetric' as const, 'unsigned' as const) }),
  typ: usually<string | null>('dpop+jwt', fc.constantFrom(null, 'JWT', 'DPoP+JWT', 'at+jwt', 'dpop+jwt ', '')),
  alg: usually<string | null>(null, fc.constantFrom('none', 'HS256', 'RS256', 'EdDSA', 'ES512', 'ES256', 'es256', '')),
  htm: usually('request', fc.constantFrom('GET', 'POST', 'DELETE', 'get', 'post', '', 'POST ')),
  htu: usually(
    'request',
    fc.oneof(
      fc.constantFrom('query', 'https://localhost/bankit-api/antPeer/v1/auth/token', 'http://evil.example/bankit-api/antPeer/v1/auth/token', 'not a uri', '', 'http://localhost:80/', 'javascript:alert(1)'),
      fc.webUrl(),
    ),
  ),
  iatOffset: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -5, max: 2 }) }, { weight: 1, arbitrary: fc.integer({ min: -600, max: 600 }) }, { weight: 1, arbitrary: fc.constantFrom(-86_400, 3600, 86_400 * 365, -1e9) }),
  jti: usually<string | null>('fresh', fc.oneof(fc.constantFrom<string | null>('repeat', 'repeat', null, ''), fc.constant('x'.repeat(300)), fc.string({ maxLength: 12 }))),
  ath: fc.constantFrom<'request' | 'other' | null>('request', 'request', 'request', null, 'other'),
  extraJwk: usually<Record<string, unknown>>(
    {},
    fc.constantFrom<Record<string, unknown>>({ kid: 'k1', use: 'sig' }, { alg: 'ES256' }, { alg: 'RS256' }, { d: 'AAAA' }, { key_ops: ['verify'], x5u: 'https://evil.example/x' }, { __proto__: { d: 'x' } } as Record<string, unknown>),
  ),
  nonce: usually<ProofSpec['nonce']>(
    'current',
    fc.oneof(
      fc.constantFrom<ProofSpec['nonce']>(null, null, 'previous', 'expired'),
      fc
        .oneof(
          fc.constantFrom<unknown>('', 'a', 'null', '0.AAAAAAAAAAAAAAAAAAAAAA', 'zzzzzzzzzzzzz.AAAAAAAAAAAAAAAAAAAAAA', '-1.AAAAAAAAAAAAAAAAAAAAAA', 'x'.repeat(5000), 0, 1e308, true, null, [], {}, ['a']),
          fc.tuple(fc.nat({ max: 1e9 }), base64urlString(0, 40)).map(([window, mac]) => `${window.toString(36)}.${mac}`),
          fc.string({ maxLength: 40 }),
        )
        .map((literal) => ({ literal })),
    ),
    4,
  ),
  mutation: usually({ op: 'none' } as const, mutationArb, 6),
});

/** A `DPoP` header value: one proof mostly, else junk, a huge value, a bare JWS-looking string. */
export const proofTextArb: fc.Arbitrary<Text> = fc.oneof(
  { weight: 12, arbitrary: proofSpecArb.map((proof): Text => [{ proof } as Piece]) },
  { weight: 1, arbitrary: fc.constantFrom('', 'null', 'a.b.c', 'e30.e30.', 'eyJhbGciOiJub25lIn0.e30.', '..', 'Bearer x').map((text): Text => [text]) },
  { weight: 1, arbitrary: fc.tuple(base64urlString(10, 60), base64urlString(10, 60), base64urlString(0, 90)).map(([a, b, c]): Text => [`${a}.${b}.${c}`]) },
  { weight: 1, arbitrary: hugeArb.map((piece): Text => [piece]) },
);

/** The `DPoP` headers of a request: none, one, or the same header twice. */
export const dpopHeadersArb: fc.Arbitrary<[string, Text][]> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<[string, Text][]>([]) },
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom('DPoP', 'DPoP', 'dpop'), proofTextArb).map(([name, text]): [string, Text][] => [[name, text]]) },
  { weight: 1, arbitrary: fc.tuple(proofTextArb, proofTextArb).map(([one, two]): [string, Text][] => [['DPoP', one], ['dpop', two]]) },
);
