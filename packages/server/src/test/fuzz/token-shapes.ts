/**
 * Generators for whatever stands where a token or a password goes: the pool's real tokens
 * (mutated or not), JWT-looking garbage, refresh-token-shaped garbage of the real length (70) and
 * plain junk. Real secrets are references ({@link Secret}); their values appear only at run time.
 */
import fc from 'fast-check';
import type { Mutation, Piece, Secret, SecretRef, Text } from './model.js';

/** Live sessions each server of a fuzz target keeps ready for the generators to refer to. */
export const POOL_SIZE = 4;
/** Ended sessions kept for the generators to refer to. */
export const GRAVEYARD_SIZE = 8;

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const base64urlChar = fc.constantFrom(...BASE64URL_ALPHABET);

export function base64urlString(minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: base64urlChar, minLength, maxLength });
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');
}

/** Any JSON value a claim or a header parameter could hold. */
const claimValue = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.integer(),
  fc.constantFrom(null, true, false, -1, 0, 9_999_999_999, 1e308, '1e3', ''),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.uuid(),
);

const claimsArb = fc.record(
  { iss: claimValue, sub: claimValue, aud: claimValue, exp: claimValue, iat: claimValue, nbf: claimValue, jti: claimValue, sid: claimValue, client_id: claimValue },
  { requiredKeys: [] },
);

const protectedHeaderArb = fc.record(
  {
    alg: fc.constantFrom('none', 'None', 'NONE', 'HS256', 'EdDSA', 'ES256', 'RS256', 'PS256', '', 'ES256K'),
    typ: fc.constantFrom('at+jwt', 'AT+JWT', 'application/at+jwt', 'JWT', '', 'jwt'),
    kid: fc.oneof(fc.string({ maxLength: 24 }), fc.constantFrom('../../../etc/passwd', "' OR '1'='1", '')),
    crit: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }),
    b64: fc.boolean(),
    jku: fc.constant('http://127.0.0.1:9/jwks.json'),
    jwk: fc.constant({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }),
  },
  { requiredKeys: [] },
);

/** Three (or some other number of) base64url segments that decode to JSON, as an attacker forges them. */
export const jwtGarbageArb: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(protectedHeaderArb, claimsArb, base64urlString(0, 100))
    .map(([header, claims, signature]) => `${base64url(header)}.${base64url(claims)}.${signature}`),
  fc.array(base64urlString(0, 40), { minLength: 1, maxLength: 6 }).map((segments) => segments.join('.')),
  fc.constantFrom('eyJhbGciOiJub25lIn0.e30.', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9', '..', '.', 'a.b.c', 'eyJ.eyJ.eyJ'),
);

/** Garbage with the shape of a real refresh token (70 base64url characters), and near misses. */
export const refreshShapedArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: base64urlString(70, 70) },
  { weight: 1, arbitrary: fc.oneof(base64urlString(69, 69), base64urlString(71, 71)) },
  { weight: 1, arbitrary: fc.tuple(base64urlString(68, 68), fc.constantFrom('==', '.=', '%3D', '+/')).map(([body, tail]) => body + tail) },
);

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ op: 'none' } as const) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(400), to: fc.oneof(base64urlChar, fc.constantFrom('.', '=', ' ', '%', '+', '/', 'é')) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat(400) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('append' as const), text: fc.oneof(fc.constantFrom('=', '.', ' ', 'A', '\t', '..', '%00'), fc.string({ maxLength: 6 })) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('prepend' as const), text: fc.constantFrom(' ', 'Bearer ', '"', 'x', '.') }) },
  { weight: 1, arbitrary: fc.constant({ op: 'swapCase' } as const) },
  { weight: 1, arbitrary: fc.constant({ op: 'standardBase64' } as const) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('replaceTail' as const), keep: fc.nat(400), tail: base64urlString(0, 90) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('jwtClaims' as const), claims: claimsArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('jwtHeader' as const), header: protectedHeaderArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('jwtSegments' as const), order: fc.array(fc.nat(3), { maxLength: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('refreshGeneration' as const), generation: fc.oneof(fc.nat(8), fc.constant(4_294_967_295)) }) },
);

const slot = fc.nat(POOL_SIZE - 1);
const tokenRefArb: fc.Arbitrary<SecretRef> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('access' as const), slot }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('refresh' as const), slot }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('previousRefresh' as const), slot }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('endedAccess' as const), index: fc.nat(GRAVEYARD_SIZE - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('endedRefresh' as const), index: fc.nat(GRAVEYARD_SIZE - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('foreignAccess' as const), slot }) },
);

export function secretArb(ref: fc.Arbitrary<SecretRef>): fc.Arbitrary<Secret> {
  return fc.record({ secret: ref, mutation: mutationArb });
}

/** A real token of the pool, usually as issued, sometimes mutated. */
export const realTokenArb: fc.Arbitrary<Secret> = secretArb(tokenRefArb);

/** A real access token, as issued (or of another kind now and then): what a valid call carries. */
export const accessTokenArb: fc.Arbitrary<Secret> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ secret: fc.record({ kind: fc.constant('access' as const), slot }), mutation: fc.constant({ op: 'none' } as const) }) },
  { weight: 4, arbitrary: realTokenArb },
);

/** A real refresh token, as issued or one generation old, or anything else a token could be. */
export const refreshTokenArb: fc.Arbitrary<Secret> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ secret: fc.record({ kind: fc.constant('refresh' as const), slot }), mutation: fc.constant({ op: 'none' } as const) }) },
  { weight: 2, arbitrary: fc.record({ secret: fc.record({ kind: fc.constant('previousRefresh' as const), slot }), mutation: fc.constant({ op: 'none' } as const) }) },
  { weight: 3, arbitrary: realTokenArb },
);

/** A huge string that prints small. */
export const hugeArb: fc.Arbitrary<Piece> = fc.record({
  repeat: fc.constantFrom('a', 'A', '=', '.', '%', 'é', '🦄', 'eyJ', '\\u0000', ' '),
  times: fc.integer({ min: 256, max: 20_000 }),
});

/** Whatever a client could put where a token goes. */
export function tokenTextArb(real: fc.Arbitrary<Secret> = realTokenArb): fc.Arbitrary<Text> {
  return fc.oneof(
    { weight: 8, arbitrary: real.map((secret) => [secret]) },
    { weight: 2, arbitrary: jwtGarbageArb.map((text) => [text]) },
    { weight: 2, arbitrary: refreshShapedArb.map((text) => [text]) },
    { weight: 1, arbitrary: hugeArb.map((piece) => [piece]) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }).map((text) => [text]) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', 'null', 'undefined', '[object Object]', '0', 'Bearer', '%00').map((text) => [text]) },
  );
}

/** A password field: the real one mostly, else near misses and junk. */
export const passwordTextArb: fc.Arbitrary<Text> = fc.oneof(
  { weight: 6, arbitrary: fc.constant([{ secret: { kind: 'password' }, mutation: { op: 'none' } }] as Text) },
  { weight: 1, arbitrary: fc.constant([{ secret: { kind: 'disabledPassword' }, mutation: { op: 'none' } }] as Text) },
  { weight: 2, arbitrary: secretArb(fc.constant({ kind: 'password' } as const)).map((secret) => [secret]) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 32 }).map((text) => [text]) },
  { weight: 1, arbitrary: hugeArb.map((piece) => [piece]) },
);

/** A username field: the two client applications mostly, else junk. */
export const usernameTextArb: fc.Arbitrary<Text> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(['merchant-app']) },
  { weight: 1, arbitrary: fc.constant(['disabled-app']) },
  { weight: 1, arbitrary: fc.constantFrom('MERCHANT-APP', 'merchant-app ', 'merchant%2Dapp', '__proto__', "' OR 1=1 --", 'nobody', '').map((text) => [text]) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 32 }).map((text) => [text]) },
  { weight: 1, arbitrary: hugeArb.map((piece) => [piece]) },
);
