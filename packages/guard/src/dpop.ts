/**
 * DPoP proofs (RFC 9449): the checks of §4.3 that a token endpoint and a resource server both make,
 * the JWK thumbprint a token is bound to (RFC 7638), and a replay cache for proof `jti`s.
 *
 * Signatures are checked with `node:crypto`, like access tokens: the package has no dependencies.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { InvalidDpopProofError, InvalidTokenError } from './errors.js';
import { decodeClaimsSet, parseCompactJws } from './lib/jws.js';
import { importProofKey, isSupportedAlgorithm, verifySignature, type VerificationKey } from './lib/keys.js';
import { LruCache } from './lib/lru.js';

/** The proof algorithms accepted when none are configured. */
export const DEFAULT_DPOP_ALGORITHMS: readonly string[] = Object.freeze(['EdDSA', 'Ed25519', 'ES256', 'PS256', 'RS256']);

/** Longest `DPoP` header accepted before any parsing, in characters (an RSA-4096 proof is ~1.5 KiB). */
const MAX_PROOF_LENGTH = 4096;
const MAX_JTI_LENGTH = 256;

/** What a proof must match: the request it came with and the acceptance rules. */
export interface DpopProofExpectations {
  /** The request's method, e.g. `POST`. */
  readonly method: string;
  /** The request's URI as this server sees it (query and fragment are ignored, RFC 9449 §4.3). */
  readonly url: string | URL;
  /** The access token the proof accompanies: its hash must be the proof's `ath` (resource servers). */
  readonly accessToken?: string;
  /** The allowed `alg` values. */
  readonly algorithms: readonly string[];
  /** Epoch milliseconds now. */
  readonly now: number;
  /** How old a proof's `iat` may be, in seconds. */
  readonly maxAge: number;
  /** Leeway for an `iat` ahead of the clock (and beyond `maxAge`), in seconds. */
  readonly clockTolerance: number;
  /**
   * Decides the proof's `nonce` claim (undefined when absent): `true` accepts it, `false` refuses
   * the proof with `use_dpop_nonce` (RFC 9449 §8). Leave out when no nonce is required.
   */
  readonly nonce?: (nonce: string | undefined) => boolean;
}

/** A proof that passed every check of RFC 9449 §4.3 but the replay check, which is the caller's. */
export interface DpopProof {
  /** The JWK SHA-256 thumbprint of the proof's key (RFC 7638): what `cnf.jkt` binds a token to. */
  readonly jkt: string;
  readonly jti: string;
  readonly alg: string;
  /** `iat`, epoch seconds. */
  readonly issuedAt: number;
  /** Epoch milliseconds after which the proof is too old to be accepted: how long to remember its `jti`. */
  readonly acceptableUntil: number;
}

/** The members of a public JWK a thumbprint covers, in the lexicographic order RFC 7638 §3.2 requires. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/**
 * The base64url SHA-256 JWK thumbprint of a public key (RFC 7638), as `cnf.jkt` carries it.
 * Throws `TypeError` for a JWK that is not an EC, OKP or RSA public key.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7638#section-3 RFC 7638 §3}
 * @see {@link https://www.rfc-editor.org/rfc/rfc9449#section-6.1 RFC 9449 §6.1}
 */
export function calculateJwkThumbprint(jwk: Readonly<Record<string, unknown>>): string {
  const members = typeof jwk.kty === 'string' ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (members === undefined) throw new TypeError('the JWK must be an EC, OKP or RSA public key');
  const canonical: Record<string, string> = {};
  for (const name of members) {
    const value = jwk[name];
    if (typeof value !== 'string') throw new TypeError(`the JWK has no ${name}`);
    canonical[name] = value;
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/**
 * The `ath` of a proof that accompanies `accessToken`: base64url SHA-256 of its ASCII.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9449#section-4.2 RFC 9449 §4.2}
 */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/**
 * Proof keys already imported, with their thumbprints, by `alg` and public members: a client signs
 * many proofs with one key, and importing a JWK costs more than verifying the signature.
 */
const proofKeys = new LruCache<string, { key: VerificationKey; jkt: string } | null>(1024);

function proofKeyOf(jwk: unknown, alg: string): { key: VerificationKey; jkt: string } | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return undefined;
  const member = jwk as Record<string, unknown>;
  const id = JSON.stringify([alg, member.kty, member.crv, member.x, member.y, member.n, member.e, member.alg, ...PRIVATE_MARKERS.map((name) => member[name] !== undefined)]);
  const cached = proofKeys.get(id);
  if (cached !== undefined) return cached ?? undefined;
  const key = importProofKey(jwk, alg);
  const entry = key === undefined ? null : { key, jkt: calculateJwkThumbprint(member) };
  proofKeys.set(id, entry);
  return entry ?? undefined;
}

/** Members whose presence makes a JWK private or symmetric; part of the cache key so such a JWK is never served a cached public key. */
const PRIVATE_MARKERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** `scheme://host[:port]/path` with scheme and host lower-cased and a default port dropped; null if unparsable. */
function normalizeUri(url: string | URL): string | null {
  try {
    const parsed = typeof url === 'string' ? new URL(url) : url;
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return null;
  }
}

/** Whether `url` is an absolute http(s) URL, as {@link verifyDpopProof} needs the request's URI to be. */
export function isHttpUrl(url: string | URL): boolean {
  return normalizeUri(url) !== null;
}

/** The one `DPoP` header of a request, or the reason there is not exactly one. */
function singleProof(header: string | readonly string[] | undefined): string {
  if (header === undefined) throw new InvalidDpopProofError('malformed', 'no DPoP header');
  if (typeof header !== 'string') {
    if (header.length !== 1 || typeof header[0] !== 'string') throw new InvalidDpopProofError('malformed', 'more than one DPoP header');
    return singleProof(header[0]);
  }
  if (header.length === 0 || header.length > MAX_PROOF_LENGTH) throw new InvalidDpopProofError('malformed', 'DPoP header empty or too long');
  return header;
}

function parseProof(proof: string): ReturnType<typeof parseCompactJws> {
  try {
    return parseCompactJws(proof);
  } catch (error) {
    if (error instanceof InvalidTokenError) {
      throw new InvalidDpopProofError(error.reason === 'unsigned' ? 'algorithm' : 'malformed', error.message, { cause: error });
    }
    throw error;
  }
}

function decodeClaims(payload: string): Record<string, unknown> {
  try {
    return decodeClaimsSet(payload);
  } catch (error) {
    throw new InvalidDpopProofError('malformed', 'the proof claims are not a JSON object', { cause: error });
  }
}

/**
 * Checks a DPoP proof (the value of the request's `DPoP` header, or the array some servers give for
 * repeated headers) against the request, in the order of RFC 9449 §4.3: exactly one header; a JWS
 * with `typ: dpop+jwt`; an allowed asymmetric `alg`; a public `jwk` for that `alg` that verifies the
 * signature; `jti`, `htm`, `htu` and `iat` present; `htm` and `htu` those of the request; `iat`
 * within the acceptance window; the nonce when one is required; and `ath` when an access token is
 * presented. Whether the `jti` was seen before is for the caller to check, in whatever store its
 * instances share.
 *
 * Rejects with {@link InvalidDpopProofError}; a `TypeError` only for bad expectations.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9449#section-4.3 RFC 9449 §4.3}
 */
export async function verifyDpopProof(header: string | readonly string[] | undefined, expect: DpopProofExpectations): Promise<DpopProof> {
  const expectedUri = normalizeUri(expect.url);
  if (expectedUri === null) throw new TypeError('url must be an absolute http(s) URL');
  const proof = singleProof(header);
  const jws = parseProof(proof);
  const { alg, typ, jwk } = jws.header;
  if (typ !== 'dpop+jwt') throw new InvalidDpopProofError('type', 'typ is not dpop+jwt');
  if (!expect.algorithms.includes(alg) || !isSupportedAlgorithm(alg)) throw new InvalidDpopProofError('algorithm', `alg ${alg} not allowed`);
  const proofKey = proofKeyOf(jwk, alg);
  if (proofKey === undefined) throw new InvalidDpopProofError('key', 'jwk is not a public key for alg');
  if (!(await verifySignature(proofKey.key, alg, jws.signingInput, jws.signature))) {
    throw new InvalidDpopProofError('signature', 'proof signature verification failed');
  }
  const claims = decodeClaims(jws.payload);
  const { jti, htm, htu, iat, ath, nonce } = claims;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw new InvalidDpopProofError('claims', 'bad jti');
  if (typeof htm !== 'string' || typeof htu !== 'string') throw new InvalidDpopProofError('claims', 'htm or htu missing');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new InvalidDpopProofError('claims', 'bad iat');
  if (htm !== expect.method) throw new InvalidDpopProofError('method', 'htm is not the request method');
  if (normalizeUri(htu) !== expectedUri) throw new InvalidDpopProofError('uri', 'htu is not the request URI');
  const now = expect.now / 1000;
  if (iat > now + expect.clockTolerance || iat < now - expect.maxAge - expect.clockTolerance) {
    throw new InvalidDpopProofError('stale', 'iat outside the acceptance window');
  }
  if (nonce !== undefined && typeof nonce !== 'string') throw new InvalidDpopProofError('claims', 'bad nonce');
  if (expect.nonce !== undefined && !expect.nonce(nonce)) throw new InvalidDpopProofError('nonce', 'nonce missing or not current');
  if (expect.accessToken !== undefined && ath !== accessTokenHash(expect.accessToken)) {
    throw new InvalidDpopProofError('token_hash', 'ath is not the hash of the access token');
  }
  return Object.freeze({
    jkt: proofKey.jkt,
    jti,
    alg,
    issuedAt: iat,
    acceptableUntil: Math.ceil((iat + expect.maxAge + expect.clockTolerance) * 1000),
  });
}

/**
 * Remembers the `jti`s of accepted proofs until they are too old to be accepted again. `remember`
 * answers `false` when the key was already remembered (a replay), `true` when it is new.
 */
export interface DpopReplayCache {
  remember(key: string, until: number, now: number): boolean | Promise<boolean>;
}

/**
 * A replay cache in this process's memory, holding at most `size` unexpired proofs (when full, the
 * proof that expires first is forgotten early). Replays are refused per instance: RFC 9449 §11.1
 * leaves sharing the cache between resource servers to the deployment.
 */
export function createDpopReplayCache(size = 100_000): DpopReplayCache {
  if (!Number.isSafeInteger(size) || size < 1) throw new TypeError('size must be a positive integer');
  const seen = new Map<string, number>();
  return {
    remember(key, until, now) {
      const known = seen.get(key);
      if (known !== undefined && known > now) return false;
      if (seen.size >= size) {
        // Expired entries go first (insertion order is roughly expiry order); then, if still full, the oldest.
        for (const [old, expiresAt] of seen) {
          if (expiresAt > now && seen.size < size) break;
          seen.delete(old);
        }
      }
      seen.delete(key);
      seen.set(key, until);
      return true;
    },
  };
}
