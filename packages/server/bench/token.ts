// `npm run bench:token` — the token endpoint against DESIGN §5, as ratios measured in one run.
//
// Every server runs in its own child process; the load generator (autocannon) runs here; all
// traffic is on loopback. In order, each with nothing else running:
//   1. the disk's fsync'd-commit ceiling (trivial better-sqlite3 WAL+FULL loop), for context;
//   2. the raw argon2id verify rate at the server's parameters, threadpool-wide;
//   3. our server: idle RSS (first start, then restarted: after start-up and after one login), password grants/s, refresh grants/s;
//   4. @node-oauth/oauth2-server on the same store kind, refresh grants/s;
//   5. refresh grants on PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL, default the local
//      test database; skipped when none answers), one instance and two instances over one schema;
//   then 1 again. Each measurement is cut in slices interleaved with its reference's (raw verify /
//   password grant; ours / theirs), so load from other processes drifting during the run hits both
//   alike; references that move by more than 15% are reported as "machine not quiet".
// Fails (exit 1) on any non-2xx answer or socket error during a measured phase.
//
// Options: --duration <s> (per load phase, default 15), --connections <n> (default 10),
//          --profile <dir> (run our server under `node --cpu-prof`, profiles written to <dir>),
//          --server <path/to/cli/main.js> (benchmark another build of the server, e.g. a prototype),
//          --server-env KEY=VALUE[,KEY=VALUE…] (extra environment for our server),
//          --refresh-connections <n> (refresh grants' headline concurrency, default 50; also run at --connections).
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OWASP_ARGON2ID } from '../src/credentials/password-hasher.js';
import { REFERENCE_CLIENT, REFERENCE_USER } from './reference-identity.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const SERVER_DIR = resolve(BENCH_DIR, '..');
const REPO_ROOT = resolve(SERVER_DIR, '../..');
const BASE = '/bankit-api/antPeer/v1';
const TOKEN_PATH = `${BASE}/auth/token`;
const APP = { username: 'bench-app', password: 'bench app password 0123456789' };

// --- options ------------------------------------------------------------------------------------

function option(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  const index = args.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (index < 0) return fallback;
  const arg = args[index] as string;
  const raw = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1];
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${raw}`);
  return value;
}

function stringOption(name: string): string | null {
  const args = process.argv.slice(2);
  const index = args.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (index < 0) return null;
  const arg = args[index] as string;
  const raw = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1];
  if (!raw) throw new Error(`--${name} needs a value`);
  return raw;
}

const DURATION = option('duration', 15);
const PROFILE_DIR = stringOption('profile');
const SERVER_MAIN = stringOption('server');
/** `--server-env KEY=VALUE[,KEY=VALUE…]`: extra environment for our server (e.g. to try a malloc setting). */
const SERVER_ENV: Record<string, string> = Object.fromEntries(
  (stringOption('server-env') ?? '')
    .split(',')
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--server-env wants KEY=VALUE, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
);
const CONNECTIONS = Math.round(option('connections', 10));
/**
 * Refresh grants are measured at this concurrency too (headline row): a token service's refresh
 * traffic comes from many clients at once, and group commit shares one fsync among the requests
 * in flight, so the rate depends on how many there are. Both figures are printed.
 */
const REFRESH_CONNECTIONS = Math.round(option('refresh-connections', 50));
const WARMUP = Math.min(3, Math.max(1, Math.round(DURATION / 5)));
/** Each measurement is split in this many slices, interleaved with its reference's, so drifting background load hits both alike. */
const SLICES = 3;
/** Sessions handed round the refresh connections: more than connections, so a lost answer never starves one. */
// A load cut at the end of its slice drops the answers still in flight, and with them up to one
// live refresh token per connection: every warm-up and slice may cost a pool that many sessions.
const POOL_SIZE = Math.max(CONNECTIONS, REFRESH_CONNECTIONS) * 24 + 16;

// --- child processes ----------------------------------------------------------------------------

interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** The next whole line the child prints on stdout (fails if it exits first). */
  nextLine(timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

const children = new Set<Child>();
const tempDirs: string[] = [];

function killAll(): void {
  for (const child of children) child.process.kill('SIGKILL');
  children.clear();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`);
    killAll();
    process.exit(130);
  });
}

/** A clean environment: nothing of the caller's ANTPEER_* / DATABASE_URL leaks into a child. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('ANTPEER_') || ['DATABASE_URL', 'PORT', 'HOST', 'NODE_OPTIONS'].includes(key)) continue;
    env[key] = value;
  }
  // Several servers run side by side: metrics on an ephemeral port each.
  return { ...env, ANTPEER_METRICS_PORT: '0', ...extra };
}

function startChild(name: string, args: string[], env: Record<string, string> = {}, options: { stdin?: boolean } = {}): Child {
  const proc = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`${name}: could not spawn ${args.join(' ')}`);
  let out = '';
  let err = '';
  let partial = '';
  const lines: string[] = [];
  let waiter: (() => void) | null = null;
  proc.stdout?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    out = (out + text).slice(-64_000);
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((line) => line.trim() !== ''));
    waiter?.();
  });
  proc.stderr?.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-64_000)));
  const exited = new Promise<number | null>((resolveExit) =>
    proc.once('exit', (code) => {
      resolveExit(code);
      waiter?.();
    }),
  );
  const child: Child = {
    name,
    process: proc,
    pid: proc.pid,
    stdout: () => out,
    stderr: () => err,
    async nextLine(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (lines.length === 0) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}):\n${err.slice(-4000)}`);
        }
        if (Date.now() > deadline) throw new Error(`${name}: no answer within ${timeoutMs} ms`);
        await new Promise<void>((wake) => {
          waiter = wake;
          setTimeout(wake, 500);
        });
        waiter = null;
      }
      return lines.shift() as string;
    },
    exited,
  };
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

/** Runs a measuring child to completion and returns the JSON object it printed last. */
async function runProbe<T>(name: string, script: string, args: string[]): Promise<T> {
  const child = startChild(name, ['--import', 'tsx', join(BENCH_DIR, script), ...args]);
  const code = await child.exited;
  if (code !== 0) throw new Error(`${name} exited with ${code}:\n${child.stderr().slice(-4000)}`);
  const line = child.stdout().trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}

async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 5000);
  await child.exited;
  clearTimeout(timer);
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function waitHealthy(child: Child, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${child.name} exited before it was ready (${child.process.exitCode ?? child.process.signalCode}):\n${child.stderr().slice(-4000)}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name} not healthy at ${url} after ${timeoutMs} ms:\n${child.stderr().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The newest modification time of the server's sources, to tell a stale dist. */
function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function rssMegabytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

// --- HTTP -----------------------------------------------------------------------------------------

async function postToken(url: string, body: string, contentType: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

function refreshTokenOf(body: string): string {
  const parsed = JSON.parse(body) as { refresh_token?: unknown };
  if (typeof parsed.refresh_token !== 'string') throw new Error(`no refresh_token in ${body.slice(0, 200)}`);
  return parsed.refresh_token;
}

// --- load ----------------------------------------------------------------------------------------

interface LoadResult {
  rate: number;
  ok: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  samples: string[];
}

interface LoadOptions {
  url: string;
  headers: Record<string, string>;
  /** A fixed body, or one built per request (called once per request sent). */
  body: string | (() => string);
  /** Called with every 2xx answer's body. */
  onOk?: (body: string) => void;
  seconds: number;
  /** Default: --connections. */
  connections?: number;
}

async function load(options: LoadOptions): Promise<LoadResult> {
  const samples: string[] = [];
  const { body } = options;
  const result = await autocannon({
    url: options.url,
    connections: options.connections ?? CONNECTIONS,
    pipelining: 1,
    duration: options.seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        headers: options.headers,
        ...(typeof body === 'string' ? { body } : {}),
        ...(typeof body === 'function'
          ? {
              setupRequest: (request: autocannon.Request) => {
                request.body = body();
                return request;
              },
            }
          : {}),
        onResponse: (status: number, responseBody: string) => {
          if (status >= 200 && status < 300) options.onOk?.(responseBody);
          else if (samples.length < 5) samples.push(`${status} ${responseBody.slice(0, 300)}`);
        },
      },
    ],
  });
  return {
    rate: result['2xx'] / result.duration,
    ok: result['2xx'],
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    samples,
  };
}

/** Fails loudly when a measured phase saw anything but 2xx answers. */
function assertClean(what: string, result: LoadResult): void {
  if (result.non2xx === 0 && result.errors === 0 && result.timeouts === 0) return;
  failures.push(
    `${what}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts` +
      (result.samples.length ? `\n    e.g. ${result.samples.join('\n         ')}` : ''),
  );
}
const failures: string[] = [];

/**
 * The refresh workload: every request carries the live refresh token of a session nobody else is
 * using at that moment, and its answer's new token goes back to the pool (real rotations, no
 * grace-window replays). Sessions whose answer is lost (the run ends with it in flight) just
 * drop out of the pool.
 */
function refreshWorkload(pool: string[], extra: string): () => string {
  return () => {
    const token = pool.shift();
    // An empty pool would be a bench bug; an unknown token then gets a 400 that fails the run.
    return `grant_type=refresh_token&refresh_token=${encodeURIComponent(token ?? 'pool-exhausted')}${extra}`;
  };
}

// --- formatting ----------------------------------------------------------------------------------

const rate = (value: number) => `${Math.round(value).toLocaleString('en-US')}/s`;
const ms = (value: number) => `${value.toFixed(1)} ms`;
const ratio = (value: number) => `${value.toFixed(2)}×`;
const met = (ok: boolean) => (ok ? 'yes' : '**no**');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

// --- the run -------------------------------------------------------------------------------------

interface FsyncProbe {
  commitsPerSecond: number;
  batched16RowsPerSecond: number;
}
interface Argon2Slice {
  rate: number;
  count: number;
  elapsed: number;
  concurrency: number;
}

const probeFsync = () => runProbe<FsyncProbe>('fsync-probe', 'fsync-rate.ts', [tempDir('antpeer-bench-fsync-'), '3']);
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
/** How far apart measurements of the same thing are, relative to their mean. */
const spread = (values: number[]) => (Math.max(...values) - Math.min(...values)) / mean(values);
const MAX_SPREAD = 0.15;

/** Several slices of one load measured as one: total answers over total time, p50 weighted, worst p99. */
type PostgresResult =
  | { skipped: string }
  | { one: LoadResult; two: LoadResult; twoPerInstance: [number, number] };

const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Refresh grants on PostgreSQL, with one and with two server instances, each in its own process. */
async function measurePostgres(serverArgs: string[]): Promise<PostgresResult> {
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: BENCH_DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    return { skipped: `no PostgreSQL at BENCH_DATABASE_URL / TEST_DATABASE_URL (${(error as Error).message})` };
  }
  const schema = `antpeer_bench_${randomBytes(6).toString('hex')}`;
  const ports = [await freePort(), await freePort()] as const;
  const issuer = `http://127.0.0.1:${ports[0]}${TOKEN_PATH.replace(/\/auth\/token$/, '')}`;
  // Every instance of one deployment shares the server secret and the issuer.
  const secret = randomBytes(32).toString('base64url');
  const env = (port: number) => ({
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: BENCH_DATABASE_URL,
    ANTPEER_DATABASE_SCHEMA: schema,
    ANTPEER_SECRET: secret,
    ANTPEER_ISSUER: issuer,
    ANTPEER_DATA_DIR: tempDir('antpeer-bench-pg-'),
    ANTPEER_LOG_LEVEL: 'warn',
    ANTPEER_BOOTSTRAP_USERNAME: APP.username,
    ANTPEER_BOOTSTRAP_PASSWORD: APP.password,
    ANTPEER_SOURCE_FAILURE_LIMIT: '1000000',
    ANTPEER_LOCKOUT_THRESHOLD: '1000000',
  });
  const instances: Child[] = [];
  try {
    log(`PostgreSQL: one instance (schema ${schema})…`);
    instances.push(startChild('antpeer-auth serve (PostgreSQL A)', serverArgs, env(ports[0])));
    await waitHealthy(instances[0] as Child, `http://127.0.0.1:${ports[0]}/healthz`);
    const pools: [string[], string[]] = [[], []];
    for (let i = 0; i < POOL_SIZE * 2; i++) {
      const body = await postToken(`http://127.0.0.1:${ports[0]}${TOKEN_PATH}`, JSON.stringify(APP), 'application/json');
      pools[i % 2]?.push(body.refresh_token as string);
    }
    const refreshAt = (port: number, sessions: string[]) => ({
      url: `http://127.0.0.1:${port}${TOKEN_PATH}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: refreshWorkload(sessions, ''),
      onOk: (body: string) => sessions.push(refreshTokenOf(body)),
    });
    const both = [...pools[0], ...pools[1]];
    assertClean('PostgreSQL warm-up', await load({ ...refreshAt(ports[0], both), seconds: WARMUP, connections: REFRESH_CONNECTIONS }));
    const one = await load({ ...refreshAt(ports[0], both), seconds: DURATION, connections: REFRESH_CONNECTIONS });
    assertClean('refresh grant (PostgreSQL, one instance)', one);
    const half = Math.floor(both.length / 2);
    const split: [string[], string[]] = [both.slice(0, half), both.slice(half)];

    log('PostgreSQL: two instances…');
    instances.push(startChild('antpeer-auth serve (PostgreSQL B)', serverArgs, env(ports[1])));
    await waitHealthy(instances[1] as Child, `http://127.0.0.1:${ports[1]}/healthz`);
    await Promise.all([0, 1].map((i) => load({ ...refreshAt(ports[i] as number, split[i] as string[]), seconds: WARMUP, connections: REFRESH_CONNECTIONS })));
    const [a, b] = await Promise.all([0, 1].map((i) => load({ ...refreshAt(ports[i] as number, split[i] as string[]), seconds: DURATION, connections: REFRESH_CONNECTIONS }))) as [LoadResult, LoadResult];
    assertClean('refresh grant (PostgreSQL, instance A of two)', a);
    assertClean('refresh grant (PostgreSQL, instance B of two)', b);
    const two: LoadResult = {
      ...a,
      ok: a.ok + b.ok,
      rate: a.rate + b.rate,
      non2xx: a.non2xx + b.non2xx,
      errors: a.errors + b.errors,
      timeouts: a.timeouts + b.timeouts,
      p50: Math.max(a.p50, b.p50),
      p99: Math.max(a.p99, b.p99),
    };
    return { one, two, twoPerInstance: [a.rate, b.rate] };
  } finally {
    await Promise.all(instances.map(stopChild));
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

function postgresRows(result: PostgresResult, sqliteRate: number): string[][] {
  if ('skipped' in result) return [['refresh grant, PostgreSQL', 'skipped', result.skipped, '—', '—', '—']];
  return [
    [
      `refresh grant, PostgreSQL, 1 instance, ${REFRESH_CONNECTIONS} connections — p50 ${ms(result.one.p50)}, p99 ${ms(result.one.p99)}, non-2xx ${result.one.non2xx}`,
      rate(result.one.rate),
      `${rate(sqliteRate)} SQLite`,
      `${ratio(result.one.rate / sqliteRate)} of SQLite`,
      '(no target)',
      '—',
    ],
    [
      `refresh grant, PostgreSQL, 2 instances (same machine), ${REFRESH_CONNECTIONS} connections each — p50 ${ms(result.two.p50)}, p99 ${ms(result.two.p99)}, non-2xx ${result.two.non2xx}`,
      rate(result.two.rate),
      `${rate(result.one.rate)} with 1 instance (${result.twoPerInstance.map(rate).join(' + ')})`,
      `${ratio(result.two.rate / result.one.rate)} of 1 instance`,
      '(no target)',
      '—',
    ],
  ];
}

function combine(slices: LoadResult[], seconds: number): LoadResult {
  const ok = slices.reduce((sum, slice) => sum + slice.ok, 0);
  return {
    rate: ok / seconds,
    ok,
    p50: slices.reduce((sum, slice) => sum + slice.p50 * slice.ok, 0) / Math.max(1, ok),
    p99: Math.max(...slices.map((slice) => slice.p99)),
    non2xx: slices.reduce((sum, slice) => sum + slice.non2xx, 0),
    errors: slices.reduce((sum, slice) => sum + slice.errors, 0),
    timeouts: slices.reduce((sum, slice) => sum + slice.timeouts, 0),
    samples: slices.flatMap((slice) => slice.samples).slice(0, 5),
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const argon2 = { ...OWASP_ARGON2ID };
  const distMain = SERVER_MAIN ? resolve(SERVER_MAIN) : join(SERVER_DIR, 'dist/cli/main.js');
  if (SERVER_MAIN && !existsSync(distMain)) throw new Error(`--server ${SERVER_MAIN}: no such file`);
  const useDist = existsSync(distMain);
  const buildInfo = join(SERVER_DIR, 'dist/.tsbuildinfo');
  const builtAt = useDist ? statSync(existsSync(buildInfo) && !SERVER_MAIN ? buildInfo : distMain).mtimeMs : 0;
  const distStale = useDist && !SERVER_MAIN && newestSourceMtime(join(SERVER_DIR, 'src')) > builtAt;
  if (distStale) log('warning: packages/server/dist is older than src/ — this measures the last build (run `npm run build`)');
  const profileArgs = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${resolve(PROFILE_DIR)}`] : [];
  const serverArgs = [...profileArgs, ...(useDist ? [distMain, 'serve'] : ['--import', 'tsx', join(SERVER_DIR, 'src/cli/main.ts'), 'serve'])];
  const launchedFrom = SERVER_MAIN ? `${SERVER_MAIN} (--server)` : useDist ? `dist (compiled${distStale ? ', OLDER THAN src/' : ''})` : 'src via tsx';
  const cpus = os.cpus();
  const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const loadBefore = os.loadavg()[0] ?? 0;
  if (loadBefore > 0.5) log(`warning: 1-minute load average is ${loadBefore.toFixed(2)} before start; something else is using the CPUs`);
  const slice = DURATION / SLICES;

  // 1. The disk's durable-commit ceiling, nothing else of ours running (again at the end).
  log('fsync ceiling (trivial better-sqlite3 WAL+FULL insert loop)…');
  const fsyncBefore = await probeFsync();

  // 2. The raw argon2id verifier: its own child, idle except while it measures, and it measures
  // only while nothing else of ours is working (interleaved with the password-grant slices).
  const verifier = startChild('argon2 verifier', ['--import', 'tsx', join(BENCH_DIR, 'argon2-rate.ts'), JSON.stringify(argon2)], {}, { stdin: true });
  const verifierReady = JSON.parse(await verifier.nextLine()) as { concurrency: number };
  const measureRaw = async (seconds: number): Promise<Argon2Slice> => {
    verifier.process.stdin?.write(`measure ${seconds}\n`);
    return JSON.parse(await verifier.nextLine()) as Argon2Slice;
  };

  // 3. Our server. Its first start creates the client application (one argon2 hash, as in the
  // README's quick start); the server is then restarted over the same data, as in production,
  // and its idle RSS is read after start-up and after one login.
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const serverEnv = {
    ...SERVER_ENV,
    PORT: String(port),
    HOST: '127.0.0.1',
    ANTPEER_DATA_DIR: tempDir('antpeer-bench-data-'),
    ANTPEER_LOG_LEVEL: 'warn',
    ANTPEER_BOOTSTRAP_USERNAME: APP.username,
    ANTPEER_BOOTSTRAP_PASSWORD: APP.password,
    ANTPEER_SOURCE_FAILURE_LIMIT: '1000000',
    ANTPEER_LOCKOUT_THRESHOLD: '1000000',
  };
  log(`starting our server (${launchedFrom}) on ${origin}…`);
  const firstStart = startChild('antpeer-auth serve (first start)', serverArgs, serverEnv);
  await waitHealthy(firstStart, `${origin}/healthz`);
  await postToken(`${origin}${TOKEN_PATH}`, JSON.stringify(APP), 'application/json');
  await new Promise((r) => setTimeout(r, 2000));
  const firstStartRss = rssMegabytes(firstStart.pid);
  await stopChild(firstStart);
  const server = startChild('antpeer-auth serve', serverArgs, serverEnv);
  await waitHealthy(server, `${origin}/healthz`);
  await new Promise((r) => setTimeout(r, 2000));
  const startupRss = rssMegabytes(server.pid);
  const login = await postToken(`${origin}${TOKEN_PATH}`, JSON.stringify(APP), 'application/json');
  if (typeof login.refresh_token !== 'string') throw new Error(`login answered without a refresh_token: ${JSON.stringify(login)}`);
  await new Promise((r) => setTimeout(r, 2000));
  const idleRss = rssMegabytes(server.pid);
  log(`idle RSS ${startupRss.toFixed(1)} MB after start-up, ${idleRss.toFixed(1)} MB after one login (first start: ${firstStartRss.toFixed(1)} MB)`);

  // 4. The reference server (idle until its refresh slices).
  const refPort = await freePort();
  const refOrigin = `http://127.0.0.1:${refPort}`;
  log(`starting @node-oauth/oauth2-server reference on ${refOrigin}…`);
  const reference = startChild('oauth2-server reference', ['--import', 'tsx', join(BENCH_DIR, 'oauth2-server-reference.ts'), tempDir('antpeer-bench-ref-')], {
    PORT: String(refPort),
  });
  await waitHealthy(reference, `${refOrigin}/healthz`);
  const refPool: string[] = [];
  const refLogin = new URLSearchParams({
    grant_type: 'password',
    username: REFERENCE_USER.username,
    password: REFERENCE_USER.password,
    client_id: REFERENCE_CLIENT.id,
    client_secret: REFERENCE_CLIENT.secret,
  }).toString();
  while (refPool.length < POOL_SIZE) {
    const body = await postToken(`${refOrigin}/oauth/token`, refLogin, 'application/x-www-form-urlencoded');
    refPool.push(body.refresh_token as string);
  }

  // 5. Password grants, interleaved with the raw verify rate: raw, ours, raw, ours, …
  // Every answer's refresh token starts a session for the refresh phase.
  const pool: string[] = [login.refresh_token];
  const passwordLoad = {
    url: `${origin}${TOKEN_PATH}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(APP),
    onOk: (body: string) => pool.push(refreshTokenOf(body)),
  };
  log(`password grants vs raw argon2id (${CONNECTIONS} connections, ${WARMUP} s warm-up, then ${SLICES} × (${slice} s raw + ${slice} s HTTP))…`);
  assertClean('password warm-up', await load({ ...passwordLoad, seconds: WARMUP }));
  const rawSlices: Argon2Slice[] = [];
  const passwordSlices: LoadResult[] = [];
  for (let i = 0; i < SLICES; i++) {
    rawSlices.push(await measureRaw(slice));
    passwordSlices.push(await load({ ...passwordLoad, seconds: slice }));
  }
  const password = combine(passwordSlices, DURATION);
  assertClean('password grant', password);
  verifier.process.stdin?.end();
  await verifier.exited;
  const raw = rawSlices.reduce((sum, s) => sum + s.count, 0) / rawSlices.reduce((sum, s) => sum + s.elapsed, 0);
  while (pool.length < POOL_SIZE) {
    const body = await postToken(`${origin}${TOKEN_PATH}`, JSON.stringify(APP), 'application/json');
    pool.push(body.refresh_token as string);
  }

  // 6. Refresh grants, ours and the reference interleaved: ours, theirs, ours, theirs, …
  // The same form body to both (ours ignores the client credentials).
  const clientCredentials = `&client_id=${REFERENCE_CLIENT.id}&client_secret=${REFERENCE_CLIENT.secret}`;
  const refreshLoad = (url: string, sessions: string[]) => ({
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: refreshWorkload(sessions, clientCredentials),
    onOk: (body: string) => sessions.push(refreshTokenOf(body)),
  });
  const ours = refreshLoad(`${origin}${TOKEN_PATH}`, pool);
  const theirs = refreshLoad(`${refOrigin}/oauth/token`, refPool);
  /** Ours and theirs at one concurrency, in interleaved slices. */
  const refreshAt = async (connections: number) => {
    log(`refresh grants, ours vs reference (${pool.length} / ${refPool.length} sessions, ${connections} connections, ${WARMUP} s warm-up each, then ${SLICES} × (${slice} s ours + ${slice} s theirs))…`);
    assertClean('refresh warm-up (ours)', await load({ ...ours, seconds: WARMUP, connections }));
    assertClean('refresh warm-up (reference)', await load({ ...theirs, seconds: WARMUP, connections }));
    const oursSlices: LoadResult[] = [];
    const theirsSlices: LoadResult[] = [];
    for (let i = 0; i < SLICES; i++) {
      oursSlices.push(await load({ ...ours, seconds: slice, connections }));
      theirsSlices.push(await load({ ...theirs, seconds: slice, connections }));
    }
    const result = { connections, ours: combine(oursSlices, DURATION), theirs: combine(theirsSlices, DURATION), oursSlices, theirsSlices };
    assertClean(`refresh grant (ours, ${connections} connections)`, result.ours);
    assertClean(`refresh grant (reference, ${connections} connections)`, result.theirs);
    return result;
  };
  const refreshRuns = [await refreshAt(REFRESH_CONNECTIONS), ...(REFRESH_CONNECTIONS === CONNECTIONS ? [] : [await refreshAt(CONNECTIONS)])];
  const { ours: refresh, theirs: refRefresh, oursSlices, theirsSlices } = refreshRuns[0] as (typeof refreshRuns)[number];
  const busyRss = rssMegabytes(server.pid);
  await Promise.all([stopChild(server), stopChild(reference)]);
  if (server.stderr().trim()) log(`our server's stderr (tail):\n${server.stderr().trim().slice(-2000)}`);

  // 7. The PostgreSQL store: one instance, then two instances over one database, load split
  // across them. Skipped (said in the table) when no PostgreSQL answers.
  const postgres = await measurePostgres(serverArgs);

  // 1 again.
  log('fsync ceiling again…');
  const fsyncAfter = await probeFsync();
  const loadAfter = os.loadavg()[0] ?? 0;

  // The table.
  const fsync = mean([fsyncBefore.commitsPerSecond, fsyncAfter.commitsPerSecond]);
  const batched = mean([fsyncBefore.batched16RowsPerSecond, fsyncAfter.batched16RowsPerSecond]);
  const pwRatio = password.rate / raw;
  const oursTheirs = refresh.rate / refRefresh.rate;
  const sliceRatios = oursSlices.map((s, i) => s.rate / (theirsSlices[i]?.rate ?? NaN));
  const pwSliceRatios = passwordSlices.map((s, i) => s.rate / (rawSlices[i]?.rate ?? NaN));
  const range = (values: number[]) => `${ratio(Math.min(...values))}–${ratio(Math.max(...values))}`;
  const unstable = [
    spread(rawSlices.map((s) => s.rate)) > MAX_SPREAD ? `raw argon2id slices ${rawSlices.map((s) => rate(s.rate)).join(', ')}` : null,
    spread([fsyncBefore.commitsPerSecond, fsyncAfter.commitsPerSecond]) > MAX_SPREAD
      ? `fsync'd commits ${rate(fsyncBefore.commitsPerSecond)} before vs ${rate(fsyncAfter.commitsPerSecond)} after`
      : null,
  ].filter((line): line is string => line !== null);
  const cpuModel = cpus[0]?.model.trim() ?? 'unknown CPU';
  const out = [
    `## AntPeer Auth — token endpoint bench`,
    '',
    `node ${process.version} · ${cpus.length} CPU (${cpuModel}) · ${os.platform()} ${os.release()} · libuv threadpool ${threadpool} · ` +
      `1-min load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (the bench itself adds up to ~2)`,
    `argon2id m=${argon2.memoryCost} KiB, t=${argon2.timeCost}, p=${argon2.parallelism} · server launched from ${launchedFrom}` +
      `${PROFILE_DIR ? ' UNDER --cpu-prof' : ''}${Object.keys(SERVER_ENV).length ? ` with ${Object.entries(SERVER_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''} · ` +
      `${CONNECTIONS} connections (refresh: ${REFRESH_CONNECTIONS} and ${CONNECTIONS}), ${DURATION} s per measurement in ${SLICES} interleaved slices (+${WARMUP} s warm-up), loopback, load generator in the bench process`,
    '',
    table(
      ['what', 'measured', 'reference (same run)', 'ratio', 'target', 'met?'],
      [
        [
          `raw argon2id verify (${verifierReady.concurrency} in flight, own idle child)`,
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
          `refresh grant, durable (SQLite WAL+FULL), ${REFRESH_CONNECTIONS} connections — p50 ${ms(refresh.p50)}, p99 ${ms(refresh.p99)}, non-2xx ${refresh.non2xx}`,
          rate(refresh.rate),
          `${rate(fsync)} fsync'd commits (trivial loop)`,
          ratio(refresh.rate / fsync),
          '≥ 3,000/s',
          met(refresh.rate >= 3000 && refresh.non2xx === 0),
        ],
        [
          `refresh grant, @node-oauth/oauth2-server 5 (same store), ${REFRESH_CONNECTIONS} connections — p50 ${ms(refRefresh.p50)}, p99 ${ms(refRefresh.p99)}, non-2xx ${refRefresh.non2xx}`,
          rate(refRefresh.rate),
          `${rate(refresh.rate)} ours`,
          `${ratio(oursTheirs)} ours/theirs (slices ${range(sliceRatios)})`,
          '≥ 3× (ours/theirs)',
          met(oursTheirs >= 3),
        ],
        ...refreshRuns.slice(1).map((run) => [
          `refresh grant at ${run.connections} connections: ours — p50 ${ms(run.ours.p50)}, p99 ${ms(run.ours.p99)}; theirs p50 ${ms(run.theirs.p50)}`,
          rate(run.ours.rate),
          `${rate(run.theirs.rate)} @node-oauth/oauth2-server`,
          `${ratio(run.ours.rate / run.theirs.rate)} ours/theirs`,
          '(same targets, lower concurrency)',
          `${met(run.ours.rate >= 3000)} / ${met(run.ours.rate / run.theirs.rate >= 3)}`,
        ]),
        ['idle RSS of our server (restarted, after start-up)', `${startupRss.toFixed(1)} MB`, '—', '—', '≤ 90 MB', met(startupRss <= 90)],
        ['idle RSS of our server (restarted, after one login)', `${idleRss.toFixed(1)} MB`, `first start + one login ${firstStartRss.toFixed(1)} MB; ${busyRss.toFixed(1)} MB after the loads`, '—', '≤ 90 MB', met(idleRss <= 90)],
        ...postgresRows(postgres, refresh.rate),
        [
          "fsync'd commits, trivial better-sqlite3 WAL+FULL loop (context)",
          rate(fsync),
          `${rate(fsyncBefore.commitsPerSecond)} before, ${rate(fsyncAfter.commitsPerSecond)} after; ${rate(batched)} rows at 16 rows/commit`,
          '—',
          '(disk ceiling at 1 commit/request)',
          '—',
        ],
      ],
    ),
    '',
    table(
      ['load phase', 'answers', 'rate', 'p50 (weighted)', 'p99 (worst slice)', 'non-2xx', 'errors', 'timeouts'],
      (
        [
          ['password grant (ours)', password] as const,
          ...refreshRuns.flatMap((run): Array<readonly [string, LoadResult]> => [
            [`refresh grant (ours, ${run.connections} connections)`, run.ours],
            [`refresh grant (@node-oauth/oauth2-server, ${run.connections} connections)`, run.theirs],
          ]),
        ] as Array<readonly [string, LoadResult]>
      ).map(([name, result]) => [
        name,
        String(result.ok),
        rate(result.rate),
        ms(result.p50),
        ms(result.p99),
        String(result.non2xx),
        String(result.errors),
        String(result.timeouts),
      ]),
    ),
    '',
    ...(unstable.length
      ? [`**The machine was not quiet during this run** (references moved by more than ${MAX_SPREAD * 100}%): ${unstable.join('; ')}. Absolute rates are unreliable; the interleaved ratios less so. Run again on an idle machine.`, '']
      : []),
    `total bench time ${((performance.now() - started) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);

  if (failures.length > 0) {
    process.stderr.write(`\nbench: FAILED — not every request succeeded:\n  ${failures.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`\nbench: FAILED — ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(killAll);
