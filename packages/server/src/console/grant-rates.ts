import type { Counter } from 'prom-client';
import type { Clock } from '../clock.js';

/** How often the grant counters are sampled, and how much history is kept (one hour). */
export const SAMPLE_MS = 10_000;
const HISTORY_MS = 3_600_000;

interface Sample {
  at: number;
  /** Grants counted so far, by outcome (`ok` or the OAuth error code). */
  totals: Map<string, number>;
}

/** Grants per second by outcome, one point per sampling interval: the dashboard's first chart. */
export interface GrantSeries {
  /** End of each interval (ms). */
  times: number[];
  /** Per outcome, grants per second in each interval. */
  rates: Record<string, number[]>;
}

/**
 * This process's token-endpoint grants per second by outcome over the last hour, sampled from the
 * same counter `/metrics` exports. Per process, as the counter is: with several instances the
 * dashboard shows the one that served it (Prometheus has the sum).
 */
export class GrantRates {
  readonly #counter: Counter<'grant' | 'outcome'>;
  readonly #clock: Clock;
  readonly #samples: Sample[] = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(counter: Counter<'grant' | 'outcome'>, clock: Clock) {
    this.#counter = counter;
    this.#clock = clock;
  }

  async #read(): Promise<Sample> {
    const totals = new Map<string, number>();
    for (const { labels, value } of (await this.#counter.get()).values) {
      const outcome = String(labels.outcome ?? 'unknown');
      totals.set(outcome, (totals.get(outcome) ?? 0) + value);
    }
    return { at: this.#clock.now(), totals };
  }

  /** Takes a sample now, and drops those older than the history. */
  async sample(): Promise<void> {
    this.#keep(await this.#read());
  }

  #keep(sample: Sample): void {
    // A second sample at the same instant (an injected clock that stands still) would make an
    // interval of no length: the first one stands for that instant.
    if (this.#samples.at(-1)?.at === sample.at) return;
    this.#samples.push(sample);
    while (this.#samples.length > 0 && (this.#samples[0]?.at ?? 0) < sample.at - HISTORY_MS) this.#samples.shift();
  }

  start(): void {
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), SAMPLE_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * The rates between consecutive samples, the last interval ending now. A read a whole sampling
   * interval after the last sample is kept as a sample too, so the history follows the clock
   * however the timer runs (an injected clock moves by steps).
   */
  async series(): Promise<GrantSeries> {
    const current = await this.#read();
    if (current.at - (this.#samples.at(-1)?.at ?? Number.NEGATIVE_INFINITY) >= SAMPLE_MS) this.#keep(current);
    const points = this.#samples.at(-1) === current ? [...this.#samples] : [...this.#samples, current];
    const outcomes = new Set(points.flatMap((point) => [...point.totals.keys()]));
    const series: GrantSeries = { times: [], rates: Object.fromEntries([...outcomes].sort().map((outcome) => [outcome, [] as number[]])) };
    for (let index = 1; index < points.length; index++) {
      const [before, after] = [points[index - 1] as Sample, points[index] as Sample];
      const seconds = (after.at - before.at) / 1000;
      if (seconds <= 0) continue;
      series.times.push(after.at);
      for (const outcome of outcomes) {
        const delta = (after.totals.get(outcome) ?? 0) - (before.totals.get(outcome) ?? 0);
        series.rates[outcome]?.push(Math.round((Math.max(0, delta) / seconds) * 100) / 100);
      }
    }
    return series;
  }
}
