import { randomBytes } from 'node:crypto';
import { HashPool, hashPoolDefaults, type Argon2Parameters, type HashPoolOptions, type PasswordCheck } from './hash-pool.js';

export type { Argon2Parameters, HashPoolOptions, PasswordCheck } from './hash-pool.js';

/** OWASP Password Storage Cheat Sheet, argon2id: 19 MiB, 2 iterations, parallelism 1. */
export const OWASP_ARGON2ID: Argon2Parameters = Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });

/** How the hasher's threads are shared out, and its clock (tests inject one). */
export interface PasswordHasherOptions extends Partial<HashPoolOptions> {
  /** The clock of the wait deadline, in milliseconds. */
  now?: () => number;
  /** Fault injection for tests (see `src/test/hash-probe.ts`). */
  probe?: SharedArrayBuffer;
}

/**
 * A PHC string with the current parameters whose salt and digest are random bytes: verifying any
 * password against it costs exactly what verifying against a real hash with these parameters
 * costs (argon2 computes the full hash before it compares), and never succeeds.
 */
function dummyHash(parameters: Argon2Parameters): string {
  const b64 = (bytes: number) => randomBytes(bytes).toString('base64').replace(/=+$/, '');
  const { memoryCost: m, timeCost: t, parallelism: p } = parameters;
  return `$argon2id$v=19$m=${m},t=${t},p=${p}$${b64(16)}$${b64(32)}`;
}

/**
 * argon2id password hashing (PHC strings, so hashes written by the `argon2` package verify too) on
 * a dedicated, bounded pool of threads (see {@link HashPool}): when more logins arrive than the
 * machine can hash, the excess is refused at once with `OverloadedError` (503, Retry-After) instead
 * of queueing without bound, and hashing never delays signing or signature checks.
 */
export class PasswordHasher {
  readonly #pool: HashPool;
  readonly #dummyHash: string;

  constructor(
    readonly parameters: Argon2Parameters = OWASP_ARGON2ID,
    options: PasswordHasherOptions = {},
  ) {
    const defaults = hashPoolDefaults(options.concurrency);
    const pool: HashPoolOptions = {
      concurrency: defaults.concurrency,
      queueLimit: options.queueLimit ?? defaults.queueLimit,
      maxWaitMs: options.maxWaitMs ?? defaults.maxWaitMs,
    };
    this.#pool = new HashPool(pool, options.now, options.probe ?? null);
    this.#dummyHash = dummyHash(parameters);
  }

  /** Hashes a new password with the current parameters. @throws {OverloadedError} when the pool is full. */
  async hash(password: string, signal?: AbortSignal): Promise<string> {
    return (await this.#pool.run({ kind: 'hash', password, parameters: this.parameters }, signal)) as string;
  }

  /**
   * Verifies `password`. A `null` hash (unknown user) is checked against a dummy of the same cost
   * and is never valid. A valid password whose stored hash used other parameters comes back with
   * an upgraded hash to store.
   * @param signal aborts the check while it waits for a thread (the caller went away): it then
   *   rejects with the signal's reason and no hash is computed.
   * @throws {OverloadedError} when every thread is busy and the queue is full, or the wait was too long.
   */
  async check(storedHash: string | null, password: string, signal?: AbortSignal): Promise<PasswordCheck> {
    const request = { kind: 'check', storedHash: storedHash ?? this.#dummyHash, password, parameters: this.parameters } as const;
    const result = (await this.#pool.run(request, signal)) as PasswordCheck;
    return storedHash === null ? { valid: false, upgradedHash: null } : result;
  }

  /** Whether a check asked for now would be refused as overloaded (see {@link HashPool.wouldRefuse}). */
  get saturated(): boolean {
    return this.#pool.wouldRefuse();
  }

  /** Hashes being computed and waiting, for metrics and tests. */
  get load(): { running: number; queued: number } {
    return this.#pool.load;
  }

  /** Stops the hashing threads. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}
