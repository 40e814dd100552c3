import { systemClock, type Clock } from './clock.js';
import { AntPeerClientError, ClosedError, RefreshTokenRejectedError } from './errors.js';
import type { TokenManagerEvents, TokenManagerListener, TokenOperation } from './events.js';
import { createAuthorizedFetch } from './fetch.js';
import { backoffDelay, type BackoffSettings } from './lib/backoff.js';
import { raceSignal, sleep } from './lib/sleep.js';
import { requestLogout, requestToken, type EndpointContext, type GrantBody } from './lib/token-endpoint.js';
import { isAccessTokenUsable, isRefreshTokenUsable, toTokenSet, type RefreshTiming } from './lib/token-set.js';
import { MemoryTokenStore } from './stores/memory.js';
import { isTokenSet, type TokenSet, type TokenStore } from './stores/token-store.js';

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
  /** Deadline for one request to the token service, body included; default 10 000 ms. */
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
   * below honours it). Default `{ attempts: 4, baseDelayMs: 250, maxDelayMs: 10_000 }`.
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
}

/** Options of calls that may wait for a token. */
export interface WaitOptions {
  /** Stop waiting when this aborts (the shared token request itself goes on for other callers). */
  signal?: AbortSignal;
}

interface ResolvedOptions extends RefreshTiming {
  tokenUrl: string;
  logoutUrl: string;
  apiBase: URL;
  trustedOrigins: ReadonlySet<string>;
  username: string;
  password: string | (() => string | Promise<string>);
  storeKey: string;
  requestTimeoutMs: number;
  retry: BackoffSettings & { attempts: number };
  failureBackoff: BackoffSettings;
  authFailureBackoff: BackoffSettings;
  scheduleRefresh: boolean;
}

interface FailureState {
  error: AntPeerClientError;
  until: number;
  count: number;
}

/**
 * A second 401 `invalid_token` within this time after a token was replaced because of one does not
 * replace the token again: a resource server that refuses every token must not cause a refresh
 * per request.
 */
const FORCED_REFRESH_MIN_INTERVAL_MS = 10_000;

/**
 * Keeps a valid AntPeer access token (RFC 6749 password and refresh grants, as the AntPeer
 * "Security Requirement" page describes them) and sends it with requests (RFC 6750 §2.1).
 *
 * - {@link TokenManager.getAccessToken} returns a valid token, logging in or refreshing when needed.
 *   Refreshes ahead of expiry in the background, at one token request per manager at most, however
 *   many callers wait, and only one process at a time when processes share a store.
 * - {@link TokenManager.fetch} is `fetch` with the `Authorization` header added; a 401
 *   `invalid_token` gets one refresh and one retry.
 * - {@link TokenManager.logout} ends the session; {@link TokenManager.close} stops the manager.
 *
 * Network errors, timeouts, 5xx and 429 never cause a new login: they are retried with back-off
 * while the current access token keeps being used. A refused refresh token causes one login.
 */
export class TokenManager {
  /**
   * `fetch` with `Authorization: Bearer <token>` added. A relative URL is resolved under `baseUrl`
   * (`manager.fetch('accounts')` → `{baseUrl}/accounts`). A 401 with `WWW-Authenticate: Bearer
   * error="invalid_token"` (RFC 6750 §3.1) gets one forced refresh and one retry, never more, and no
   * retry when the body is a stream that cannot be sent twice. Bound: pass it around freely.
   */
  readonly fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

  readonly #options: ResolvedOptions;
  readonly #store: TokenStore;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #endpoint: EndpointContext;
  readonly #closeController = new AbortController();
  readonly #listeners = new Map<keyof TokenManagerEvents, Set<(event: never) => void>>();

  #tokenSet: TokenSet | undefined;
  #loading: Promise<void> | undefined;
  #inflight: Promise<TokenSet> | undefined;
  /** Token operations and logouts run one after the other, in order. */
  #queue: Promise<unknown> = Promise.resolve();
  #failure: FailureState | undefined;
  #replacement: { rejected: string; at: number; promise: Promise<string | undefined> } | undefined;
  #cancelTimer: (() => void) | undefined;
  #lastPassword: string | undefined;
  #closing: Promise<void> | undefined;

  /** @throws TypeError when an option is missing or invalid. */
  constructor(options: TokenManagerOptions) {
    this.#options = resolveOptions(options);
    this.#store = options.store ?? new MemoryTokenStore();
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#endpoint = {
      fetch: fetchImpl,
      now: () => this.#clock.now(),
      requestTimeoutMs: this.#options.requestTimeoutMs,
      secrets: () => [this.#lastPassword, this.#tokenSet?.accessToken, this.#tokenSet?.refreshToken],
    };
    this.fetch = createAuthorizedFetch({
      fetch: fetchImpl,
      resolve: (input) => this.#resolveTarget(input),
      accessToken: (signal) => this.getAccessToken({ signal }),
      replaceRejected: (token, signal) => this.#replaceRejected(token, signal),
      onRetry: (status) => this.#emit('retry', { operation: 'request', attempt: 1, delayMs: 0, code: 'invalid_token', status }),
    });
  }

  /**
   * Returns an access token that is valid now: the current one, or a new one from a login or a
   * refresh when it is missing or about to expire. Concurrent callers share one token request.
   *
   * @throws {AuthenticationError} the credentials were refused (now or within the back-off period).
   * @throws {AntPeerClientError} no token could be obtained (`code` says why).
   */
  async getAccessToken(options: WaitOptions = {}): Promise<string> {
    return (await this.#validTokenSet(options.signal)).accessToken;
  }

  /**
   * Like {@link TokenManager.getAccessToken}, but returns the whole token set: refresh token, expiry
   * times, session id. A frozen copy.
   */
  async getTokenSet(options: WaitOptions = {}): Promise<Readonly<TokenSet>> {
    return Object.freeze({ ...(await this.#validTokenSet(options.signal)) });
  }

  /**
   * Ends the session: forgets the tokens here and in the store, and tells the server
   * (`POST {baseUrl}/auth/logout`), retrying transient failures. A later call logs in again.
   */
  async logout(options: WaitOptions = {}): Promise<void> {
    this.#assertOpen();
    const run = this.#queue.then(() => this.#runLogout());
    this.#queue = run.catch(() => undefined);
    await raceSignal(run, options.signal);
  }

  /**
   * Stops the manager: cancels its timer and any token request in flight (pending calls reject
   * with {@link ClosedError}), waits for a store lock to be released. Keeps the session in the
   * store for the next start; call {@link TokenManager.logout} first to end it. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#cancelTimer?.();
    this.#closeController.abort(new ClosedError());
    this.#closing = this.#queue.then(() => undefined);
    return this.#closing;
  }

  /**
   * Subscribes to an event (see {@link TokenManagerEvents}); returns a function that unsubscribes.
   * Events carry no password and no token.
   */
  on<K extends keyof TokenManagerEvents>(type: K, listener: TokenManagerListener<K>): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (event: never) => void);
    return () => void set.delete(listener as (event: never) => void);
  }

  #emit<K extends keyof TokenManagerEvents>(type: K, event: TokenManagerEvents[K]): void {
    for (const listener of this.#listeners.get(type) ?? []) {
      try {
        (listener as TokenManagerListener<K>)(event);
      } catch {
        // a listener's bug must not break token handling
      }
    }
  }

  #assertOpen(): void {
    if (this.#closeController.signal.aborted) throw this.#closeController.signal.reason;
  }

  async #validTokenSet(signal: AbortSignal | undefined, rejectedToken?: string): Promise<TokenSet> {
    this.#assertOpen();
    signal?.throwIfAborted();
    if (!this.#tokenSet) await raceSignal(this.#load(), signal);
    const now = this.#clock.now();
    const current = this.#tokenSet;
    if (current && current.accessToken !== rejectedToken && isAccessTokenUsable(current, now, this.#options)) {
      if (now >= current.refreshAt) this.#refreshInBackground();
      return current;
    }
    return raceSignal(this.#obtain(rejectedToken), signal);
  }

  /** Reads the store once, at the first call, so a restarted process keeps its session. */
  #load(): Promise<void> {
    this.#loading ??= this.#readStore().then((stored) => {
      if (stored && !this.#tokenSet) {
        this.#tokenSet = stored;
        this.#schedule();
      }
    });
    return this.#loading;
  }

  #refreshInBackground(): void {
    this.#obtain().catch(() => {
      // reported through the `failure` event; callers keep using the current token meanwhile
    });
  }

  /** The single flight: joins the token operation in progress, or starts one. */
  #obtain(rejectedToken?: string): Promise<TokenSet> {
    if (this.#inflight) return this.#inflight;
    const failure = this.#failure;
    if (failure && this.#clock.now() < failure.until) return Promise.reject(failure.error);
    const inflight = this.#queue
      .then(() => this.#runTokenOperation(rejectedToken))
      .finally(() => {
        if (this.#inflight === inflight) this.#inflight = undefined;
      });
    this.#inflight = inflight;
    this.#queue = inflight.catch(() => undefined);
    return inflight;
  }

  async #runTokenOperation(rejectedToken: string | undefined): Promise<TokenSet> {
    const signal = this.#closeController.signal;
    signal.throwIfAborted();
    const release = await this.#store.lock?.(this.#options.storeKey, signal);
    try {
      // Another process sharing the store may have done the work while we waited for the lock.
      const stored = await this.#readStore();
      const now = this.#clock.now();
      if (stored && stored.accessToken !== this.#tokenSet?.accessToken) {
        this.#tokenSet = stored;
        if (stored.accessToken !== rejectedToken && isAccessTokenUsable(stored, now, this.#options) && now < stored.refreshAt) {
          this.#emit('adopt', { expiresInSeconds: Math.round((stored.expiresAt - now) / 1000) });
          this.#succeeded();
          return stored;
        }
      }
      const previous = this.#tokenSet;
      let tokenSet: TokenSet;
      if (previous && isRefreshTokenUsable(previous, now, this.#options)) {
        try {
          tokenSet = await this.#grant('refresh', previous);
        } catch (error) {
          if (!(error instanceof RefreshTokenRejectedError)) throw error;
          this.#emit('failure', { operation: 'refresh', error });
          tokenSet = await this.#grant('login', undefined);
        }
      } else {
        tokenSet = await this.#grant('login', undefined);
      }
      this.#tokenSet = tokenSet;
      await this.#writeStore(tokenSet);
      this.#succeeded();
      return tokenSet;
    } catch (error) {
      if (!signal.aborted) this.#recordFailure(error);
      throw error;
    } finally {
      await release?.().catch((error: unknown) => this.#emit('failure', { operation: 'store', error: asError(error) }));
    }
  }

  async #grant(kind: 'login' | 'refresh', previous: TokenSet | undefined): Promise<TokenSet> {
    const started = this.#clock.now();
    let body: GrantBody;
    if (kind === 'refresh' && previous?.refreshToken) {
      body = { refresh_token: previous.refreshToken, grant_type: 'refresh_token' };
    } else {
      const password = typeof this.#options.password === 'function' ? await this.#options.password() : this.#options.password;
      if (typeof password !== 'string' || password.length === 0) {
        throw new TypeError('The password option gave no password');
      }
      this.#lastPassword = password;
      body = { username: this.#options.username, password };
    }
    const response = await this.#withRetries(kind, (signal) =>
      requestToken(this.#endpoint, this.#options.tokenUrl, body, signal),
    );
    const tokenSet = toTokenSet(response, previous, this.#options, this.#random);
    const event = {
      durationMs: this.#clock.now() - started,
      expiresInSeconds: Math.round((tokenSet.expiresAt - tokenSet.obtainedAt) / 1000),
      ...(tokenSet.serverSkewMs === undefined ? {} : { serverSkewMs: tokenSet.serverSkewMs }),
    };
    if (kind === 'login') this.#emit('login', event);
    else this.#emit('refresh', { ...event, rotated: response.refreshToken !== undefined });
    return tokenSet;
  }

  async #withRetries<T>(operation: TokenOperation, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.#closeController.signal;
    const { retry } = this.#options;
    for (let number = 1; ; number++) {
      try {
        return await attempt(signal);
      } catch (error) {
        if (!(error instanceof AntPeerClientError) || !error.retryable || number >= retry.attempts) throw error;
        if (error.retryAfterMs !== undefined && error.retryAfterMs > retry.maxDelayMs) throw error;
        const delayMs = Math.max(backoffDelay(retry, number, this.#random), error.retryAfterMs ?? 0);
        this.#emit('retry', {
          operation,
          attempt: number,
          delayMs,
          code: error.code,
          ...(error.status === undefined ? {} : { status: error.status }),
        });
        await sleep(this.#clock, delayMs, signal);
      }
    }
  }

  #succeeded(): void {
    this.#failure = undefined;
    this.#schedule();
  }

  #recordFailure(error: unknown): void {
    const operation: TokenOperation = this.#tokenSet?.refreshToken ? 'refresh' : 'login';
    if (!(error instanceof AntPeerClientError)) {
      this.#emit('failure', { operation, error: asError(error) });
      return;
    }
    const count = (this.#failure?.count ?? 0) + 1;
    const settings = error.retryable ? this.#options.failureBackoff : this.#options.authFailureBackoff;
    const now = this.#clock.now();
    const until = now + Math.max(backoffDelay(settings, count, this.#random), error.retryAfterMs ?? 0);
    error.retryAt = until;
    this.#failure = { error, until, count };
    this.#emit('failure', { operation: error.code === 'ERR_AUTHENTICATION' ? 'login' : operation, error });
    if (error.retryable) this.#schedule();
  }

  /** The timer is an optimisation only: every read checks validity itself. */
  #schedule(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const tokenSet = this.#tokenSet;
    if (!this.#options.scheduleRefresh || !tokenSet || this.#closeController.signal.aborted) return;
    const at = Math.max(tokenSet.refreshAt, this.#failure?.until ?? 0);
    this.#cancelTimer = this.#clock.setTimer(() => {
      this.#cancelTimer = undefined;
      if (!this.#closeController.signal.aborted) this.#refreshInBackground();
    }, at - this.#clock.now());
  }

  async #replaceRejected(token: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    const now = this.#clock.now();
    const current = this.#tokenSet;
    if (current && current.accessToken !== token && isAccessTokenUsable(current, now, this.#options)) {
      return current.accessToken;
    }
    const replacement = this.#replacement;
    if (replacement?.rejected === token) return raceSignal(replacement.promise, signal);
    if (replacement && now - replacement.at < FORCED_REFRESH_MIN_INTERVAL_MS) return undefined;
    const promise = this.#validTokenSet(undefined, token).then(
      (tokenSet) => tokenSet.accessToken,
      () => undefined,
    );
    this.#replacement = { rejected: token, at: now, promise };
    return raceSignal(promise, signal);
  }

  async #runLogout(): Promise<void> {
    const signal = this.#closeController.signal;
    signal.throwIfAborted();
    const release = await this.#store.lock?.(this.#options.storeKey, signal);
    try {
      const stored = await this.#readStore();
      const refreshToken = (stored ?? this.#tokenSet)?.refreshToken;
      this.#tokenSet = undefined;
      this.#failure = undefined;
      this.#cancelTimer?.();
      this.#cancelTimer = undefined;
      await this.#store.delete(this.#options.storeKey);
      if (refreshToken !== undefined) {
        const { logoutUrl } = this.#options;
        await this.#withRetries('logout', (attemptSignal) => requestLogout(this.#endpoint, logoutUrl, refreshToken, attemptSignal));
      }
      this.#emit('logout', {});
    } catch (error) {
      this.#emit('failure', { operation: 'logout', error: asError(error) });
      throw error;
    } finally {
      await release?.().catch((error: unknown) => this.#emit('failure', { operation: 'store', error: asError(error) }));
    }
  }

  async #readStore(): Promise<TokenSet | undefined> {
    let value: unknown;
    try {
      value = await this.#store.get(this.#options.storeKey);
    } catch (error) {
      this.#emit('failure', { operation: 'store', error: asError(error) });
      return undefined;
    }
    if (value === undefined || value === null) return undefined;
    if (isTokenSet(value)) return value;
    this.#emit('warning', { message: 'Ignoring a malformed token set in the store' });
    return undefined;
  }

  async #writeStore(tokenSet: TokenSet): Promise<void> {
    try {
      await this.#store.set(this.#options.storeKey, tokenSet);
    } catch (error) {
      // The token is good; keep using it here. Other processes will find out on their next refresh.
      this.#emit('failure', { operation: 'store', error: asError(error) });
    }
  }

  #resolveTarget(input: string | URL | Request): URL {
    const url = input instanceof Request ? new URL(input.url) : new URL(input, this.#options.apiBase);
    if (!this.#options.trustedOrigins.has(url.origin)) {
      throw new TypeError(`Refusing to send the access token to ${url.origin}: add it to trustedOrigins if it is meant to get it`);
    }
    return url;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function resolveOptions(options: TokenManagerOptions): ResolvedOptions {
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
  });
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
