/**
 * The issuer's signing keys: fetched once, cached, refreshed when a token names a key we do not have
 * (key rotation), but at most once per cooldown so that a flood of tokens with made-up `kid`s cannot
 * turn the guard into a load generator against the issuer.
 *
 * @module
 */
import { InvalidTokenError, VerifierUnavailableError } from './errors.js';
import { fetchJsonObject, type FetchJsonOptions } from './lib/fetch-json.js';
import { importVerificationKey, type VerificationKey } from './lib/keys.js';

/** A JSON Web Key Set (RFC 7517 §5). */
export interface JSONWebKeySet {
  keys: readonly Record<string, unknown>[];
}

/**
 * Where keys come from: the issuer's JWKS URL, a fixed set, or a function returning the current set
 * (for a process that holds the keys itself, such as the AntPeer server's gateway).
 */
export type KeySetSource = string | URL | JSONWebKeySet | (() => JSONWebKeySet | Promise<JSONWebKeySet>);

/** Options of {@link createKeySet}; durations in seconds. */
export interface KeySetOptions {
  /** Least time between two refetches caused by unknown `kid`s or failures. Default 10. */
  cooldown?: number;
  /** Refetch a set older than this on the next verification (to drop retired keys). Default 600. */
  maxAge?: number;
  /** Epoch milliseconds now; injected in tests. Default `Date.now`. */
  clock?: () => number;
  /** How to fetch a JWKS URL (an already validated URL). Default `globalThis.fetch`, 5 s timeout. */
  http?: FetchJsonOptions;
}

/** The issuer's verification keys, as the verifier sees them. */
export interface KeySet {
  /**
   * The key for a JWS header: by `kid`, or the only key allowing `alg` when the header has no `kid`.
   * Throws {@link InvalidTokenError} (`key_unknown`, `algorithm`), or {@link VerifierUnavailableError}
   * when no key set was ever obtained.
   */
  getKey(kid: string | undefined, alg: string): Promise<VerificationKey>;
  /** Fetches the set now (single flight); rejects when that fails. */
  refresh(): Promise<void>;
  /** How many times the set was loaded from its source (for tests and metrics). */
  readonly loads: number;
}

type Loader = () => Promise<unknown>;

function keySetLoader(source: KeySetSource, http: FetchJsonOptions | undefined): { load: Loader; refetchable: boolean } {
  if (typeof source === 'function') return { load: async () => source(), refetchable: true };
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source);
    const options = http ?? { fetch: globalThis.fetch, timeout: 5 };
    return { load: () => fetchJsonObject(url, options), refetchable: true };
  }
  if (typeof source === 'object' && source !== null && Array.isArray(source.keys)) {
    const fixed = source;
    return { load: async () => fixed, refetchable: false };
  }
  throw new TypeError('jwks must be a URL, a JSON Web Key Set or a function returning one');
}

function importKeySet(value: unknown): { byKid: Map<string, VerificationKey>; all: VerificationKey[] } {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as JSONWebKeySet).keys)) {
    throw new VerifierUnavailableError('the JWKS is not a JSON Web Key Set');
  }
  const all: VerificationKey[] = [];
  const byKid = new Map<string, VerificationKey>();
  for (const jwk of (value as JSONWebKeySet).keys) {
    const key = importVerificationKey(jwk);
    if (key === undefined) continue;
    all.push(key);
    // A duplicated kid keeps its first key: a later member cannot shadow it.
    if (key.kid !== undefined && !byKid.has(key.kid)) byKid.set(key.kid, key);
  }
  return { byKid, all };
}

/**
 * Creates the cached, rotation-aware view of an issuer's keys.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7517#section-5 RFC 7517 §5}
 * @see {@link https://www.rfc-editor.org/rfc/rfc8414#section-2 RFC 8414 §2 (`jwks_uri`)}
 */
export function createKeySet(source: KeySetSource, options: KeySetOptions = {}): KeySet {
  const { load, refetchable } = keySetLoader(source, options.http);
  const clock = options.clock ?? Date.now;
  const cooldownMs = (options.cooldown ?? 10) * 1000;
  const maxAgeMs = (options.maxAge ?? 600) * 1000;
  let keys: ReturnType<typeof importKeySet> | undefined;
  let loadedAt = 0;
  let nextAttemptAt = 0;
  let lastKidRefetchAt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;
  let loads = 0;

  function fetchSet(): Promise<void> {
    inflight ??= (async () => {
      try {
        loads += 1;
        const value = await load();
        keys = importKeySet(value);
        loadedAt = clock();
        nextAttemptAt = 0;
      } catch (error) {
        nextAttemptAt = clock() + cooldownMs;
        throw error instanceof VerifierUnavailableError
          ? error
          : new VerifierUnavailableError('loading the JWKS failed', { cause: error });
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  /** A failed refresh of a set we already hold keeps the old keys; the cooldown paces retries. */
  async function tryRefresh(): Promise<void> {
    try {
      await fetchSet();
    } catch {
      // keep the keys we have
    }
  }

  function find(kid: string | undefined, alg: string): VerificationKey | undefined {
    if (keys === undefined) return undefined;
    if (kid !== undefined) return keys.byKid.get(kid);
    const candidates = keys.all.filter((key) => key.algorithms.has(alg));
    return candidates.length === 1 ? candidates[0] : undefined;
  }

  async function ensureLoaded(): Promise<void> {
    if (inflight !== undefined) {
      await (keys === undefined ? inflight : tryRefresh());
      return;
    }
    const now = clock();
    if (keys === undefined) {
      if (now < nextAttemptAt) throw new VerifierUnavailableError('the JWKS is not available yet');
      await fetchSet();
    } else if (refetchable && now - loadedAt >= maxAgeMs && now >= nextAttemptAt) {
      await tryRefresh();
    }
  }

  return {
    get loads() {
      return loads;
    },
    refresh: fetchSet,
    async getKey(kid, alg) {
      await ensureLoaded();
      let key = find(kid, alg);
      if (key === undefined && refetchable) {
        const now = clock();
        if (inflight !== undefined) {
          await tryRefresh();
        } else if (now - lastKidRefetchAt >= cooldownMs && now >= nextAttemptAt) {
          lastKidRefetchAt = now;
          await tryRefresh();
        }
        key = find(kid, alg);
      }
      if (key === undefined) throw new InvalidTokenError('key_unknown', 'no published key matches the token');
      if (!key.algorithms.has(alg)) throw new InvalidTokenError('algorithm', `the key does not allow ${alg}`);
      return key;
    },
  };
}
