// The printed report: the targets table (DESIGN §5), the load phases table, and how quiet the
// machine was, from what one run measured.
import os from 'node:os';
import type { Argon2Parameters } from '../../src/credentials/password-hasher.js';
import type { LoadResult } from './load.js';
import type { TokenBenchOptions } from './options.js';
import type { PostgresResult } from './postgres.js';
import type { Argon2Slice, FsyncProbe } from './probes.js';

/** Ours and the reference at one concurrency, in interleaved slices. */
export interface RefreshRun {
  connections: number;
  ours: LoadResult;
  theirs: LoadResult;
  oursSlices: LoadResult[];
  theirsSlices: LoadResult[];
}

/** Everything one run measured, and how it was run. */
export interface TokenBenchResult {
  options: Readonly<TokenBenchOptions>;
  argon2: Argon2Parameters;
  launchedFrom: string;
  threadpool: number;
  loadBefore: number;
  loadAfter: number;
  /** performance.now() when the bench started. */
  started: number;
  verifierConcurrency: number;
  rawSlices: Argon2Slice[];
  password: LoadResult;
  passwordSlices: LoadResult[];
  /** The headline concurrency first. */
  refreshRuns: [RefreshRun, ...RefreshRun[]];
  rss: { firstStart: number; startup: number; idle: number; busy: number };
  postgres: PostgresResult;
  fsyncBefore: FsyncProbe;
  fsyncAfter: FsyncProbe;
}

/** References that move by more than this between measurements make the run "not quiet". */
const MAX_SPREAD = 0.15;

const rate = (value: number) => `${Math.round(value).toLocaleString('en-US')}/s`;
const ms = (value: number) => `${value.toFixed(1)} ms`;
const ratio = (value: number) => `${value.toFixed(2)}×`;
const met = (ok: boolean) => (ok ? 'yes' : '**no**');
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
/** How far apart measurements of the same thing are, relative to their mean. */
const spread = (values: number[]) => (Math.max(...values) - Math.min(...values)) / mean(values);
const range = (values: number[]) => `${ratio(Math.min(...values))}–${ratio(Math.max(...values))}`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The raw argon2id verify rate over all its slices. */
export function rawVerifyRate(slices: Argon2Slice[]): number {
  return slices.reduce((sum, s) => sum + s.count, 0) / slices.reduce((sum, s) => sum + s.elapsed, 0);
}

function postgresRows(result: PostgresResult, sqliteRate: number, connections: number): string[][] {
  if ('skipped' in result) return [['refresh grant, PostgreSQL', 'skipped', result.skipped, '—', '—', '—']];
  return [
    [
      `refresh grant, PostgreSQL, 1 instance, ${connections} connections — p50 ${ms(result.one.p50)}, p99 ${ms(result.one.p99)}, non-2xx ${result.one.non2xx}`,
      rate(result.one.rate),
      `${rate(sqliteRate)} SQLite`,
      `${ratio(result.one.rate / sqliteRate)} of SQLite`,
      '(no target)',
      '—',
    ],
    [
      `refresh grant, PostgreSQL, 2 instances (same machine), ${connections} connections each — p50 ${ms(result.two.p50)}, p99 ${ms(result.two.p99)}, non-2xx ${result.two.non2xx}`,
      rate(result.two.rate),
      `${rate(result.one.rate)} with 1 instance (${result.twoPerInstance.map(rate).join(' + ')})`,
      `${ratio(result.two.rate / result.one.rate)} of 1 instance`,
      '(no target)',
      '—',
    ],
  ];
}

function targetRows(r: TokenBenchResult): string[][] {
  const { options, password, rawSlices, passwordSlices, rss, fsyncBefore, fsyncAfter } = r;
  const [headline, ...others] = r.refreshRuns;
  const { ours: refresh, theirs: refRefresh } = headline;
  const raw = rawVerifyRate(rawSlices);
  const fsync = mean([fsyncBefore.commitsPerSecond, fsyncAfter.commitsPerSecond]);
  const batched = mean([fsyncBefore.batched16RowsPerSecond, fsyncAfter.batched16RowsPerSecond]);
  const pwRatio = password.rate / raw;
  const oursTheirs = refresh.rate / refRefresh.rate;
  const sliceRatios = headline.oursSlices.map((s, i) => s.rate / (headline.theirsSlices[i]?.rate ?? NaN));
  const pwSliceRatios = passwordSlices.map((s, i) => s.rate / (rawSlices[i]?.rate ?? NaN));
  return [
    [
      `raw argon2id verify (${r.verifierConcurrency} in flight, own idle child)`,
      rate(raw),
      `slices ${rawSlices.map((s) => rate(s.rate)).join(', ')}`,
      '—',
      '(reference for the password grant)',
      '—',
    ],
    [
      `password grant over HTTP — p50 ${ms(password.p50)}, p99 ${ms(password.p99)}`,
      rate(password.rate),
      `${rate(raw)} raw verify`,
      `${ratio(pwRatio)} (slices ${range(pwSliceRatios)})`,
      '≥ 0.90× raw verify',
      met(pwRatio >= 0.9),
    ],
    [
      `refresh grant, durable (SQLite WAL+FULL), ${options.refreshConnections} connections — p50 ${ms(refresh.p50)}, p99 ${ms(refresh.p99)}, non-2xx ${refresh.non2xx}`,
      rate(refresh.rate),
      `${rate(fsync)} fsync'd commits (trivial loop)`,
      ratio(refresh.rate / fsync),
      '≥ 3,000/s',
      met(refresh.rate >= 3000 && refresh.non2xx === 0),
    ],
    [
      `refresh grant, @node-oauth/oauth2-server 5 (same store), ${options.refreshConnections} connections — p50 ${ms(refRefresh.p50)}, p99 ${ms(refRefresh.p99)}, non-2xx ${refRefresh.non2xx}`,
      rate(refRefresh.rate),
      `${rate(refresh.rate)} ours`,
      `${ratio(oursTheirs)} ours/theirs (slices ${range(sliceRatios)})`,
      '≥ 3× (ours/theirs)',
      met(oursTheirs >= 3),
    ],
    ...others.map((run) => [
      `refresh grant at ${run.connections} connections: ours — p50 ${ms(run.ours.p50)}, p99 ${ms(run.ours.p99)}; theirs p50 ${ms(run.theirs.p50)}`,
      rate(run.ours.rate),
      `${rate(run.theirs.rate)} @node-oauth/oauth2-server`,
      `${ratio(run.ours.rate / run.theirs.rate)} ours/theirs`,
      '(same targets, lower concurrency)',
      `${met(run.ours.rate >= 3000)} / ${met(run.ours.rate / run.theirs.rate >= 3)}`,
    ]),
    ['idle RSS of our server (restarted, after start-up)', `${rss.startup.toFixed(1)} MB`, '—', '—', '≤ 90 MB', met(rss.startup <= 90)],
    [
      'idle RSS of our server (restarted, after one login)',
      `${rss.idle.toFixed(1)} MB`,
      `first start + one login ${rss.firstStart.toFixed(1)} MB; ${rss.busy.toFixed(1)} MB after the loads`,
      '—',
      '≤ 90 MB',
      met(rss.idle <= 90),
    ],
    ...postgresRows(r.postgres, refresh.rate, options.refreshConnections),
    [
      "fsync'd commits, trivial better-sqlite3 WAL+FULL loop (context)",
      rate(fsync),
      `${rate(fsyncBefore.commitsPerSecond)} before, ${rate(fsyncAfter.commitsPerSecond)} after; ${rate(batched)} rows at 16 rows/commit`,
      '—',
      '(disk ceiling at 1 commit/request)',
      '—',
    ],
  ];
}

function loadPhaseRows(r: TokenBenchResult): string[][] {
  const phases: Array<readonly [string, LoadResult]> = [
    ['password grant (ours)', r.password],
    ...r.refreshRuns.flatMap((run): Array<readonly [string, LoadResult]> => [
      [`refresh grant (ours, ${run.connections} connections)`, run.ours],
      [`refresh grant (@node-oauth/oauth2-server, ${run.connections} connections)`, run.theirs],
    ]),
  ];
  return phases.map(([name, result]) => [
    name,
    String(result.ok),
    rate(result.rate),
    ms(result.p50),
    ms(result.p99),
    String(result.non2xx),
    String(result.errors),
    String(result.timeouts),
  ]);
}

/** The whole report, as printed on stdout. */
export function formatReport(r: TokenBenchResult): string {
  const { options, argon2, rawSlices, fsyncBefore, fsyncAfter } = r;
  const cpus = os.cpus();
  const unstable = [
    spread(rawSlices.map((s) => s.rate)) > MAX_SPREAD ? `raw argon2id slices ${rawSlices.map((s) => rate(s.rate)).join(', ')}` : null,
    spread([fsyncBefore.commitsPerSecond, fsyncAfter.commitsPerSecond]) > MAX_SPREAD
      ? `fsync'd commits ${rate(fsyncBefore.commitsPerSecond)} before vs ${rate(fsyncAfter.commitsPerSecond)} after`
      : null,
  ].filter((line): line is string => line !== null);
  const cpuModel = cpus[0]?.model.trim() ?? 'unknown CPU';
  const serverEnv = Object.entries(options.serverEnv);
  const out = [
    `## AntPeer Auth — token endpoint bench`,
    '',
    `node ${process.version} · ${cpus.length} CPU (${cpuModel}) · ${os.platform()} ${os.release()} · libuv threadpool ${r.threadpool} · ` +
      `1-min load average ${r.loadBefore.toFixed(2)} before, ${r.loadAfter.toFixed(2)} after (the bench itself adds up to ~2)`,
    `argon2id m=${argon2.memoryCost} KiB, t=${argon2.timeCost}, p=${argon2.parallelism} · server launched from ${r.launchedFrom}` +
      `${options.profileDir ? ' UNDER --cpu-prof' : ''}${serverEnv.length ? ` with ${serverEnv.map(([k, v]) => `${k}=${v}`).join(' ')}` : ''} · ` +
      `${options.connections} connections (refresh: ${options.refreshConnections} and ${options.connections}), ${options.duration} s per measurement in ${options.slices} interleaved slices (+${options.warmup} s warm-up), loopback, load generator in the bench process`,
    '',
    table(['what', 'measured', 'reference (same run)', 'ratio', 'target', 'met?'], targetRows(r)),
    '',
    table(['load phase', 'answers', 'rate', 'p50 (weighted)', 'p99 (worst slice)', 'non-2xx', 'errors', 'timeouts'], loadPhaseRows(r)),
    '',
    ...(unstable.length
      ? [`**The machine was not quiet during this run** (references moved by more than ${MAX_SPREAD * 100}%): ${unstable.join('; ')}. Absolute rates are unreliable; the interleaved ratios less so. Run again on an idle machine.`, '']
      : []),
    `total bench time ${((performance.now() - r.started) / 1000).toFixed(0)} s`,
  ];
  return `${out.join('\n')}\n`;
}
