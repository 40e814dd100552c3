// How the bench measures one thing against another: slices interleaved (a, b, a, b, …) so load from
// elsewhere on a shared machine hits both alike, each slice with the CPU its server used meanwhile.
import { assertClean, load, type LoadOptions, type LoadResult } from '../token/load.js';
import { log } from '../token/processes.js';
import type { SweepPoint } from './charts.js';
import { withCpu } from './cpu.js';

/** One slice: answers over seconds, latencies (HTTP only), CPU seconds of the measured process (when there is one). */
export interface Sample {
  ok: number;
  seconds: number;
  p50: number;
  p99: number;
  cpu: number | null;
}

/** Something measurable for a while at a concurrency: a server under load, or a raw-rate probe. */
export interface Side {
  name: string;
  measure(seconds: number, connections: number): Promise<Sample>;
}

/** A server `pid` under the autocannon load `options` makes (built afresh for each slice). */
export function httpSide(name: string, pid: number | undefined, options: () => Omit<LoadOptions, 'seconds' | 'connections'>, before?: (connections: number) => Promise<void>): Side {
  if (pid === undefined) throw new Error(`${name}: no pid`);
  return {
    name,
    async measure(seconds, connections) {
      await before?.(connections);
      const { result, cpu } = await withCpu([pid], () => load({ ...options(), seconds, connections }));
      assertClean(`${name} (${connections} connections)`, result);
      return fromLoad(result, seconds, cpu[0] ?? 0);
    },
  };
}

function fromLoad(result: LoadResult, seconds: number, cpu: number): Sample {
  return { ok: result.ok, seconds, p50: result.p50, p99: result.p99, cpu };
}

/** Several slices as one measurement. */
export interface Measured {
  rate: number;
  p50: number;
  p99: number;
  /** Server CPU per answer, µs (null for a probe). */
  cpuUs: number | null;
  sliceRates: number[];
}

export function combine(samples: readonly Sample[]): Measured {
  const ok = samples.reduce((sum, s) => sum + s.ok, 0);
  const seconds = samples.reduce((sum, s) => sum + s.seconds, 0);
  const cpu = samples.every((s) => s.cpu !== null) ? samples.reduce((sum, s) => sum + (s.cpu ?? 0), 0) : null;
  return {
    rate: ok / seconds,
    p50: samples.reduce((sum, s) => sum + s.p50 * s.ok, 0) / Math.max(1, ok),
    p99: Math.max(...samples.map((s) => s.p99)),
    cpuUs: cpu === null || ok === 0 ? null : (cpu / ok) * 1e6,
    sliceRates: samples.map((s) => s.ok / s.seconds),
  };
}

export interface Pair {
  a: Measured;
  b: Measured;
  /** a/b per slice pair: how steady the ratio was. */
  sliceRatios: number[];
}

/** `slices` × (a then b), `seconds` each, after `warmup` seconds of each. */
export async function paired(a: Side, b: Side, options: { slices: number; seconds: number; warmup: number; connections: number }): Promise<Pair> {
  const { slices, seconds, warmup, connections } = options;
  log(`${a.name} vs ${b.name}: ${connections} connections, ${slices} × (${seconds} s + ${seconds} s)…`);
  if (warmup > 0) {
    await a.measure(warmup, connections);
    await b.measure(warmup, connections);
  }
  const as: Sample[] = [];
  const bs: Sample[] = [];
  for (let i = 0; i < slices; i++) {
    as.push(await a.measure(seconds, connections));
    bs.push(await b.measure(seconds, connections));
  }
  const ma = combine(as);
  const mb = combine(bs);
  return { a: ma, b: mb, sliceRatios: ma.sliceRates.map((r, i) => r / (mb.sliceRates[i] ?? NaN)) };
}

/** `side` alone: `slices` × `seconds`, after a warm-up. */
export async function alone(side: Side, options: { slices: number; seconds: number; warmup: number; connections: number }): Promise<Measured> {
  log(`${side.name}: ${options.connections} connections, ${options.slices} × ${options.seconds} s…`);
  if (options.warmup > 0) await side.measure(options.warmup, options.connections);
  const samples: Sample[] = [];
  for (let i = 0; i < options.slices; i++) samples.push(await side.measure(options.seconds, options.connections));
  return combine(samples);
}

/** Every side at every concurrency, `seconds` each (after a 1 s warm-up at that concurrency): the chart's points. */
export async function sweep(sides: readonly Side[], concurrencies: readonly number[], seconds: number): Promise<SweepPoint[]> {
  const points: SweepPoint[] = [];
  for (const connections of concurrencies) {
    log(`sweep at ${connections} connections: ${sides.map((s) => s.name).join(', ')}…`);
    for (const side of sides) {
      await side.measure(1, connections);
      const sample = await side.measure(seconds, connections);
      points.push({ series: side.name, connections, rate: sample.ok / sample.seconds, p99: sample.p99 });
    }
  }
  return points;
}
