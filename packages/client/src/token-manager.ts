import type { Clock } from './clock.js';
import { AntPeerClientError, ClosedError, RefreshTokenRejectedError, TimeoutError } from './errors.js';
import type { TokenManagerEvents, TokenManagerListener, TokenOperation } from './events.js';
import { createAuthorizedFetch } from './fetch.js';
import { backoffDelay } from './lib/backoff.js';
import { raceDeadline, raceSignal, sleep } from './lib/sleep.js';
import { DpopKey, type DpopKeyRecord } from './lib/dpop.js';
import { requestLogout, requestToken, type EndpointContext, type GrantBody, type RequestLimits, type TokenRequestDpop } from './lib/token-endpoint.js';
import { isAccessTokenUsable, isRefreshTokenUsable, toTokenSet } from './lib/token-set.js';
import { resolveOptions, type ResolvedOptions, type TokenManagerOptions } from './options.js';
import { isTokenSet, type TokenSet, type TokenStore } from './stores/token-store.js';

/** Options of calls that may wait for a token. */
export interface WaitOptions {
  /** Stop waiting when this aborts (the shared token request itself goes on for other callers). */
  signal?: AbortSignal;
}

/** A token operation failed: until `until`, calls that need a new token fail fast with `error`. */
interface FailureState {
  error: AntPeerClientError;
  until: number;
  /** Consecutive failures, from 1: the back-off grows with it. */
  count: number;
}

/**
 * Where the manager stands in getting a token. The token set itself is kept apart (`#tokenSet`):
 * calls are served from it in every phase while it is valid. The transitions:
 *
 * | from          | event                                                  | to            |
 * |---------------|--------------------------------------------------------|---------------|
 * | `unloaded`    | the first call                                         | `loading`     |
 * | `loading`     | the store was read                                     | `idle`        |
 * | `idle`        | a call or the timer needs a new token                  | `obtaining`   |
 * | `obtaining`   | a token was obtained or adopted from the store         | `idle`        |
 * | `obtaining`   | it failed with an {@link AntPeerClientError}           | `backing-off` |
 * | `obtaining`   | it failed otherwise (a bug, a bad password function)   | the phase before |
 * | `backing-off` | a call before `failure.until`                          | (fails fast with `failure.error`) |
 * | `backing-off` | a call or the timer from `failure.until` on            | `obtaining`, the failure count going on |
 * | `backing-off` | logout                                                 | `idle`        |
 * | any           | close                                                  | `closed`, for good |
 *
 * At most one operation is `obtaining` at a time: every caller that needs a token joins it.
 */
type Phase =
  | { name: 'unloaded' }
  | { name: 'loading'; loaded: Promise<void> }
  | { name: 'idle' }
  | { name: 'obtaining'; operation: Promise<TokenSet>; previousFailure: FailureState | undefined }
  | { name: 'backing-off'; failure: FailureState }
  | { name: 'closed'; closed: Promise<void> };

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

  /** The session's tokens, when there are some; kept in every phase. */
  #tokenSet: TokenSet | undefined;
  #phase: Phase = { name: 'unloaded' };
  /** Token operations and logouts run one after the other, in order. */
  #queue: Promise<unknown> = Promise.resolve();
  /** The last token replaced because a resource server refused it (see {@link FORCED_REFRESH_MIN_INTERVAL_MS}). */
  #replacement: { rejected: string; at: number; promise: Promise<string | undefined> } | undefined;
  #cancelTimer: (() => void) | undefined;
  /** The password of the last login, kept only to scrub it from error descriptions. */
  #lastPassword: string | undefined;
  /** DPoP keys by thumbprint: the current session's, and the previous one's while its token may be in use. */
  readonly #dpopKeys = new Map<string, DpopKey>();
  /** The latest `DPoP-Nonce` of each origin (RFC 9449 §8, §9). */
  readonly #dpopNonces = new Map<string, string>();
  /** The DPoP thumbprint of recent access tokens, so a request made with one presents it right. */
  readonly #boundTokens = new Map<string, string>();

  /** @throws TypeError when an option is missing or invalid. */
  constructor(options: TokenManagerOptions) {
    this.#options = resolveOptions(options);
    this.#store = this.#options.store;
    this.#clock = this.#options.clock;
    this.#random = this.#options.random;
    const fetchImpl = this.#options.fetch;
    this.#endpoint = {
      fetch: fetchImpl,
      now: () => this.#clock.now(),
      secrets: () => [this.#lastPassword, this.#tokenSet?.accessToken, this.#tokenSet?.refreshToken],
    };
    this.fetch = createAuthorizedFetch({
      fetch: fetchImpl,
      resolve: (input) => this.#resolveTarget(input),
      accessToken: (signal) => this.getAccessToken({ signal }),
      credentials: (token, method, url) => this.#credentials(token, method, url),
      onResponse: (url, response) => {
        const nonce = response.headers.get('dpop-nonce');
        if (nonce) this.#dpopNonces.set(url.origin, nonce);
      },
      replaceRejected: (token, signal) => this.#replaceRejected(token, signal),
      onRetry: (status) => this.#emit('retry', { operation: 'request', attempt: 1, delayMs: 0, code: 'invalid_token', status }),
    });
  }

  /**
   * Returns an access token that is valid now: the current one, or a new one from a login or a
   * refresh when it is missing or about to expire. Concurrent callers share one token request;
   * each waits at most `deadlineMs`, or until its `signal` aborts.
   *
   * @throws {AuthenticationError} the credentials were refused (now or within the back-off period).
   * @throws {TimeoutError} no token within `deadlineMs`.
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
   * Waits at most `deadlineMs`, or until `signal` aborts; the logout goes on in the background.
   */
  async logout(options: WaitOptions = {}): Promise<void> {
    this.#assertOpen();
    const run = this.#queue.then(() => this.#runLogout());
    this.#queue = run.catch(() => undefined);
    const { deadlineMs } = this.#options;
    await raceDeadline(run, deadlineMs, () => new TimeoutError(`The logout did not finish within ${deadlineMs} ms (deadlineMs)`), options.signal);
  }

  /**
   * Stops the manager: cancels its timer and any token request in flight (pending calls reject
   * with {@link ClosedError}), waits for a store lock to be released. Keeps the session in the
   * store for the next start; call {@link TokenManager.logout} first to end it. Idempotent.
   */
  close(): Promise<void> {
    if (this.#phase.name === 'closed') return this.#phase.closed;
    this.#cancelTimer?.();
    this.#closeController.abort(new ClosedError());
    this.#phase = { name: 'closed', closed: this.#queue.then(() => undefined) };
    return this.#phase.closed;
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

  /** Moves to `next`, unless the manager was closed meanwhile: `closed` is for good. */
  #enter(next: Phase): void {
    if (this.#phase.name !== 'closed') this.#phase = next;
  }

  async #validTokenSet(signal: AbortSignal | undefined, rejectedToken?: string): Promise<TokenSet> {
    this.#assertOpen();
    signal?.throwIfAborted();
    // The common case takes no timer: the current token is good.
    const current = this.#servable(rejectedToken);
    if (current) return current;
    const { deadlineMs } = this.#options;
    return raceDeadline(this.#loadOrObtain(rejectedToken), deadlineMs, () => new TimeoutError(`No access token within ${deadlineMs} ms (deadlineMs)`), signal);
  }

  async #loadOrObtain(rejectedToken: string | undefined): Promise<TokenSet> {
    if (!this.#tokenSet) await this.#load();
    return this.#servable(rejectedToken) ?? this.#obtain(rejectedToken);
  }

  /** The current token set when its access token can be handed out; starts a refresh when one is due. */
  #servable(rejectedToken: string | undefined): TokenSet | undefined {
    const now = this.#clock.now();
    const current = this.#tokenSet;
    if (!current || current.accessToken === rejectedToken || !isAccessTokenUsable(current, now, this.#options)) return undefined;
    if (now >= current.refreshAt) this.#refreshInBackground();
    return current;
  }

  /** Reads the store once, at the first call, so a restarted process keeps its session. */
  #load(): Promise<void> {
    const phase = this.#phase;
    if (phase.name === 'loading') return phase.loaded;
    if (phase.name !== 'unloaded') return Promise.resolve();
    const loaded = this.#readStore().then((stored) => {
      if (stored && !this.#tokenSet) {
        this.#tokenSet = stored;
        this.#schedule();
      }
      if (this.#phase.name === 'loading' && this.#phase.loaded === loaded) this.#enter({ name: 'idle' });
    });
    this.#phase = { name: 'loading', loaded };
    return loaded;
  }

  #refreshInBackground(): void {
    this.#obtain().catch(() => {
      // reported through the `failure` event; callers keep using the current token meanwhile
    });
  }

  /** The single flight: joins the token operation in progress, or starts one. */
  #obtain(rejectedToken?: string): Promise<TokenSet> {
    const phase = this.#phase;
    if (phase.name === 'obtaining') return phase.operation;
    if (phase.name === 'closed') return Promise.reject(this.#closeController.signal.reason);
    const previousFailure = phase.name === 'backing-off' ? phase.failure : undefined;
    if (previousFailure && this.#clock.now() < previousFailure.until) return Promise.reject(previousFailure.error);
    const operation: Promise<TokenSet> = this.#queue
      .then(() => this.#runTokenOperation(rejectedToken))
      .finally(() => {
        // #succeeded and #recordFailure move on from `obtaining`; an error they do not classify leaves it here.
        const after = this.#phase;
        if (after.name === 'obtaining' && after.operation === operation) {
          this.#enter(after.previousFailure ? { name: 'backing-off', failure: after.previousFailure } : { name: 'idle' });
        }
      });
    this.#phase = { name: 'obtaining', operation, previousFailure };
    this.#queue = operation.catch(() => undefined);
    return operation;
  }

  async #runTokenOperation(rejectedToken: string | undefined): Promise<TokenSet> {
    const signal = this.#closeController.signal;
    signal.throwIfAborted();
    const release = await this.#store.lock?.(this.#options.storeKey, signal);
    // The requests, retries and back-off of this operation fit in one deadline (callers have their own).
    const deadline = this.#clock.now() + this.#options.deadlineMs;
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
          tokenSet = await this.#grant('refresh', previous, deadline);
        } catch (error) {
          if (!(error instanceof RefreshTokenRejectedError)) throw error;
          this.#emit('failure', { operation: 'refresh', error });
          tokenSet = await this.#grant('login', undefined, deadline);
        }
      } else {
        tokenSet = await this.#grant('login', undefined, deadline);
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

  async #grant(kind: 'login' | 'refresh', previous: TokenSet | undefined, deadline: number): Promise<TokenSet> {
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
    const dpop = await this.#dpopForGrant(kind, previous);
    const response = await this.#withRetries(kind, deadline, (limits) =>
      requestToken(this.#endpoint, this.#options.tokenUrl, body, limits, dpop),
    );
    const tokenSet = toTokenSet(response, previous, this.#options, this.#random);
    if (dpop !== undefined && response.tokenType === 'dpop') this.#bind(tokenSet, dpop.key, kind === 'login' ? dpop.record : previous?.dpopKey);
    const event = {
      durationMs: this.#clock.now() - started,
      expiresInSeconds: Math.round((tokenSet.expiresAt - tokenSet.obtainedAt) / 1000),
      ...(tokenSet.serverSkewMs === undefined ? {} : { serverSkewMs: tokenSet.serverSkewMs }),
    };
    if (kind === 'login') this.#emit('login', event);
    else this.#emit('refresh', { ...event, rotated: response.refreshToken !== undefined });
    return tokenSet;
  }

  /**
   * The key a grant proves: a new one for a login (a session's key lives as long as the session),
   * the session's own for a refresh of a bound session. None for a refresh of a bearer session.
   * @throws {RefreshTokenRejectedError} when a bound session's key is not available here (a store
   *   that does not keep keys, shared with another process): a login starts a session of our own.
   */
  async #dpopForGrant(kind: 'login' | 'refresh', previous: TokenSet | undefined): Promise<(TokenRequestDpop & { record?: DpopKeyRecord }) | undefined> {
    const settings = this.#options.dpop;
    if (settings === null) return undefined;
    if (kind === 'login' || previous === undefined) {
      const { key, record } = await DpopKey.generate(settings.algorithm, settings.persistKey);
      return { key, nonces: this.#dpopNonces, ...(record === undefined ? {} : { record }) };
    }
    if (previous.dpopJkt === undefined) return undefined;
    const key = await this.#keyOf(previous);
    if (key === undefined) throw new RefreshTokenRejectedError('The DPoP key of the stored session is not available in this process');
    return { key, nonces: this.#dpopNonces };
  }

  async #keyOf(tokenSet: TokenSet): Promise<DpopKey | undefined> {
    const jkt = tokenSet.dpopJkt;
    if (jkt === undefined) return undefined;
    const known = this.#dpopKeys.get(jkt);
    if (known !== undefined || tokenSet.dpopKey === undefined) return known;
    const key = await DpopKey.fromRecord(tokenSet.dpopKey).catch(() => undefined);
    if (key?.jkt !== jkt) return undefined;
    this.#remember(this.#dpopKeys, jkt, key);
    return key;
  }

  #bind(tokenSet: TokenSet, key: DpopKey, record: DpopKeyRecord | undefined): void {
    tokenSet.dpopJkt = key.jkt;
    if (record !== undefined) tokenSet.dpopKey = record;
    this.#remember(this.#dpopKeys, key.jkt, key);
  }

  /** Keeps the two newest entries: a session's key and the previous one while its last token drains. */
  #remember<V>(map: Map<string, V>, name: string, value: V): void {
    map.delete(name);
    map.set(name, value);
    for (const old of map.keys()) {
      if (map.size <= 2) break;
      map.delete(old);
    }
  }

  async #credentials(token: string, method: string, url: URL): Promise<Record<string, string>> {
    const current = this.#tokenSet;
    if (current?.accessToken === token && current.dpopJkt !== undefined) this.#remember(this.#boundTokens, token, current.dpopJkt);
    const jkt = this.#boundTokens.get(token);
    const key = jkt === undefined ? undefined : (this.#dpopKeys.get(jkt) ?? (current?.dpopJkt === jkt ? await this.#keyOf(current) : undefined));
    if (key === undefined) return { authorization: `Bearer ${token}` };
    const nonce = this.#dpopNonces.get(url.origin);
    const proof = await key.proof({ htm: method, htu: url, accessToken: token, now: this.#clock.now(), ...(nonce === undefined ? {} : { nonce }) });
    return { authorization: `DPoP ${token}`, dpop: proof };
  }

  /**
   * Sends a request until it succeeds, fails for good, runs out of attempts, or until the next
   * attempt would start at or past `deadline` (clock time); each attempt's timeout ends there too.
   */
  async #withRetries<T>(operation: TokenOperation, deadline: number, attempt: (limits: RequestLimits) => Promise<T>): Promise<T> {
    const signal = this.#closeController.signal;
    const { retry, requestTimeoutMs } = this.#options;
    for (let number = 1; ; number++) {
      try {
        return await attempt({ signal, timeoutMs: Math.max(1, Math.min(requestTimeoutMs, deadline - this.#clock.now())) });
      } catch (error) {
        if (!(error instanceof AntPeerClientError) || !error.retryable || number >= retry.attempts) throw error;
        if (error.retryAfterMs !== undefined && error.retryAfterMs > retry.maxDelayMs) throw error;
        const delayMs = Math.max(backoffDelay(retry, number, this.#random), error.retryAfterMs ?? 0);
        if (this.#clock.now() + delayMs >= deadline) throw error;
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
    this.#enter({ name: 'idle' });
    this.#schedule();
  }

  #recordFailure(error: unknown): void {
    const operation: TokenOperation = this.#tokenSet?.refreshToken ? 'refresh' : 'login';
    if (!(error instanceof AntPeerClientError)) {
      this.#emit('failure', { operation, error: asError(error) });
      return;
    }
    const previous = this.#phase.name === 'obtaining' ? this.#phase.previousFailure : undefined;
    const count = (previous?.count ?? 0) + 1;
    const settings = error.retryable ? this.#options.failureBackoff : this.#options.authFailureBackoff;
    const now = this.#clock.now();
    const until = now + Math.max(backoffDelay(settings, count, this.#random), error.retryAfterMs ?? 0);
    error.retryAt = until;
    this.#enter({ name: 'backing-off', failure: { error, until, count } });
    this.#emit('failure', { operation: error.code === 'ERR_AUTHENTICATION' ? 'login' : operation, error });
    if (error.retryable) this.#schedule();
  }

  /** The timer is an optimisation only: every read checks validity itself. */
  #schedule(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const tokenSet = this.#tokenSet;
    if (!this.#options.scheduleRefresh || !tokenSet || this.#closeController.signal.aborted) return;
    const at = Math.max(tokenSet.refreshAt, this.#phase.name === 'backing-off' ? this.#phase.failure.until : 0);
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
    const deadline = this.#clock.now() + this.#options.deadlineMs;
    try {
      const stored = await this.#readStore();
      const refreshToken = (stored ?? this.#tokenSet)?.refreshToken;
      this.#tokenSet = undefined;
      this.#forgetFailure();
      this.#cancelTimer?.();
      this.#cancelTimer = undefined;
      await this.#store.delete(this.#options.storeKey);
      if (refreshToken !== undefined) {
        const { logoutUrl } = this.#options;
        await this.#withRetries('logout', deadline, (limits) => requestLogout(this.#endpoint, logoutUrl, refreshToken, limits));
      }
      this.#emit('logout', {});
    } catch (error) {
      this.#emit('failure', { operation: 'logout', error: asError(error) });
      throw error;
    } finally {
      await release?.().catch((error: unknown) => this.#emit('failure', { operation: 'store', error: asError(error) }));
    }
  }

  /** After a logout, the next login is a first try: no back-off, no failure count. */
  #forgetFailure(): void {
    const phase = this.#phase;
    if (phase.name === 'backing-off') this.#enter({ name: 'idle' });
    // An operation queued behind the logout starts its count afresh.
    if (phase.name === 'obtaining') this.#phase = { ...phase, previousFailure: undefined };
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
