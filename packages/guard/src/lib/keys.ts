import { constants, createPublicKey, verify as cryptoVerify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Sodium from 'sodium-native';

/**
 * A public key ready for `crypto.verify`, with the JWS algorithms it may verify (RFC 7518 §3.1).
 * Symmetric (`oct`) keys never become one: a verifier holding only public keys can never be tricked
 * into HMAC verification with the public key as the secret.
 */
export interface VerificationKey {
  readonly kid: string | undefined;
  readonly algorithms: ReadonlySet<string>;
  readonly key: KeyObject;
  /** An Ed25519 key's 32 bytes (RFC 8037 §2, `x`), for libsodium; absent for every other key. */
  readonly ed25519?: Buffer;
}

/**
 * libsodium's Ed25519 verification, from the optional `sodium-native` binding; null where it is not
 * installed or does not load (no prebuilt binary for the platform), and `node:crypto` verifies.
 */
const sodium: Pick<typeof Sodium, 'crypto_sign_verify_detached'> | null = (() => {
  try {
    return createRequire(import.meta.url)('sodium-native') as typeof Sodium;
  } catch {
    return null;
  }
})();

/** Which library verifies Ed25519 signatures here (the benchmark's ceiling is that library's raw rate). */
export const ED25519_VERIFIER: 'libsodium' | 'node:crypto' = sodium === null ? 'node:crypto' : 'libsodium';

const ED25519_PUBLIC_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;

/** The raw public key of an Ed25519 JWK, or undefined for any other key. */
function ed25519Bytes(key: KeyObject): Buffer | undefined {
  if (key.asymmetricKeyType !== 'ed25519') return undefined;
  const raw = Buffer.from(key.export({ format: 'jwk' }).x as string, 'base64url');
  return raw.length === ED25519_PUBLIC_KEY_BYTES ? raw : undefined;
}

interface AlgorithmProfile {
  readonly kty: 'OKP' | 'EC' | 'RSA';
  readonly crv?: string;
  /** The digest for `crypto.verify`; `null` for EdDSA. */
  readonly digest: string | null;
  readonly pss?: boolean;
}

/** Every asymmetric JWS algorithm the guard accepts; `none` and `HS*` are absent on purpose. */
const PROFILES: Readonly<Record<string, AlgorithmProfile>> = Object.freeze({
  EdDSA: { kty: 'OKP', crv: 'Ed25519', digest: null },
  Ed25519: { kty: 'OKP', crv: 'Ed25519', digest: null },
  ES256: { kty: 'EC', crv: 'P-256', digest: 'sha256' },
  ES384: { kty: 'EC', crv: 'P-384', digest: 'sha384' },
  ES512: { kty: 'EC', crv: 'P-521', digest: 'sha512' },
  RS256: { kty: 'RSA', digest: 'sha256' },
  RS384: { kty: 'RSA', digest: 'sha384' },
  RS512: { kty: 'RSA', digest: 'sha512' },
  PS256: { kty: 'RSA', digest: 'sha256', pss: true },
  PS384: { kty: 'RSA', digest: 'sha384', pss: true },
  PS512: { kty: 'RSA', digest: 'sha512', pss: true },
});

const MIN_RSA_MODULUS_BITS = 2048;
/**
 * The largest RSA public exponent a DPoP proof key may have (OpenSSL's limit for large moduli).
 * Keys use 65537; a client-chosen exponent as long as the modulus makes each verification cost
 * about what a private-key operation does (over a hundred times a normal proof), for anyone.
 */
const MAX_PROOF_RSA_EXPONENT = 2n ** 64n;

/** Whether the guard implements `alg` at all; `none` and every `HS*` never are. */
export function isSupportedAlgorithm(alg: string): boolean {
  return Object.hasOwn(PROFILES, alg);
}

/** The algorithms a JWK allows: its own `alg`, or the one its key type and curve imply. */
function allowedAlgorithms(jwk: Record<string, unknown>): string[] {
  const { kty, crv, alg } = jwk;
  if (alg !== undefined) {
    const profile = typeof alg === 'string' && Object.hasOwn(PROFILES, alg) ? PROFILES[alg] : undefined;
    if (profile === undefined || profile.kty !== kty) return [];
    if (profile.crv !== undefined && profile.crv !== crv) return [];
    return [alg as string];
  }
  if (kty === 'OKP' && crv === 'Ed25519') return ['EdDSA', 'Ed25519'];
  if (kty === 'EC' && crv === 'P-256') return ['ES256'];
  if (kty === 'EC' && crv === 'P-384') return ['ES384'];
  if (kty === 'EC' && crv === 'P-521') return ['ES512'];
  // An RSA key without `alg` is ambiguous; RS256 is what RFC 9068 §2.1 requires issuers to support.
  if (kty === 'RSA') return ['RS256'];
  return [];
}

/**
 * Turns one member of a JWKS into a {@link VerificationKey}, or `undefined` when the guard must not
 * use it for signatures: symmetric, meant for encryption, not allowed to verify, an unsupported
 * algorithm or curve, a weak RSA modulus, or not a valid key at all.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7517#section-4 RFC 7517 §4}
 */
export function importVerificationKey(jwk: unknown): VerificationKey | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return undefined;
  const member = jwk as Record<string, unknown>;
  if (member.use !== undefined && member.use !== 'sig') return undefined;
  if (member.key_ops !== undefined && !(Array.isArray(member.key_ops) && member.key_ops.includes('verify'))) {
    return undefined;
  }
  if (member.kid !== undefined && typeof member.kid !== 'string') return undefined;
  const algorithms = allowedAlgorithms(member);
  if (algorithms.length === 0) return undefined;
  // Only the public members: a JWKS that leaks a private key must not make us hold it.
  const key = publicKeyOf(member, member.kty as string);
  if (key === undefined) return undefined;
  if (member.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_MODULUS_BITS) {
    return undefined;
  }
  return Object.freeze({ kid: member.kid as string | undefined, algorithms: new Set(algorithms), key, ed25519: ed25519Bytes(key) });
}

/** The public key made of a JWK's public members only (of type `kty`), or `undefined` when they are not a key. */
function publicKeyOf(member: Record<string, unknown>, kty: string): KeyObject | undefined {
  const publicMembers: JsonWebKey = { kty };
  for (const name of ['crv', 'x', 'y', 'n', 'e'] as const) {
    if (typeof member[name] === 'string') publicMembers[name] = member[name] as string;
  }
  try {
    return createPublicKey({ key: publicMembers, format: 'jwk' });
  } catch {
    return undefined;
  }
}

/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/**
 * Imports the public key a DPoP proof carries in its `jwk` header for `alg`, or returns `undefined`
 * when it must not be used: a private or symmetric key, a key type or curve that is not `alg`'s, a
 * weak RSA modulus, or not a key at all.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9449#section-4.3 RFC 9449 §4.3}
 */
export function importProofKey(jwk: unknown, alg: string): VerificationKey | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return undefined;
  const member = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((name) => member[name] !== undefined)) return undefined;
  const profile = Object.hasOwn(PROFILES, alg) ? PROFILES[alg] : undefined;
  if (profile === undefined || member.kty !== profile.kty) return undefined;
  if (profile.crv !== undefined && member.crv !== profile.crv) return undefined;
  if (member.alg !== undefined && member.alg !== alg) return undefined;
  const key = publicKeyOf(member, profile.kty);
  if (key === undefined) return undefined;
  if (profile.kty === 'RSA') {
    const details = key.asymmetricKeyDetails;
    if ((details?.modulusLength ?? 0) < MIN_RSA_MODULUS_BITS || (details?.publicExponent ?? MAX_PROOF_RSA_EXPONENT) >= MAX_PROOF_RSA_EXPONENT) return undefined;
  }
  return Object.freeze({ kid: undefined, algorithms: new Set([alg]), key, ed25519: ed25519Bytes(key) });
}

/**
 * Verifies a JWS signature. Ed25519 goes through libsodium when its binding loads, on the calling
 * thread: about 55 µs against 120 µs for `node:crypto` (OpenSSL's 32-bit field arithmetic), which
 * is less than handing the check to another thread and back costs in all. Every other algorithm
 * (and Ed25519 without libsodium) is verified with `node:crypto` on libuv's thread pool, beside
 * the event loop.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7515#section-5.2 RFC 7515 §5.2}
 */
export function verifySignature(
  verificationKey: VerificationKey,
  alg: string,
  signingInput: Buffer,
  signature: Buffer,
): Promise<boolean> {
  const profile = PROFILES[alg];
  if (profile === undefined || !verificationKey.algorithms.has(alg)) return Promise.resolve(false);
  if (verificationKey.ed25519 !== undefined && sodium !== null) {
    return Promise.resolve(
      signature.length === ED25519_SIGNATURE_BYTES && sodium.crypto_sign_verify_detached(signature, signingInput, verificationKey.ed25519),
    );
  }
  const key = verificationKey.key;
  const keyInput =
    profile.kty === 'EC'
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : profile.pss === true
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
        : key;
  return new Promise((resolve) => {
    try {
      verifyAsync(profile.digest, signingInput, keyInput, signature, resolve);
    } catch {
      resolve(false);
    }
  });
}

function verifyAsync(
  digest: string | null,
  data: Buffer,
  key: Parameters<typeof cryptoVerify>[2],
  signature: Buffer,
  resolve: (ok: boolean) => void,
): void {
  cryptoVerify(digest, data, key, signature, (error, ok) => resolve(error === null && ok));
}
