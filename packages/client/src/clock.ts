/**
 * Time, injected. The manager reads the time and sets timers only through a {@link Clock}, so tests
 * advance a fake clock instead of sleeping. (Per-request timeouts and the call deadline, `deadlineMs`,
 * bound real I/O and use the runtime's own timers; a token operation counts its retries and
 * back-off against its deadline on this clock.)
 *
 * @module
 */

/** A source of time and timers for the token manager. */
export interface Clock {
  /** The current time in epoch milliseconds. */
  now(): number;
  /**
   * Runs `callback` once after `delayMs` and returns a function that cancels it. The timer must not
   * keep the process alive (Node: `unref`): every timer of the manager is only an optimisation.
   */
  setTimer(callback: () => void, delayMs: number): () => void;
}

/** The real clock: `Date.now()` and `setTimeout`, unref'd where the runtime supports it. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer(callback: () => void, delayMs: number): () => void {
    // setTimeout's limit is 2^31-1 ms; a longer wait is cut short, which only fires a check early.
    const handle = setTimeout(callback, Math.min(Math.max(0, delayMs), 2_147_483_647));
    (handle as { unref?: () => void }).unref?.();
    return () => clearTimeout(handle);
  },
});
