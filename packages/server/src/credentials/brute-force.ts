import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Counter, CounterStore, CounterWrites } from '../store/port.js';

/** The brute-force rules of DESIGN §2; durations in milliseconds. */
export interface BruteForcePolicy {
  /** Failed logins per (username, source) within `lockoutWindowMs` that lock that pair for the rest of it. */
  lockoutThreshold: number;
  /** Failed logins per username from all sources within `lockoutWindowMs` that lock it for unknown sources. */
  userLockoutThreshold: number;
  lockoutWindowMs: number;
  /** How long a source that logged in successfully as a user stays known for that user. */
  knownSourceMs: number;
  /** Failed grants per source address within `sourceWindowMs` before it gets 429. */
  sourceFailureLimit: number;
  sourceWindowMs: number;
}

/** The counter keys of one login attempt, as keyed hashes (never a raw username or address). */
export interface LoginKeys {
  pair: string;
  user: string;
  known: string;
  source: string;
}

/** What a login attempt may do, decided before any password is hashed. */
export type LoginAdmission =
  /**
   * Go on and verify the password: the attempt is already counted as a failure (reserved). If it
   * turns out wrong, it `starts` the lock of the pair or of the username (null: neither).
   */
  | { kind: 'admitted'; starts: 'pair' | 'username' | null }
  /** Answer exactly as a wrong password, without hashing. */
  | { kind: 'locked' }
  /** Answer 429 with Retry-After. */
  | { kind: 'throttled'; retryAfterMs: number };

/** A counter's value at `now`: zero once its window has passed. */
function live(counter: Counter | undefined, now: number): Counter | null {
  return counter !== undefined && counter.resetAt > now ? counter : null;
}

/** `counter` plus one, opening a window of `windowMs` when none is running. */
function incremented(counter: Counter | undefined, now: number, windowMs: number): Counter {
  const current = live(counter, now);
  return current ? { count: current.count + 1, resetAt: current.resetAt } : { count: 1, resetAt: now + windowMs };
}

/** `counter` minus one (a reservation given back); null when nothing is left to keep. */
function decremented(counter: Counter | undefined, now: number): Counter | null {
  const current = live(counter, now);
  return current && current.count > 1 ? { count: current.count - 1, resetAt: current.resetAt } : null;
}

/**
 * Admits, locks or throttles a login attempt from a snapshot of its counters, and reserves it:
 * an admitted attempt is counted as a failure before its password is hashed, so no concurrency
 * lets more guesses through than the limits allow (DESIGN §2). A refused attempt still counts
 * against its source.
 */
export function admitLogin(
  counters: ReadonlyMap<string, Counter>,
  keys: LoginKeys,
  now: number,
  policy: BruteForcePolicy,
): { result: LoginAdmission; writes: CounterWrites } {
  const source = live(counters.get(keys.source), now);
  if (source && source.count >= policy.sourceFailureLimit) {
    return { result: { kind: 'throttled', retryAfterMs: source.resetAt - now }, writes: new Map() };
  }
  const countSource = new Map([[keys.source, incremented(counters.get(keys.source), now, policy.sourceWindowMs)]]);
  const pair = live(counters.get(keys.pair), now);
  if (pair && pair.count >= policy.lockoutThreshold) return { result: { kind: 'locked' }, writes: countSource };
  const user = live(counters.get(keys.user), now);
  const known = live(counters.get(keys.known), now) !== null;
  if (!known && user && user.count >= policy.userLockoutThreshold) return { result: { kind: 'locked' }, writes: countSource };
  const nextPair = incremented(counters.get(keys.pair), now, policy.lockoutWindowMs);
  const nextUser = incremented(counters.get(keys.user), now, policy.lockoutWindowMs);
  const starts =
    nextPair.count === policy.lockoutThreshold ? 'pair' : nextUser.count === policy.userLockoutThreshold ? 'username' : null;
  return {
    result: { kind: 'admitted', starts },
    writes: new Map([...countSource, [keys.pair, nextPair], [keys.user, nextUser]]),
  };
}

/**
 * A login whose password was right: its reservation is given back, the pair's failures are
 * forgotten, and the source becomes known for the user (so a flood against the username from
 * elsewhere does not lock it out).
 */
export function settleSuccessfulLogin(
  counters: ReadonlyMap<string, Counter>,
  keys: LoginKeys,
  now: number,
  policy: BruteForcePolicy,
): { result: void; writes: CounterWrites } {
  return {
    result: undefined,
    writes: new Map([
      [keys.pair, null],
      [keys.user, decremented(counters.get(keys.user), now)],
      [keys.source, decremented(counters.get(keys.source), now)],
      [keys.known, { count: 1, resetAt: now + policy.knownSourceMs }],
    ]),
  };
}

/** An admitted attempt whose password was never checked (overload, or the caller went away): its reservation is given back. */
export function releaseReservation(
  counters: ReadonlyMap<string, Counter>,
  keys: LoginKeys,
  now: number,
): { result: void; writes: CounterWrites } {
  return {
    result: undefined,
    writes: new Map([
      [keys.pair, decremented(counters.get(keys.pair), now)],
      [keys.user, decremented(counters.get(keys.user), now)],
      [keys.source, decremented(counters.get(keys.source), now)],
    ]),
  };
}

/** One failure more against a source (an unknown refresh token, say). */
export function countSourceFailure(
  counters: ReadonlyMap<string, Counter>,
  key: string,
  now: number,
  policy: BruteForcePolicy,
): { result: void; writes: CounterWrites } {
  return { result: undefined, writes: new Map([[key, incremented(counters.get(key), now, policy.sourceWindowMs)]]) };
}

/** Source counter keys kept in memory at most (all dropped at once when full). */
const SOURCE_KEYS_KEPT = 4096;

/**
 * A login attempt as {@link BruteForceGuard.admitLogin} answers it: an admitted one carries its
 * counter keys, to settle or release it without hashing them again.
 */
export type GuardedAdmission =
  | Exclude<LoginAdmission, { kind: 'admitted' }>
  | (Extract<LoginAdmission, { kind: 'admitted' }> & { attempt: LoginKeys });

/** What {@link BruteForceGuard.checkSource} says of a throttled source: how long it must wait. */
export interface SourceThrottle {
  retryAfterMs: number;
}

/**
 * Brute-force accounting over the shared counter store (DESIGN §2). Counter keys are HMACs under
 * a server key, so the table holds neither usernames (nor passwords typed into the username
 * field) nor addresses, and every key has the same short length whatever the client sent.
 */
export class BruteForceGuard {
  readonly #counters: CounterStore;
  readonly #clock: Clock;
  readonly #policy: BruteForcePolicy;
  readonly #key: KeyObject;
  readonly #sourceKeys = new Map<string, string>();

  constructor(counters: CounterStore, clock: Clock, policy: BruteForcePolicy, key: Buffer) {
    this.#counters = counters;
    this.#clock = clock;
    this.#policy = policy;
    this.#key = createSecretKey(key);
  }

  #hash(kind: string, ...parts: string[]): string {
    const mac = createHmac('sha256', this.#key).update(kind);
    // Length-prefixed, so no two (username, address) pairs share a key.
    for (const part of parts) mac.update(`\0${Buffer.byteLength(part)}:`).update(part);
    return mac.digest('base64url');
  }

  #loginKeys(username: string, address: string): LoginKeys {
    return {
      pair: this.#hash('pair', username, address),
      user: this.#hash('user', username),
      known: this.#hash('known', username, address),
      source: this.#sourceKey(address),
    };
  }

  /** Every grant looks its source's counter up: the key of a busy address is worth keeping. */
  #sourceKey(address: string): string {
    let key = this.#sourceKeys.get(address);
    if (key === undefined) {
      key = this.#hash('source', address);
      if (this.#sourceKeys.size >= SOURCE_KEYS_KEPT) this.#sourceKeys.clear();
      this.#sourceKeys.set(address, key);
    }
    return key;
  }

  /** Reserves a login attempt before its password is hashed (see {@link admitLogin}). */
  async admitLogin(username: string, address: string): Promise<GuardedAdmission> {
    const keys = this.#loginKeys(username, address);
    const admission = await this.#counters.update(Object.values(keys), (counters) =>
      admitLogin(counters, keys, this.#clock.now(), this.#policy),
    );
    return admission.kind === 'admitted' ? { ...admission, attempt: keys } : admission;
  }

  /** Settles an admitted login whose password was right (see {@link settleSuccessfulLogin}). */
  recordSuccess(attempt: LoginKeys): Promise<void> {
    return this.#counters.update(Object.values(attempt), (counters) =>
      settleSuccessfulLogin(counters, attempt, this.#clock.now(), this.#policy),
    );
  }

  /** Gives back the reservation of an admitted attempt whose password was never checked. */
  release(attempt: LoginKeys): Promise<void> {
    return this.#counters.update(Object.values(attempt), (counters) => releaseReservation(counters, attempt, this.#clock.now()));
  }

  /** How long the source must wait before its next grant, or null when it may go on. */
  async checkSource(address: string): Promise<SourceThrottle | null> {
    const key = this.#sourceKey(address);
    const now = this.#clock.now();
    const source = live((await this.#counters.read([key])).get(key), now);
    return source && source.count >= this.#policy.sourceFailureLimit ? { retryAfterMs: source.resetAt - now } : null;
  }

  /** Counts a failed grant that had no password to reserve (an unknown refresh token, say). */
  recordSourceFailure(address: string): Promise<void> {
    const key = this.#sourceKey(address);
    return this.#counters.update([key], (counters) => countSourceFailure(counters, key, this.#clock.now(), this.#policy));
  }
}
