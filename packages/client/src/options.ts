/**
 * The options of {@link TokenManager}: what each one means, its default, and how it is checked.
 *
 * @module
 */
import { systemClock, type Clock } from './clock.js';
import type { BackoffSettings } from './lib/backoff.js';
import type { DpopAlgorithm } from './lib/dpop.js';
import type { RefreshTiming } from './lib/token-set.js';
import { MemoryTokenStore } from './stores/memory.js';
import type { TokenStore } from './stores/token-store.js';

/** Options of {@link TokenManager}. Only `baseUrl`, `username` and `password` are required. */
export interface TokenManagerOptions {
  /**
   * The API's base URL, e.g. `https://demo.etranzact.com/bankit-api/antPeer/v1`. The token endpoint
   * is `{baseUrl}/auth/token`. Must be `https:` unless the host is loopback (see
   * {@link TokenManagerOptions.dangerouslyAllowInsecureHttp}).
   */
  baseUrl: string | URL;
  /** The client application's username. */
  username: string;
  /**
   * The client application's password, or a function that returns it (called at each login, so a
   * rotated secret is picked up). Never stored, logged, or put in an error.
   */
  password: string | (() => string | Promise<string>);
  /** Where the tokens live; default a new {@link MemoryTokenStore}. Share a file store across processes. */
  store?: TokenStore;
  /** The key of this session in the store; default `{baseUrl} {username}`. */
  storeKey?: string;
  /** The `fetch` to use for every request; default the global one. */
  fetch?: typeof globalThis.fetch;
  /**
   * The longest any call waits: for a token (a login or a refresh with every retry and back-off in
   * it, or the store), or for a logout; then it rejects with a `TimeoutError`. A token
   * operation stops retrying when its next attempt would start past this time. Each call has its
   * own deadline, also when it joins a token request already in flight; a caller's `AbortSignal`
   * ends the wait sooner. Default 15 000 ms.
   */
  deadlineMs?: number;
  /** Deadline for one request to the token service, body included (cut short by `deadlineMs`); default 10 000 ms. */
  requestTimeoutMs?: number;
  /** Refresh once this share of the access token's lifetime has passed; default 0.8. */
  refreshRatio?: number;
  /** Refresh up to this share of the lifetime earlier, at random; default 0.1 (so 70–80 %). */
  refreshJitter?: number;
  /** Never send a token this close to its expiry (capped at a quarter of its lifetime); default 10 000 ms. */
  expiryMarginMs?: number;
  /**
   * Retries of one token operation after a network error, a timeout, a 5xx or a 429: at most
   * `attempts` requests, waiting an exponential back-off with jitter in between, never less than a
   * `Retry-After`. A `Retry-After` longer than `maxDelayMs` ends the operation (and the back-off
   * below honours it), and so does a wait that would end past `deadlineMs`. Default
   * `{ attempts: 4, baseDelayMs: 250, maxDelayMs: 10_000 }`.
   */
  retry?: Partial<BackoffSettings & { attempts: number }>;
  /**
   * After a token operation failed for a transient reason, calls that need a new token fail fast
   * with the same error for this back-off (growing with consecutive failures); calls are served
   * from the current token while it is valid. Default `{ baseDelayMs: 1_000, maxDelayMs: 30_000 }`.
   */
  failureBackoff?: Partial<BackoffSettings>;
  /**
   * After the server refused the credentials (or the request), calls fail fast with the same
   * {@link AuthenticationError} for this back-off instead of trying again and tripping the server's
   * lockout. Default `{ baseDelayMs: 5_000, maxDelayMs: 300_000 }`.
   */
  authFailureBackoff?: Partial<BackoffSettings>;
  /**
   * Set a timer (unref'd) to refresh ahead of expiry even when no call comes; default true.
   * Without it, the first call past the refresh point starts the refresh in the background.
   */
  scheduleRefresh?: boolean;
  /**
   * Origins (besides the base URL's) that {@link TokenManager.fetch} may send the access token to.
   * A request to any other origin is refused with a `TypeError`, so the token cannot leak.
   */
  trustedOrigins?: Iterable<string>;
  /** The clock; default {@link systemClock}. Tests inject a fake one. */
  clock?: Clock;
  /** Randomness for jitter, in [0, 1); default `Math.random`. */
  random?: () => number;
  /** Allow a plain `http:` base URL on a non-loopback host. Sends the password in clear text. */
  dangerouslyAllowInsecureHttp?: boolean;
  /**
   * Sender-constrained tokens (DPoP, RFC 9449): each login makes a new key (WebCrypto, its private
   * half non-extractable), proves it on every token request and, through {@link TokenManager.fetch},
   * on every API call; a token copied elsewhere is useless without the key. `true` for the defaults.
   * A server that does not support DPoP answers with bearer tokens, which are then used as such.
   */
  dpop?: boolean | DpopOptions;
}

/** Options of DPoP (RFC 9449). */
export interface DpopOptions {
  /** The proof algorithm: `EdDSA` (Ed25519) or `ES256` (P-256). Default `ES256`, which every WebCrypto has. */
  algorithm?: DpopAlgorithm;
  /**
   * Keep the key in the store with the tokens, so another process sharing the store, or this one
   * after a restart, can use the session. Default: true for a store given in `store` other than a
   * {@link MemoryTokenStore}; false otherwise (the key then never leaves this process's memory).
   */
  persistKey?: boolean;
}

/** The options after {@link resolveOptions}: validated, defaults filled in, frozen. */
export interface ResolvedOptions extends RefreshTiming {
  tokenUrl: string;
  logoutUrl: string;
  apiBase: URL;
  trustedOrigins: ReadonlySet<string>;
  username: string;
  password: string | (() => string | Promise<string>);
  storeKey: string;
  deadlineMs: number;
  requestTimeoutMs: number;
  retry: BackoffSettings & { attempts: number };
  failureBackoff: BackoffSettings;
  authFailureBackoff: BackoffSettings;
  scheduleRefresh: boolean;
  store: TokenStore;
  clock: Clock;
  random: () => number;
  fetch: typeof globalThis.fetch;
  dpop: { algorithm: DpopAlgorithm; persistKey: boolean } | null;
}


/**
 * Validates the options once and fills in the defaults.
 *
 * @throws TypeError naming the first option that is missing or invalid.
 */
export function resolveOptions(options: TokenManagerOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') throw new TypeError('TokenManager needs an options object');
  const base = parseBaseUrl(options.baseUrl, options.dangerouslyAllowInsecureHttp === true);
  if (typeof options.username !== 'string' || options.username.length === 0) {
    throw new TypeError('username must be a non-empty string');
  }
  const { password } = options;
  if (!(typeof password === 'function' || (typeof password === 'string' && password.length > 0))) {
    throw new TypeError('password must be a non-empty string or a function that returns one');
  }
  const baseHref = base.href.replace(/\/+$/, '');
  const trustedOrigins = new Set([base.origin]);
  for (const origin of options.trustedOrigins ?? []) trustedOrigins.add(new URL(origin).origin);
  const retry = options.retry ?? {};
  return Object.freeze({
    tokenUrl: `${baseHref}/auth/token`,
    logoutUrl: `${baseHref}/auth/logout`,
    apiBase: new URL(`${baseHref}/`),
    trustedOrigins,
    username: options.username,
    password,
    storeKey: options.storeKey ?? `${baseHref} ${options.username}`,
    deadlineMs: positive('deadlineMs', options.deadlineMs, 15_000),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 10_000),
    refreshRatio: share('refreshRatio', options.refreshRatio, 0.8),
    refreshJitter: share('refreshJitter', options.refreshJitter, 0.1),
    expiryMarginMs: nonNegative('expiryMarginMs', options.expiryMarginMs, 10_000),
    retry: {
      attempts: Math.floor(positive('retry.attempts', retry.attempts, 4)),
      ...backoffSettings('retry', retry, 250, 10_000),
    },
    failureBackoff: backoffSettings('failureBackoff', options.failureBackoff, 1_000, 30_000),
    authFailureBackoff: backoffSettings('authFailureBackoff', options.authFailureBackoff, 5_000, 300_000),
    scheduleRefresh: options.scheduleRefresh ?? true,
    store: options.store ?? new MemoryTokenStore(),
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    dpop: dpopOptions(options),
  });
}

function dpopOptions(options: TokenManagerOptions): ResolvedOptions['dpop'] {
  const { dpop } = options;
  if (dpop === undefined || dpop === false) return null;
  if (dpop !== true && (typeof dpop !== 'object' || dpop === null)) throw new TypeError('dpop must be true, false or an options object');
  const settings = dpop === true ? {} : dpop;
  const algorithm = settings.algorithm ?? 'ES256';
  if (algorithm !== 'ES256' && algorithm !== 'EdDSA') throw new TypeError('dpop.algorithm must be ES256 or EdDSA');
  const persistKey = settings.persistKey ?? (options.store !== undefined && !(options.store instanceof MemoryTokenStore));
  return Object.freeze({ algorithm, persistKey });
}

function parseBaseUrl(value: string | URL, allowInsecure: boolean): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new TypeError('baseUrl must be an absolute URL, e.g. https://demo.etranzact.com/bankit-api/antPeer/v1');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('baseUrl must be an http(s) URL');
  if (url.username || url.password) throw new TypeError('baseUrl must not contain credentials');
  if (url.search || url.hash) throw new TypeError('baseUrl must not have a query or a fragment');
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    if (!allowInsecure) {
      throw new TypeError('baseUrl must be https: (plain http would send the password in clear text); see dangerouslyAllowInsecureHttp');
    }
    console.warn(`[@antpeer/client] dangerouslyAllowInsecureHttp: sending credentials and tokens in clear text to ${url.origin}`);
  }
  return url;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function backoffSettings(name: string, value: Partial<BackoffSettings> | undefined, base: number, max: number): BackoffSettings {
  const baseDelayMs = nonNegative(`${name}.baseDelayMs`, value?.baseDelayMs, base);
  const maxDelayMs = nonNegative(`${name}.maxDelayMs`, value?.maxDelayMs, Math.max(max, baseDelayMs));
  if (maxDelayMs < baseDelayMs) throw new TypeError(`${name}.maxDelayMs must not be less than ${name}.baseDelayMs`);
  return { baseDelayMs, maxDelayMs };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number`);
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number`);
  return value;
}

function share(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new TypeError(`${name} must be a number from 0 to 1`);
  return value;
}
