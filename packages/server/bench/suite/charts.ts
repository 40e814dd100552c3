// The bench's charts: throughput and p99 latency against concurrency, one SVG per workload,
// described in Vega-Lite and rendered headless by Vega (no browser, no canvas: `view.toSVG()`).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One measured point of one series (e.g. "ours", "@node-oauth/oauth2-server"). */
export interface SweepPoint {
  series: string;
  connections: number;
  rate: number;
  /** null for a series without latencies (a raw-rate probe): drawn in the throughput panel only. */
  p99: number | null;
}

/** Two panels side by side, answers/s and p99 ms against connections, one line per series. */
export async function sweepChart(title: string, points: readonly SweepPoint[]): Promise<string> {
  const x = {
    field: 'connections',
    type: 'quantitative' as const,
    scale: { type: 'log' as const, base: 2 },
    axis: { values: [...new Set(points.map((p) => p.connections))] },
    title: 'concurrent connections',
  };
  const color = { field: 'series', type: 'nominal' as const, title: null, legend: { orient: 'bottom' as const, labelLimit: 400 } };
  const panel = (field: 'rate' | 'p99', label: string) => ({
    width: 320,
    height: 220,
    mark: { type: 'line' as const, point: true },
    encoding: { x, y: { field, type: 'quantitative' as const, title: label }, color },
  });
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: points.map((p) => ({ ...p })) },
    hconcat: [panel('rate', 'answers / s'), panel('p99', 'p99 latency (ms)')],
    config: { font: 'sans-serif' },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
