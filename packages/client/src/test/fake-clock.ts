import type { Clock } from '../clock.js';

interface Timer {
  due: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told. With `auto`, each timer fires on the next turn of the event
 * loop and moves the clock to its due time: back-off sleeps take no real time yet add up correctly.
 * Without it, timers fire only from {@link FakeClock.advance}.
 */
export class FakeClock implements Clock {
  #now: number;
  readonly #auto: boolean;
  #timers: Timer[] = [];

  constructor(options: { start?: number; auto?: boolean } = {}) {
    this.#now = options.start ?? Date.UTC(2030, 0, 1);
    this.#auto = options.auto ?? false;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): () => void {
    const timer: Timer = { due: this.#now + Math.max(0, delayMs), callback, cancelled: false };
    if (this.#auto) {
      setImmediate(() => {
        if (timer.cancelled) return;
        this.#now = Math.max(this.#now, timer.due);
        callback();
      });
    } else {
      this.#timers.push(timer);
    }
    return () => {
      timer.cancelled = true;
    };
  }

  /** Moves the clock on, firing (in order) the manual timers that fall due. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#timers.filter((t) => !t.cancelled && t.due <= target).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.#now = Math.max(this.#now, next.due);
      next.cancelled = true;
      next.callback();
    }
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    this.#now = target;
  }

  /** Timers waiting for {@link FakeClock.advance}. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }
}
