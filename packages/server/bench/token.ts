// `npm run bench:token` — the token endpoint against DESIGN §5, as ratios measured in one run.
//
// Every server runs in its own child process; the load generator (autocannon) runs here; all
// traffic is on loopback. In order, each with nothing else running:
//   1. the disk's fsync'd-commit ceiling (trivial better-sqlite3 WAL+FULL loop), for context;
//   2. the raw argon2id verify rate at the server's parameters, threadpool-wide;
//   3. our server: idle RSS after start-up and one login, password grants/s, refresh grants/s;
//   4. @node-oauth/oauth2-server on the same store kind, refresh grants/s.
// Fails (exit 1) on any non-2xx answer or socket error during a measured phase.
//
// Options: --duration <s> (per load phase, default 15), --connections <n> (default 10).
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

const DURATION = option('duration', 15);
const CONNECTIONS = Math.round(option('connections', 10));
const WARMUP = Math.min(3, Math.max(1, Math.round(DURATION / 5)));
const ARGON2_SECONDS = Math.min(8, Math.max(3, Math.round(DURATION / 2)));
/** Sessions handed round the refresh connections: more than connections, so a lost answer never starves one. */
const POOL_SIZE = CONNECTIONS * 4 + 16;

// --- child processes ----------------------------------------------------------------------------

interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
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
  return { ...env, ...extra };
}

function startChild(name: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`${name}: could not spawn ${args.join(' ')}`);
  let out = '';
  let err = '';
  proc.stdout?.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(-64_000)));
  proc.stderr?.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-64_000)));
  const child: Child = {
    name,
    process: proc,
    pid: proc.pid,
    stdout: () => out,
    stderr: () => err,
    exited: new Promise((resolveExit) => proc.once('exit', (code) => resolveExit(code))),
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
}

async function load(options: LoadOptions): Promise<LoadResult> {
  const samples: string[] = [];
  const { body } = options;
  const result = await autocannon({
    url: options.url,
    connections: CONNECTIONS,
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

async function main(): Promise<void> {
  const started = performance.now();
  const argon2 = { ...OWASP_ARGON2ID };
  const distMain = join(SERVER_DIR, 'dist/cli/main.js');
  const useDist = existsSync(distMain);
  const serverArgs = useDist ? [distMain, 'serve'] : ['--import', 'tsx', join(SERVER_DIR, 'src/cli/main.ts'), 'serve'];
  const cpus = os.cpus();
  const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);

  // 1. The disk: durable commits/s of a trivial loop (nothing else running).
  log('fsync ceiling (trivial better-sqlite3 WAL+FULL insert loop)…');
  const fsync = await runProbe<{ commitsPerSecond: number; batched16RowsPerSecond: number }>('fsync-probe', 'fsync-rate.ts', [
    tempDir('antpeer-bench-fsync-'),
    '3',
  ]);

  // 2. Raw argon2id verify rate, threadpool-wide, in an otherwise idle child (nothing else running).
  log(`raw argon2id verify rate (${threadpool} in flight, ${ARGON2_SECONDS} s)…`);
  const raw = await runProbe<{ rate: number; concurrency: number }>('argon2-probe', 'argon2-rate.ts', [JSON.stringify(argon2), String(ARGON2_SECONDS)]);

  // 3. Our server.
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  log(`starting our server (${useDist ? 'dist' : 'tsx'}) on ${origin}…`);
  const server = startChild('antpeer-auth serve', serverArgs, {
    PORT: String(port),
    HOST: '127.0.0.1',
    ANTPEER_DATA_DIR: tempDir('antpeer-bench-data-'),
    ANTPEER_LOG_LEVEL: 'warn',
    ANTPEER_BOOTSTRAP_USERNAME: APP.username,
    ANTPEER_BOOTSTRAP_PASSWORD: APP.password,
    ANTPEER_SOURCE_FAILURE_LIMIT: '1000000',
    ANTPEER_LOCKOUT_THRESHOLD: '1000000',
  });
  await waitHealthy(server, `${origin}/healthz`);
  const login = await postToken(`${origin}${TOKEN_PATH}`, JSON.stringify(APP), 'application/json');
  if (typeof login.refresh_token !== 'string') throw new Error(`login answered without a refresh_token: ${JSON.stringify(login)}`);
  await new Promise((r) => setTimeout(r, 2000));
  const idleRss = rssMegabytes(server.pid);
  log(`idle RSS ${idleRss.toFixed(1)} MB`);

  // Password grants: every answer's refresh token starts a session for the refresh phase.
  const pool: string[] = [login.refresh_token];
  const passwordLoad = {
    url: `${origin}${TOKEN_PATH}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(APP),
    onOk: (body: string) => pool.push(refreshTokenOf(body)),
  };
  log(`password grants (${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s)…`);
  assertClean('password warm-up', await load({ ...passwordLoad, seconds: WARMUP }));
  const password = await load({ ...passwordLoad, seconds: DURATION });
  assertClean('password grant', password);
  while (pool.length < POOL_SIZE) {
    const body = await postToken(`${origin}${TOKEN_PATH}`, JSON.stringify(APP), 'application/json');
    pool.push(body.refresh_token as string);
  }

  // Refresh grants: the same form body both servers get (ours ignores the client credentials).
  const clientCredentials = `&client_id=${REFERENCE_CLIENT.id}&client_secret=${REFERENCE_CLIENT.secret}`;
  const refreshLoad = (url: string, sessions: string[]) => ({
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: refreshWorkload(sessions, clientCredentials),
    onOk: (body: string) => sessions.push(refreshTokenOf(body)),
  });
  log(`refresh grants, ours (${pool.length} sessions, ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s)…`);
  assertClean('refresh warm-up (ours)', await load({ ...refreshLoad(`${origin}${TOKEN_PATH}`, pool), seconds: WARMUP }));
  const refresh = await load({ ...refreshLoad(`${origin}${TOKEN_PATH}`, pool), seconds: DURATION });
  assertClean('refresh grant (ours)', refresh);
  const busyRss = rssMegabytes(server.pid);
  await stopChild(server);

  // 4. The reference: @node-oauth/oauth2-server, same store kind, same workload.
  const refPort = await freePort();
  const refOrigin = `http://127.0.0.1:${refPort}`;
  log(`starting @node-oauth/oauth2-server reference on ${refOrigin}…`);
  const reference = startChild('oauth2-server reference', ['--import', 'tsx', join(BENCH_DIR, 'oauth2-server-reference.ts'), tempDir('antpeer-bench-ref-')], {
    PORT: String(refPort),
  });
  await waitHealthy(reference, `${refOrigin}/healthz`);
  const refPool: string[] = [];
  const refLogin = new URLSearchParams({ grant_type: 'password', username: REFERENCE_USER.username, password: REFERENCE_USER.password, client_id: REFERENCE_CLIENT.id, client_secret: REFERENCE_CLIENT.secret }).toString();
  while (refPool.length < POOL_SIZE) {
    const body = await postToken(`${refOrigin}/oauth/token`, refLogin, 'application/x-www-form-urlencoded');
    refPool.push(body.refresh_token as string);
  }
  log(`refresh grants, reference (${refPool.length} sessions, ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s)…`);
  assertClean('refresh warm-up (reference)', await load({ ...refreshLoad(`${refOrigin}/oauth/token`, refPool), seconds: WARMUP }));
  const refRefresh = await load({ ...refreshLoad(`${refOrigin}/oauth/token`, refPool), seconds: DURATION });
  assertClean('refresh grant (reference)', refRefresh);
  await stopChild(reference);

  // The table.
  const pwRatio = password.rate / raw.rate;
  const oursTheirs = refresh.rate / refRefresh.rate;
  const cpuModel = cpus[0]?.model.trim() ?? 'unknown CPU';
  const out = [
    `## AntPeer Auth — token endpoint bench`,
    '',
    `node ${process.version} · ${cpus.length} CPU (${cpuModel}) · ${os.platform()} ${os.release()} · libuv threadpool ${threadpool}`,
    `argon2id m=${argon2.memoryCost} KiB, t=${argon2.timeCost}, p=${argon2.parallelism} · server launched from ${useDist ? 'dist (compiled)' : 'src via tsx'} · ` +
      `${CONNECTIONS} connections, ${DURATION} s per phase (+${WARMUP} s warm-up), loopback, load generator in the bench process`,
    '',
    table(
      ['what', 'measured', 'reference (same run)', 'ratio', 'target', 'met?'],
      [
        [`raw argon2id verify (${raw.concurrency} in flight, idle child)`, rate(raw.rate), '—', '—', '(reference for the password grant)', '—'],
        ['password grant over HTTP', rate(password.rate), `${rate(raw.rate)} raw verify`, ratio(pwRatio), '≥ 0.90× raw verify', met(pwRatio >= 0.9)],
        [
          `refresh grant, durable (SQLite WAL+FULL) — p50 ${ms(refresh.p50)}, p99 ${ms(refresh.p99)}, non-2xx ${refresh.non2xx}`,
          rate(refresh.rate),
          `${rate(fsync.commitsPerSecond)} fsync'd commits (trivial loop)`,
          ratio(refresh.rate / fsync.commitsPerSecond),
          '≥ 3,000/s',
          met(refresh.rate >= 3000 && refresh.non2xx === 0),
        ],
        [
          `refresh grant, @node-oauth/oauth2-server 5 (same store) — p50 ${ms(refRefresh.p50)}, p99 ${ms(refRefresh.p99)}, non-2xx ${refRefresh.non2xx}`,
          rate(refRefresh.rate),
          `${rate(refresh.rate)} ours`,
          `${ratio(oursTheirs)} ours/theirs`,
          '≥ 3× (ours/theirs)',
          met(oursTheirs >= 3),
        ],
        ['idle RSS of our server (start-up + one login)', `${idleRss.toFixed(1)} MB`, `${busyRss.toFixed(1)} MB after the refresh load`, '—', '≤ 90 MB', met(idleRss <= 90)],
        ["fsync'd commits, trivial better-sqlite3 WAL+FULL loop (context)", rate(fsync.commitsPerSecond), `${rate(fsync.batched16RowsPerSecond)} rows at 16 rows/commit`, '—', '(disk ceiling for 1 commit/request)', '—'],
      ],
    ),
    '',
    table(
      ['load phase', 'answers', 'rate', 'p50', 'p99', 'non-2xx', 'errors', 'timeouts'],
      [
        ['password grant (ours)', password],
        ['refresh grant (ours)', refresh],
        ['refresh grant (@node-oauth/oauth2-server)', refRefresh],
      ].map(([name, r]) => {
        const result = r as LoadResult;
        return [name as string, String(result.ok), rate(result.rate), ms(result.p50), ms(result.p99), String(result.non2xx), String(result.errors), String(result.timeouts)];
      }),
    ),
    '',
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
