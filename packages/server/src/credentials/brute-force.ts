import type { Clock } from '../clock.js';
import { TooManyRequestsError } from '../errors.js';
import type { Store } from '../store/port.js';

export interface BruteForcePolicy {
  /** Failed logins for one username within `lockoutWindowMs` that lock it for the rest of the window. */
  lockoutThreshold: number;
  lockoutWindowMs: number;
  /** Failed grants from one source address within `sourceWindowMs` before it gets 429. */
  sourceFailureLimit: number;
  sourceWindowMs: number;
}

const userKey = (username: string) => `user:${username}`;
const sourceKey = (address: string) => `source:${address}`;

/**
 * Failure accounting per username and per source address, kept in the store so that every
 * instance sees the same counts. A locked account is never told apart from a wrong password.
 */
export class BruteForceGuard {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly policy: BruteForcePolicy,
  ) {}

  /** @throws {TooManyRequestsError} when the source is over its failure rate. */
  async assertSourceAllowed(address: string): Promise<void> {
    const now = this.clock.now();
    const failures = await this.store.getFailures(sourceKey(address), now);
    if (failures.count >= this.policy.sourceFailureLimit) {
      throw new TooManyRequestsError(Math.max(1, Math.ceil((failures.resetAt - now) / 1000)));
    }
  }

  async isLocked(username: string): Promise<boolean> {
    const failures = await this.store.getFailures(userKey(username), this.clock.now());
    return failures.count >= this.policy.lockoutThreshold;
  }

  /** Counts a failed password grant against the username (if any) and the source. */
  async recordFailure(address: string, username: string | null): Promise<void> {
    const now = this.clock.now();
    await Promise.all([
      this.store.recordFailure(sourceKey(address), now, this.policy.sourceWindowMs),
      username === null ? undefined : this.store.recordFailure(userKey(username), now, this.policy.lockoutWindowMs),
    ]);
  }

  /** A successful login clears the username's failures. */
  async recordSuccess(username: string): Promise<void> {
    await this.store.clearFailures(userKey(username));
  }
}
