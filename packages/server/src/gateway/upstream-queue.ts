import type { AbortSignalLike } from './upstream-abort.js';

/** Every upstream connection is busy and the queue behind them is full. */
export class QueueFullError extends Error {
  constructor() {
    super('the upstream queue is full');
    this.name = 'QueueFullError';
  }
}

/** A request waited its whole deadline for an upstream connection. */
export class QueueTimeoutError extends Error {
  constructor() {
    super('no upstream connection became free in time');
    this.name = 'QueueTimeoutError';
  }
}

export interface UpstreamQueueOptions {
  /** Requests that may be at the upstream at once. */
  slots: number;
  /** Requests that may wait for a slot; 0 = none wait. */
  maxWaiting: number;
  /** Longest wait for a slot. */
  maxWaitMs: number;
}

interface Waiter {
  grant(): void;
}

/** Frees a slot; calling it again does nothing. */
export type Release = () => void;

/**
 * The gate in front of the upstream's connections: at most `slots` requests are at the upstream,
 * at most `maxWaiting` wait behind them, first come first served, none longer than `maxWaitMs`;
 * a waiter whose client went away (its signal aborts) leaves the queue and is never sent.
 */
export class UpstreamQueue {
  #active = 0;
  readonly #waiting: Waiter[] = [];

  constructor(private readonly options: UpstreamQueueOptions) {}

  /** Requests at the upstream now. */
  get active(): number {
    return this.#active;
  }

  /** Requests waiting for a slot now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** The release of a slot taken now if one is free and nobody waits for one, else null. */
  tryAcquire(): Release | null {
    if (this.#active >= this.options.slots || this.#waiting.length > 0) return null;
    this.#active += 1;
    return this.#release();
  }

  /**
   * Resolves with the release of a slot once one is free; rejects with {@link QueueFullError} at
   * once when the queue is full, {@link QueueTimeoutError} when the wait passes `maxWaitMs`, or the
   * signal's reason when it aborts first.
   */
  acquire(signal: AbortSignalLike): Promise<Release> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const free = this.tryAcquire();
    if (free !== null) return Promise.resolve(free);
    if (this.#waiting.length >= this.options.maxWaiting) return Promise.reject(new QueueFullError());
    return new Promise((resolve, reject) => {
      const leave = (error: unknown) => {
        const at = this.#waiting.indexOf(waiter);
        if (at !== -1) this.#waiting.splice(at, 1);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = () => leave(signal.reason);
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(this.#release());
        },
      };
      const timer = setTimeout(() => leave(new QueueTimeoutError()), this.options.maxWaitMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #release(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active -= 1;
      const next = this.#waiting.shift();
      if (next !== undefined) {
        this.#active += 1;
        next.grant();
      }
    };
  }
}
