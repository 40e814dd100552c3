/**
 * The framework-free verifier: an AntPeer access token in, a verified {@link Identity} out, or an
 * {@link InvalidTokenError} carrying the RFC 6750 code.
 *
 * Signatures are checked with `node:crypto` on the thread pool rather than through WebCrypto: on the
 * guard's hot path (a new token on every request) that is about 1.8× the throughput, measured by
 * `npm run bench:guard`.
 *
 * @module
 */
import { createDpopReplayCache, DEFAULT_DPOP_ALGORITHMS, isHttpUrl, verifyDpopProof, type DpopReplayCache } from './dpop.js';
import { InvalidDpopProofError, InvalidTokenError } from './errors.js';
import { createKeySet, type KeySet, type KeySetSource } from './jwks.js';
import { deepFreeze, validateClaims } from './lib/claims.js';
import { checkIssuerUrl, type FetchJsonOptions } from './lib/fetch-json.js';
import { kPeek } from './lib/internal.js';
import { decodeClaimsSet, parseCompactJws } from './lib/jws.js';
import { isSupportedAlgorithm, verifySignature } from './lib/keys.js';
import { LruCache } from './lib/lru.js';
import { NotBeforePolicy, type PolicySource } from './lib/not-before-policy.js';

/**
 * The claims of an AntPeer access token (RFC 9068 §2.2), as signed by the issuer.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9068#section-2.2 RFC 9068 §2.2}
 */
export interface AccessTokenClaims {
  readonly iss: string;
  /** The user id. */
  readonly sub: string;
  readonly aud: string | readonly string[];
  readonly exp: number;
  readonly iat: number;
  readonly nbf?: number;
  readonly jti: string;
  /** The client application's username. */
  readonly client_id: string;
  /** The session id. */
  readonly sid?: string;
  readonly [claim: string]: unknown;
}

/** Who a verified access token speaks for; deeply frozen, shared by every request with the token. */
export interface Identity {
  /** The `sub` claim: the user id. */
  readonly subject: string;
  /** The `client_id` claim: the client application's username. */
  readonly username: string;
  /** The `sid` claim: the session the token belongs to. */
  readonly sessionId: string | undefined;
  /** The `jti` claim. */
  readonly tokenId: string;
  /** `iat`, epoch seconds. */
  readonly issuedAt: number;
  /** `exp`, epoch seconds. */
  readonly expiresAt: number;
  /** Every claim of the token, as signed. */
  readonly claims: AccessTokenClaims;
}

/** Options of {@link createVerifier}. Durations are in seconds. */
export interface VerifierOptions {
  /** The issuer, exactly as tokens carry it in `iss`: e.g. `https://api.example/bankit-api/antPeer/v1`. */
  issuer: string;
  /** The audience(s) this service accepts in `aud`. */
  audience: string | readonly string[];
  /**
   * Where the signing keys come from: a JWKS URL, a fixed JWKS, or a function returning the current
   * JWKS. Default: `{issuer}/auth/certs`.
   */
  jwks?: KeySetSource;
  /**
   * Where the not-before policy comes from: the issuer's RFC 8414 metadata URL (its
   * `not_before_policy` member), a function returning epoch seconds, or `false` for none (then a
   * token revoked by policy stays valid until it expires). Default:
   * `{issuer}/.well-known/oauth-authorization-server`.
   */
  notBeforePolicy?: string | URL | (() => number | Promise<number>) | false;
  /** How often the not-before policy is re-read, at the latest. Default 30. */
  policyRefreshInterval?: number;
  /** Least time between two JWKS refetches triggered by unknown `kid`s or failures. Default 10. */
  jwksCooldown?: number;
  /** Refetch a JWKS older than this (drops retired keys). Default 600. */
  jwksMaxAge?: number;
  /** Leeway for `exp`, `iat` and `nbf` against clock skew. Default 5, at most 300. */
  clockTolerance?: number;
  /**
   * Leeway for an `iat` ahead of the clock, when it must differ from `clockTolerance` (an issuer
   * that stamps tokens with a not-before policy's whole second may be up to 1 s ahead). Default
   * `clockTolerance`, at most 300.
   */
  iatTolerance?: number;
  /** How many verified tokens to remember (LRU); 0 disables the cache. Default 10000. */
  cacheSize?: number;
  /** Longest token accepted before any parsing, in characters. Default 8192. */
  maxTokenLength?: number;
  /** Timeout of each request to the issuer. Default 5. */
  fetchTimeout?: number;
  /** Epoch milliseconds now. Default `Date.now`; tests inject a clock they advance. */
  clock?: () => number;
  /** The `fetch` used for keys and metadata. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Allow fetching keys and policy over plain `http:` from a non-loopback host. Warns once. */
  dangerouslyAllowInsecureHttp?: boolean;
  /** How DPoP proofs of sender-constrained tokens are checked (RFC 9449 §7). Always on. */
  dpop?: DpopOptions;
}

/** Options of DPoP proof checking. Durations are in seconds. */
export interface DpopOptions {
  /** The proof algorithms accepted. Default `EdDSA Ed25519 ES256 PS256 RS256` (`Ed25519` is the fully-specified name, RFC 9864). */
  algorithms?: readonly string[];
  /** How old a proof's `iat` may be. Default 60, at most 600. */
  proofMaxAge?: number;
  /** Leeway for a proof's `iat` against clock skew. Default the verifier's `clockTolerance`, at most 300. */
  clockTolerance?: number;
  /**
   * Where the `jti`s of accepted proofs are remembered: a cache size for one in this process's memory
   * (replays are then refused per instance, as RFC 9449 §11.1 allows), or a cache the caller shares
   * between instances. Default a 100000-entry memory cache.
   */
  replayCache?: number | DpopReplayCache;
}

/** The request a DPoP-bound token came with: what its proof must match. */
export interface PresentedRequest {
  /** The `DPoP` header (the array some servers give for repeated headers). */
  readonly dpop: string | readonly string[] | undefined;
  readonly method: string;
  /** The request's absolute URI as the client addressed it (behind a proxy: the public one). */
  readonly url: string | URL;
}

/** A verifier of AntPeer access tokens, made by {@link createVerifier}. */
export interface Verifier {
  /** The issuer the verifier accepts tokens from. */
  readonly issuer: string;
  /**
   * Verifies an access token (the bare JWT, without `Bearer `) and returns its identity. Rejects
   * with {@link InvalidTokenError} when the token is bad, or {@link VerifierUnavailableError} when the
   * issuer's keys or policy have never been obtained.
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc9068#section-4 RFC 9068 §4}
   */
  verify(token: string): Promise<Identity>;
  /**
   * Verifies an access token as presented with a request: a token with the `Bearer` scheme must not
   * be DPoP-bound; one with the `DPoP` scheme must be bound (`cnf.jkt`) and come with a valid,
   * unreplayed proof of its key for this request (RFC 9449 §7.1). Rejects with
   * {@link InvalidTokenError} or {@link InvalidDpopProofError}.
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc9449#section-7 RFC 9449 §7}
   */
  verifyPresented(scheme: 'Bearer' | 'DPoP', token: string, request: PresentedRequest | undefined): Promise<Identity>;
  /** The DPoP proof algorithms accepted, for the `algs` of a `DPoP` challenge. */
  readonly dpopAlgorithms: readonly string[];
  /** Fetches the keys and the not-before policy now; resolves once tokens can be verified. */
  ready(): Promise<void>;
  /** The not-before policy in force (epoch seconds; 0 = none). */
  readonly notBeforePolicy: number;
  /** Forgets every verified token. */
  clearCache(): void;
  /** @internal Synchronous cache lookup for the hot path of the plugin and middleware. */
  [kPeek](token: string): Identity | undefined;
}

/** A verified token, remembered under its signature (see `cacheKey`). */
interface CachedToken {
  readonly token: string;
  readonly identity: Identity;
  readonly expiresAt: number;
  readonly issuedAt: number;
}

function positiveSeconds(value: number | undefined, fallback: number, option: string, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new TypeError(`${option} must be a number of seconds between 0 and ${max}`);
  }
  return value;
}

/** The thumbprint a token is bound to (`cnf.jkt`, RFC 9449 §6.1), if any. */
export function boundKeyOf(identity: Identity): string | undefined {
  const cnf = identity.claims.cnf;
  if (typeof cnf !== 'object' || cnf === null) return undefined;
  const jkt = (cnf as Record<string, unknown>).jkt;
  return typeof jkt === 'string' ? jkt : undefined;
}

function toIdentity(claims: Record<string, unknown>): Identity {
  const frozen = deepFreeze(claims) as AccessTokenClaims;
  return Object.freeze({
    subject: frozen.sub,
    username: frozen.client_id,
    sessionId: frozen.sid,
    tokenId: frozen.jti,
    issuedAt: frozen.iat,
    expiresAt: frozen.exp,
    claims: frozen,
  });
}

/** Accepts `at+jwt` and `application/at+jwt`, case-insensitively (RFC 9068 §2.1, RFC 7515 §4.1.9). */
function checkTokenType(typ: unknown): void {
  if (typeof typ !== 'string') throw new InvalidTokenError('type', 'typ missing');
  const normalized = typ.toLowerCase();
  if (normalized !== 'at+jwt' && normalized !== 'application/at+jwt') {
    throw new InvalidTokenError('type', 'typ is not at+jwt');
  }
}

/**
 * Creates a verifier of AntPeer access tokens (RFC 9068 JWTs). It fetches the issuer's JWKS once and
 * caches it, refetching on an unknown `kid` at most once per `jwksCooldown`; re-reads the issuer's
 * not-before policy at most once per `policyRefreshInterval`, when a verification needs it (no
 * timers); and remembers up to `cacheSize` verified tokens until their `exp`, never past a newer
 * not-before policy, so a token seen again costs a map lookup instead of a signature check.
 *
 * Throws `TypeError` on a bad option.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9068 RFC 9068}
 * @see {@link https://www.rfc-editor.org/rfc/rfc8725 RFC 8725 (JWT best current practices)}
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const { issuer } = options;
  if (typeof issuer !== 'string' || issuer.length === 0) throw new TypeError('issuer must be a non-empty string');
  const audiences: readonly string[] = Object.freeze(
    typeof options.audience === 'string' ? [options.audience] : [...(options.audience ?? [])],
  );
  if (audiences.length === 0 || audiences.some((aud) => typeof aud !== 'string' || aud.length === 0)) {
    throw new TypeError('audience must be a non-empty string or array of non-empty strings');
  }
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') throw new TypeError('clock must be a function');
  const clockTolerance = positiveSeconds(options.clockTolerance, 5, 'clockTolerance', 300);
  const iatTolerance = positiveSeconds(options.iatTolerance, clockTolerance, 'iatTolerance', 300);
  const policyRefreshInterval = positiveSeconds(options.policyRefreshInterval, 30, 'policyRefreshInterval');
  const jwksCooldown = positiveSeconds(options.jwksCooldown, 10, 'jwksCooldown');
  const jwksMaxAge = positiveSeconds(options.jwksMaxAge, 600, 'jwksMaxAge');
  const fetchTimeout = positiveSeconds(options.fetchTimeout, 5, 'fetchTimeout');
  const cacheSize = options.cacheSize ?? 10_000;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) throw new TypeError('cacheSize must be a non-negative integer');
  const maxTokenLength = options.maxTokenLength ?? 8192;
  if (!Number.isSafeInteger(maxTokenLength) || maxTokenLength < 1) {
    throw new TypeError('maxTokenLength must be a positive integer');
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('fetch must be a function');
  const http: FetchJsonOptions = { fetch: fetchImpl, timeout: fetchTimeout };
  const insecure = options.dangerouslyAllowInsecureHttp === true;
  const base = issuer.replace(/\/+$/, '');

  let jwksSource: KeySetSource = options.jwks ?? `${base}/auth/certs`;
  if (typeof jwksSource === 'string' || jwksSource instanceof URL) jwksSource = checkIssuerUrl(jwksSource, 'jwks', insecure);
  const keySet: KeySet = createKeySet(jwksSource, { cooldown: jwksCooldown, maxAge: jwksMaxAge, clock, http });

  const policyOption = options.notBeforePolicy ?? `${base}/.well-known/oauth-authorization-server`;
  let policySource: PolicySource;
  if (policyOption === false) policySource = { kind: 'none' };
  else if (typeof policyOption === 'function') policySource = { kind: 'function', get: policyOption };
  else if (typeof policyOption === 'string' || policyOption instanceof URL) {
    policySource = { kind: 'metadata', url: checkIssuerUrl(policyOption, 'notBeforePolicy', insecure), issuer, http };
  } else {
    throw new TypeError('notBeforePolicy must be a metadata URL, a function or false');
  }
  const policy = new NotBeforePolicy(policySource, clock, policyRefreshInterval, jwksCooldown);
  const cache = new LruCache<string, CachedToken>(cacheSize);
  const dpopAlgorithms = Object.freeze([...(options.dpop?.algorithms ?? DEFAULT_DPOP_ALGORITHMS)]);
  if (dpopAlgorithms.length === 0 || dpopAlgorithms.some((alg) => typeof alg !== 'string' || alg.length === 0)) {
    throw new TypeError('dpop.algorithms must be a non-empty array of JWS algorithm names');
  }
  const proofMaxAge = positiveSeconds(options.dpop?.proofMaxAge, 60, 'dpop.proofMaxAge', 600);
  const proofTolerance = positiveSeconds(options.dpop?.clockTolerance, clockTolerance, 'dpop.clockTolerance', 300);
  const replayOption = options.dpop?.replayCache ?? 100_000;
  const replayCache: DpopReplayCache = typeof replayOption === 'number' ? createDpopReplayCache(replayOption) : replayOption;
  if (typeof replayCache?.remember !== 'function') throw new TypeError('dpop.replayCache must be a size or a DpopReplayCache');

  /**
   * Verified tokens are kept under their signature (the part after the last `.`), an eighth of the
   * token for the cache's map to hash on every request; the entry holds the whole token, which a
   * hit must equal. Only a verified token is ever kept, and no other token carries its signature.
   */
  function cacheKey(token: string): string {
    return token.slice(token.lastIndexOf('.') + 1);
  }

  /** A cached token is good while unexpired (no tolerance: the cache never stretches a token) and not revoked. */
  function lookUp(token: string, nowMs: number): Identity | undefined {
    const key = cacheKey(token);
    const entry = cache.get(key);
    if (entry === undefined || entry.token !== token) return undefined;
    if (entry.expiresAt * 1000 > nowMs && entry.issuedAt >= policy.value) return entry.identity;
    cache.delete(key);
    return undefined;
  }

  async function verifyUncached(token: string): Promise<Identity> {
    if (token.length > maxTokenLength) throw new InvalidTokenError('malformed', 'token too long');
    const jws = parseCompactJws(token);
    const { alg, kid, typ } = jws.header;
    if (!isSupportedAlgorithm(alg)) throw new InvalidTokenError('algorithm', `unsupported alg ${alg}`);
    checkTokenType(typ);
    const key = await keySet.getKey(kid, alg);
    if (!(await verifySignature(key, alg, jws.signingInput, jws.signature))) {
      throw new InvalidTokenError('signature', 'signature verification failed');
    }
    const claims = decodeClaimsSet(jws.payload);
    const nowMs = clock();
    validateClaims(claims, {
      issuer,
      audiences,
      now: Math.floor(nowMs / 1000),
      clockTolerance,
      iatTolerance,
      notBeforePolicy: policy.value,
    });
    const identity = toIdentity(claims);
    if (identity.expiresAt * 1000 > nowMs) {
      cache.set(cacheKey(token), { token, identity, expiresAt: identity.expiresAt, issuedAt: identity.issuedAt });
    }
    return identity;
  }

  async function verify(token: string): Promise<Identity> {
    if (typeof token !== 'string') throw new TypeError('token must be a string');
    if (clock() >= policy.dueAt || !policy.known) await policy.ensureFresh();
    return lookUp(token, clock()) ?? verifyUncached(token);
  }

  async function checkProof(identity: Identity, token: string, request: PresentedRequest | undefined): Promise<void> {
    const jkt = boundKeyOf(identity);
    if (jkt === undefined) throw new InvalidTokenError('dpop_unbound', 'a token without cnf.jkt presented with the DPoP scheme');
    if (request === undefined) throw new InvalidDpopProofError('malformed', 'no request to check the proof against');
    // Built from what the client or a proxy sent (Host, X-Forwarded-Proto), the request's URI may be
    // no URL at all: no proof can name it.
    if (!isHttpUrl(request.url)) throw new InvalidDpopProofError('uri', 'the request URI is not an absolute http(s) URL');
    const now = clock();
    const proof = await verifyDpopProof(request.dpop, {
      method: request.method,
      url: request.url,
      accessToken: token,
      algorithms: dpopAlgorithms,
      now,
      maxAge: proofMaxAge,
      clockTolerance: proofTolerance,
    });
    if (proof.jkt !== jkt) throw new InvalidDpopProofError('key_mismatch', 'the proof key is not the key the token is bound to');
    if (!(await replayCache.remember(`${proof.jkt}:${proof.jti}`, proof.acceptableUntil, now))) {
      throw new InvalidDpopProofError('replay', 'proof jti already used');
    }
  }

  return {
    issuer,
    dpopAlgorithms,
    verify,
    async verifyPresented(scheme, token, request) {
      let identity: Identity;
      try {
        identity = await verify(token);
      } catch (error) {
        // A client that used the DPoP scheme is answered in it (RFC 9449 §7.1), whatever is wrong with the token.
        if (scheme === 'DPoP' && error instanceof InvalidTokenError && error.scheme !== 'DPoP') {
          throw new InvalidTokenError(error.reason, error.message, { cause: error, scheme: 'DPoP' });
        }
        throw error;
      }
      if (scheme === 'DPoP') await checkProof(identity, token, request);
      else if (boundKeyOf(identity) !== undefined) {
        throw new InvalidTokenError('dpop_bound', 'a DPoP-bound token presented as a bearer token');
      }
      return identity;
    },
    get notBeforePolicy() {
      return policy.value;
    },
    async ready() {
      await Promise.all([policy.refreshNow().then(() => policy.ensureFresh()), keySet.refresh()]);
    },
    clearCache() {
      cache.clear();
    },
    [kPeek](token) {
      const nowMs = clock();
      return nowMs < policy.dueAt ? lookUp(token, nowMs) : undefined;
    },
  };
}
