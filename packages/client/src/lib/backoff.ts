/** Settings of an exponential back-off. */
export interface BackoffSettings {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Exponential back-off with "equal jitter": half the step is fixed, half random, so delays grow
 * for sure while a fleet that failed together does not retry together.
 * `attempt` counts from 1 (the wait after the first failure).
 */
export function backoffDelay(settings: BackoffSettings, attempt: number, random: () => number): number {
  const step = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (step / 2) * random());
}
