// The suite's report: one table with every target (ours, the reference or ceiling of the same run,
// the ratio, the server CPU per request), and docs/benchmarks.md around it.
import os from 'node:os';
import type { Argon2Parameters } from '../../src/credentials/password-hasher.js';
import type { PostgresRows, SuiteOptions } from '../suite.js';
import type { SweepPoint } from './charts.js';
import type { Measured, Pair } from './measure.js';
import type { StorageResult, StorageSample } from './storage.js';

export interface SuiteResult {
  options: SuiteOptions;
  argon2: Argon2Parameters;
  password: Pair;
  refresh: Pair;
  /** a: the store with `sessions` live sessions, b: with 10,000. */
  largeStore: { pair: Pair; seedSeconds: number };
  storage: StorageResult;
  gateway: Pair;
  /** The ceiling is the raw verify rate of the guard's own Ed25519 verifier (`ceilingName`); `nodeCrypto` node:crypto's, when that is another. */
  guard: {
    rate: number;
    p99: number;
    /** The guarded server's CPU per request with a new token each, and the same route's unguarded, in µs. */
    cpuUs: number;
    unguardedCpuUs: number;
    ceiling: number;
    ceilingName: string;
    nodeCrypto: number | null;
  };
  postgres: PostgresRows;
  seconds: number;
  /** The 1-minute load average before and after the run (the bench itself adds up to about 2). */
  loadAverage: [number, number];
}

const rate = (value: number) => `${Math.round(value).toLocaleString('en-US')}/s`;
const ratio = (value: number) => `${value.toFixed(2)}×`;
const us = (value: number | null) => (value === null ? '—' : value >= 10_000 ? `${(value / 1000).toFixed(1)} ms` : `${Math.round(value)} µs`);
const met = (ok: boolean) => (ok ? 'yes' : '**no**');
const range = (values: number[]) => (values.length > 1 ? ` (slices ${ratio(Math.min(...values))}–${ratio(Math.max(...values))})` : '');
const p99 = (m: Measured) => `p99 ${m.p99.toFixed(1)} ms`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The gateway's row: ours vs the bare proxy of the same stack. */
function gatewayRow(pair: Pair, connections: number): string[] {
  const gatewayRatio = pair.a.rate / pair.b.rate;
  return [
    `gateway vs a bare proxy of the same stack (Fastify + undici), ${connections} connections — ours ${p99(pair.a)}`,
    rate(pair.a.rate),
    `${rate(pair.b.rate)} bare proxy`,
    `${ratio(gatewayRatio)}${range(pair.sliceRatios)}`,
    `${us(pair.a.cpuUs)} (bare ${us(pair.b.cpuUs)})`,
    '≥ 0.8×',
    met(gatewayRatio >= 0.8),
  ];
}

/** The store-size row: bytes per live session after the most refreshes vs after the fewest (not none: the first rotation fills in who rotated). */
function storageRow(storage: StorageResult): string[] {
  const { sessions, samples } = storage;
  const [none, few, many] = samples;
  if (!none || !few || !many) throw new Error('the store-size row needs three samples');
  const perSession = (sample: StorageSample) => `${Math.round(sample.sessionBytes / sessions)} B`;
  const each = (sample: StorageSample) => Math.round(sample.refreshes / sessions).toLocaleString('en-US');
  const kib = (bytes: number) => `${Math.round(bytes / 1024).toLocaleString('en-US')} KiB`;
  const growth = many.sessionBytes / few.sessionBytes;
  return [
    `SQLite store size per live session (sessions table and its indexes), ${sessions.toLocaleString('en-US')} sessions refreshed ${each(many)} times each — whole file in use ${kib(none.fileBytes)} → ${kib(few.fileBytes)} → ${kib(many.fileBytes)}`,
    `${perSession(many)} after ${each(many)} refreshes each`,
    `${perSession(few)} after ${each(few)} each; ${perSession(none)} after none`,
    ratio(growth),
    '—',
    'independent of refreshes (≤ 1.1×)',
    met(growth <= 1.1),
  ];
}

function rows(r: SuiteResult): string[][] {
  const { connections } = r.options;
  const refreshRatio = r.refresh.a.rate / r.refresh.b.rate;
  const passwordRatio = r.password.a.rate / r.password.b.rate;
  const guardRatio = r.guard.rate / r.guard.ceiling;
  const large = r.largeStore.pair;
  const largeRatio = large.a.rate / large.b.rate;
  const sessions = r.options.sessions.toLocaleString('en-US');
  const out: string[][] = [
    [
      `server CPU per durable refresh grant (SQLite, synchronous FULL, ${connections.refresh} connections)`,
      us(r.refresh.a.cpuUs),
      `${us(r.refresh.b.cpuUs)} @node-oauth/oauth2-server`,
      r.refresh.a.cpuUs !== null && r.refresh.b.cpuUs !== null ? ratio(r.refresh.a.cpuUs / r.refresh.b.cpuUs) : '—',
      us(r.refresh.a.cpuUs),
      '≤ 200 µs',
      met((r.refresh.a.cpuUs ?? Infinity) <= 200),
    ],
    [
      `durable refresh grants/s, ${connections.refresh} connections — ours ${p99(r.refresh.a)}, theirs ${p99(r.refresh.b)}`,
      rate(r.refresh.a.rate),
      `${rate(r.refresh.b.rate)} @node-oauth/oauth2-server`,
      `${ratio(refreshRatio)}${range(r.refresh.sliceRatios)}`,
      `${us(r.refresh.a.cpuUs)} (theirs ${us(r.refresh.b.cpuUs)})`,
      '≥ 4,000/s and ≥ 3×',
      met(r.refresh.a.rate >= 4000 && refreshRatio >= 3),
    ],
    [
      `password grants/s, ${connections.password} connections — ${p99(r.password.a)}`,
      rate(r.password.a.rate),
      `${rate(r.password.b.rate)} raw @node-rs/argon2 verify (m=${r.argon2.memoryCost} KiB, t=${r.argon2.timeCost}, p=${r.argon2.parallelism})`,
      `${ratio(passwordRatio)}${range(r.password.sliceRatios)}`,
      `${us(r.password.a.cpuUs)} (raw: ${us(r.password.b.cpuUs)} per verify)`,
      '≥ 0.9×',
      met(passwordRatio >= 0.9),
    ],
  ];
  if ('skipped' in r.postgres) {
    out.push(['refresh grants/s on PostgreSQL, one instance', 'skipped', r.postgres.skipped, '—', '—', '≥ 2,000/s, ≤ 2 round trips', '—']);
  } else {
    const pg = r.postgres;
    const pgRatio = pg.large.a.rate / pg.large.b.rate;
    out.push(
      [
        `refresh grants/s on PostgreSQL, one instance, ${connections.refresh} connections — ${p99(pg.small)}`,
        rate(pg.small.rate),
        `${pg.statementsPerRefresh.toFixed(2)} round trips per refresh (statements through a counting relay)`,
        '—',
        us(pg.small.cpuUs),
        '≥ 2,000/s, ≤ 2 round trips',
        met(pg.small.rate >= 2000 && pg.statementsPerRefresh <= 2),
      ],
      [
        `refresh grants/s with ${sessions} live sessions vs 10,000, PostgreSQL (seeded in ${pg.seedSeconds.toFixed(1)} s) — ${p99(pg.large.a)}`,
        rate(pg.large.a.rate),
        `${rate(pg.large.b.rate)} with 10,000`,
        `${ratio(pgRatio)}${range(pg.large.sliceRatios)}`,
        `${us(pg.large.a.cpuUs)} (10,000: ${us(pg.large.b.cpuUs)})`,
        '≥ 0.8×',
        met(pgRatio >= 0.8),
      ],
    );
  }
  out.push(
    [
      `refresh grants/s with ${sessions} live sessions vs 10,000, SQLite (seeded in ${r.largeStore.seedSeconds.toFixed(1)} s) — ${p99(large.a)}`,
      rate(large.a.rate),
      `${rate(large.b.rate)} with 10,000`,
      `${ratio(largeRatio)}${range(large.sliceRatios)}`,
      `${us(large.a.cpuUs)} (10,000: ${us(large.b.cpuUs)})`,
      '≥ 0.8×',
      met(largeRatio >= 0.8),
    ],
    storageRow(r.storage),
    gatewayRow(r.gateway, connections.gateway),
    [
      `guarded route, new token each request, 32 connections — p99 ${r.guard.p99} ms`,
      rate(r.guard.rate),
      `${rate(r.guard.ceiling)} raw Ed25519 verify (${r.guard.ceilingName})${r.guard.nodeCrypto === null ? '' : `; node:crypto ${rate(r.guard.nodeCrypto)}`}`,
      ratio(guardRatio),
      `${us(r.guard.cpuUs)} (raw verify: ${us(1e6 / r.guard.ceiling)}; the route unguarded: ${us(r.guard.unguardedCpuUs)})`,
      '≥ 0.9×',
      met(guardRatio >= 0.9),
    ],
  );
  return out;
}

/** The table, as printed and as written to docs/benchmarks.md. */
const HEADER = ['what', 'ours', 'reference or ceiling (same run)', 'ratio', 'server CPU per request', 'target', 'met?'];

export function formatTable(r: SuiteResult): string {
  return table(HEADER, rows(r));
}

/** The table of `--only gateway`: the gateway's row alone. */
export function formatGatewayTable(pair: Pair, connections: number): string {
  return table(HEADER, [gatewayRow(pair, connections)]);
}

function machine(): string {
  const cpus = os.cpus();
  return (
    `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
    `${os.type()} ${os.release()} (${os.arch()}), node ${process.version}, libuv threadpool ${process.env.UV_THREADPOOL_SIZE ?? 4}`
  );
}

/** docs/benchmarks.md: the table, the machine, the commands, the charts and their data. */
export function formatMarkdown(r: SuiteResult, tableText: string, charts: Array<{ file: string; title: string; points: SweepPoint[] }>): string {
  const o = r.options;
  const chartSections = charts.flatMap(({ file, title, points }) => {
    const series = [...new Set(points.map((p) => p.series))];
    const concurrencies = [...new Set(points.map((p) => p.connections))];
    const cell = (series: string, connections: number) => {
      const point = points.find((p) => p.series === series && p.connections === connections);
      return point ? `${rate(point.rate)}${point.p99 === null ? '' : `, p99 ${point.p99} ms`}` : '—';
    };
    return [
      `### ${title}`,
      '',
      `![${title}](${file})`,
      '',
      table(['connections', ...series], concurrencies.map((c) => [String(c), ...series.map((s) => cell(s, c))])),
      '',
    ];
  });
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench${o.quick ? ' -- --quick' : ''}\` on ${new Date().toISOString().slice(0, 10)} (${Math.round(r.seconds)} s; ` +
      `1-minute load average ${r.loadAverage[0].toFixed(2)} before, ${r.loadAverage[1].toFixed(2)} after — the bench itself adds up to about 2).`,
    '',
    '## Targets',
    '',
    tableText,
    '',
    '"server CPU per request" is user + system time of the server process (all its threads) from',
    '`/proc/<pid>/stat`, read before and after each measured slice, over the answers of those slices.',
    'The load generator (autocannon) runs in the bench process on the same machine, so absolute rates',
    'depend on what else the machine does; the CPU per request and the ratios of interleaved',
    'measurements (ours, reference, ours, reference, …) are the figures to compare between runs.',
    '',
    'Why the targets not met are not met, with the profiles that show it: [performance-notes.md](performance-notes.md).',
    '',
    '## Machine',
    '',
    machine(),
    '',
    '## How it was measured',
    '',
    '- `npm run bench` runs everything (this run took the time above); `npm run bench -- --quick` does it in a few minutes with shorter slices and fewer concurrencies; `--sessions <n>` sizes the large store. One part alone: `npm run bench -- token|password|guard|client|forward-auth|purge|dpop`; a change against the build before it: `npm run bench -- refresh-ab --before <its dist/cli/main.js>`.',
    `- Each paired row: ${o.slices} slices of ${o.seconds.toFixed(1)} s per side, interleaved, after ${o.warmup} s of warm-up each. Chart points: ${o.sweepSeconds} s each after 1 s of warm-up.`,
    '- Every server is its own process, started from the built `dist`; all traffic is on loopback; any non-2xx answer fails the run.',
    '- Refresh load: each request carries the live refresh token of a session nobody else is using, and its answer\'s token goes back to the pool (real rotations).',
    `- Large store: a second server over a store of its own, seeded by the bench in bulk with ${o.sessions.toLocaleString('en-US')} live sessions of 10,000 filler users (SQLite: one transaction, one \`INSERT … SELECT\` over a recursive counter; PostgreSQL: \`INSERT … SELECT generate_series\`), interleaved with the first server, whose store holds 10,000 (plus the bench's own sessions).`,
    '- Store size: a server of its own starts 1,000 sessions, then refreshes them under the refresh load for one slice and four more; after the logins and after each round, a read-only connection reads the pages of the sessions table and its indexes (`dbstat`) and the pages in use of the whole file. The ratio is the size per session after the most refreshes over the size after the fewest (the first rotation of a session fills in which source rotated it).',
    '- PostgreSQL round trips: a second instance reaches the database through a relay that counts every Sync and simple Query message (`pg` sends one per statement and never pipelines), over a refresh load of its own.',
    '- The password row\'s ceiling is the raw verify rate of `@node-rs/argon2` (the binding the server hashes with) at the server\'s parameters, in an idle child of its own, interleaved with the password slices.',
    '- The guard row is `packages/guard/bench/guard.ts`. Its ceiling is the raw verify rate, on one thread over pre-minted tokens, of the verifier the guard itself uses for Ed25519 (libsodium, when its optional binding loads); node:crypto\'s `crypto.verify` rate is printed beside it. Its CPU per request is the guarded server\'s (a Fastify app in its own process) over the answers of its best round, with one raw verify and the same route unguarded beside it.',
    '',
    '## Charts',
    '',
    ...chartSections,
  ].join('\n');
}
