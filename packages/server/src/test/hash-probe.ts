/**
 * Fault injection into the real hashing threads: counts the hashes they start, and can hold every
 * hash (the thread blocks, occupied, before computing it) until released. Pass `buffer` as the
 * hasher's `probe` (or `startServer`'s `hashProbe`).
 */
export class HashProbe {
  /** [0] gate: 1 open, 0 shut; [1] hashes started. */
  readonly buffer = new SharedArrayBuffer(8);
  readonly #slots = new Int32Array(this.buffer);

  constructor() {
    Atomics.store(this.#slots, 0, 1);
  }

  /** Hashes the threads have started (held ones included). */
  get started(): number {
    return Atomics.load(this.#slots, 1);
  }

  /** Every hash started from now on blocks its thread until {@link release}. */
  hold(): void {
    Atomics.store(this.#slots, 0, 0);
  }

  /** Lets held hashes (and later ones) run. */
  release(): void {
    Atomics.store(this.#slots, 0, 1);
    Atomics.notify(this.#slots, 0);
  }

  /** Resolves once at least `count` hashes have started; fails after `timeoutMs`. */
  async waitStarted(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = this.started;
      if (seen >= count) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`HashProbe: ${seen} hashes started, expected ${count}, within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5, left)));
    }
  }
}
