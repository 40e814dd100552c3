// `npm run bench -- password` — password grants against the raw argon2id verify rate (issue 13),
// and what a flood of wrong logins does to refresh and gateway latency (issue 14), in one run.
//
// Our server runs from dist in its own child process, each raw verifier in its own idle child; the
// load (autocannon, and a paced client for latencies) runs here; all traffic is on loopback.
//   1. password grants/s over HTTP, in slices interleaved with the raw verify rate of
//      @node-rs/argon2 and of argon2 (same parameters: OWASP argon2id);
//   2. refresh grants and gateway requests at a fixed pace (open loop: a slow answer does not slow
//      the sender), latency p50/p95/p99, in slices alternating without and with a concurrent flood
//      of password grants for random usernames from random addresses (X-Forwarded-For, a few
//      attempts per address, so no per-source limit trips), at each --flood rate, sent by a load
//      process of its own (login-flood.ts) so that it never delays the latency client.
// Fails (exit 1) on a socket error or an unexpected status during a measured phase.
//
// Options: --duration <s> (per measurement, default 15), --connections <n> (password grants, default 10),
//          --flood <rate>[,<rate>…] (wrong logins/s, default 100), --pace <rate> (refreshes/s and
//          gateway requests/s, default 50), --server <path/to/cli/main.js> (another build, e.g. before
//          a change), --server-env KEY=VALUE[,KEY=VALUE…].
import autocannon from 'autocannon';
import { Agent, request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { OWASP_ARGON2ID } from '../src/credentials/password-hasher.js';
import { freePort, option, startChild, stopChild, stringOption, table, tempDir, waitHealthy, type Child } from './password-harness.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const SERVER_DIR = resolve(BENCH_DIR, '..');
const BASE = '/bankit-api/antPeer/v1';
const TOKEN_PATH = `${BASE}/auth/token`;
const APP = { username: 'bench-app', password: 'bench app password 0123456789' };

const DURATION = option('duration', 15);
const CONNECTIONS = Math.round(option('connections', 10));
const PACE = option('pace', 50);
const FLOODS = (stringOption('flood') ?? '100').split(',').map(Number);
if (FLOODS.some((rate) => !(rate > 0))) throw new Error('--flood wants positive rates, e.g. 100,400');
const SERVER_MAIN = stringOption('server') ?? join(SERVER_DIR, 'dist/cli/main.js');
const SERVER_ENV: Record<string, string> = Object.fromEntries(
  (stringOption('server-env') ?? '')
    .split(',')
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
const SLICES = 3;
const slice = DURATION / SLICES;
/** Refresh sessions: more than can be in flight at once, even at a 4 s answer time. */
const SESSIONS = Math.ceil(PACE * 4);

const rate = (value: number) => `${value.toFixed(1)}/s`;
const ms = (value: number) => `${value.toFixed(1)} ms`;
const ratio = (value: number) => `${value.toFixed(2)}×`;
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const failures: string[] = [];

// --- raw verifiers -------------------------------------------------------------------------------

interface VerifySlice {
  rate: number;
  count: number;
  elapsed: number;
  concurrency: number;
}

async function startVerifier(binding: 'node-rs' | 'argon2'): Promise<{ child: Child; measure(seconds: number): Promise<VerifySlice> }> {
  const child = startChild(`${binding} verifier`, ['--import', 'tsx', join(BENCH_DIR, 'verify-rate.ts'), binding, JSON.stringify(OWASP_ARGON2ID)], {}, { stdin: true });
  await child.nextLine();
  return {
    child,
    async measure(seconds) {
      child.process.stdin?.write(`measure ${seconds}\n`);
      return JSON.parse(await child.nextLine()) as VerifySlice;
    },
  };
}

const sliceRate = (slices: VerifySlice[]) => slices.reduce((sum, s) => sum + s.count, 0) / slices.reduce((sum, s) => sum + s.elapsed, 0);

// --- HTTP ----------------------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** One request on a kept-alive connection: status, body, milliseconds until the whole answer. */
function send(origin: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolveAnswer, reject) => {
    const req = request(`${origin}${path}`, { method, headers, agent, timeout: 60_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolveAnswer({ status: res.statusCode ?? 0, body: text, ms: performance.now() - started }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 60 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function login(origin: string): Promise<{ access_token: string; refresh_token: string }> {
  const answer = await send(origin, 'POST', TOKEN_PATH, { 'content-type': 'application/json' }, JSON.stringify(APP));
  if (answer.status !== 200) throw new Error(`login answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  return JSON.parse(answer.body) as { access_token: string; refresh_token: string };
}

interface Paced {
  latencies: number[];
  unexpected: number;
  sample: string | null;
}

/**
 * Sends `perSecond` requests a second for `seconds`, each when its time comes whatever the earlier
 * ones are doing (open loop), and waits for every answer.
 */
async function paced(perSecond: number, seconds: number, next: () => Promise<{ ok: boolean; ms: number; detail: string }>): Promise<Paced> {
  const result: Paced = { latencies: [], unexpected: 0, sample: null };
  const total = Math.round(perSecond * seconds);
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(
      next().then(
        (answer) => {
          result.latencies.push(answer.ms);
          if (!answer.ok) {
            result.unexpected++;
            result.sample ??= answer.detail;
          }
        },
        (error: unknown) => {
          result.unexpected++;
          result.sample ??= String(error);
        },
      ),
    );
  }
  await Promise.all(inFlight);
  return result;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

interface Flood {
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
}

// --- the run -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const cpus = os.cpus();
  const loadBefore = os.loadavg()[0] ?? 0;

  const verifiers = { rs: await startVerifier('node-rs'), argon2: await startVerifier('argon2') };

  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = startChild('antpeer-auth serve', [SERVER_MAIN, 'serve'], {
    PORT: String(port),
    HOST: '127.0.0.1',
    ANTPEER_DATA_DIR: tempDir('antpeer-bench-password-'),
    ANTPEER_LOG_LEVEL: 'warn',
    ANTPEER_BOOTSTRAP_USERNAME: APP.username,
    ANTPEER_BOOTSTRAP_PASSWORD: APP.password,
    // The flood's addresses come in X-Forwarded-For, as from one load balancer in front.
    ANTPEER_TRUST_PROXY: '1',
    // Every password grant here starts a session of the one bench application.
    ANTPEER_MAX_SESSIONS_PER_CLIENT: '10000000',
    ...SERVER_ENV,
  });
  await waitHealthy(server, `${origin}/healthz`);
  const session = await login(origin);
  const flooder = startChild('login flood', ['--import', 'tsx', join(BENCH_DIR, 'login-flood.ts'), `${origin}${TOKEN_PATH}`], {}, { stdin: true });
  await flooder.nextLine();
  const flood = async (perSecond: number, seconds: number): Promise<Flood> => {
    flooder.process.stdin?.write(`flood ${perSecond} ${seconds}\n`);
    return JSON.parse(await flooder.nextLine()) as Flood;
  };

  // 1. Password grants, interleaved with the raw verifiers: rs, argon2, ours, rs, argon2, ours, …
  log(`password grants vs raw verify (${CONNECTIONS} connections, ${SLICES} × (${slice} s + ${slice} s + ${slice} s))…`);
  const passwordLoad = (seconds: number) =>
    autocannon({
      url: `${origin}${TOKEN_PATH}`,
      connections: CONNECTIONS,
      duration: seconds,
      timeout: 30,
      requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(APP) }],
    });
  await passwordLoad(2);
  const raw = { rs: [] as VerifySlice[], argon2: [] as VerifySlice[] };
  const ours: autocannon.Result[] = [];
  for (let i = 0; i < SLICES; i++) {
    raw.rs.push(await verifiers.rs.measure(slice));
    raw.argon2.push(await verifiers.argon2.measure(slice));
    ours.push(await passwordLoad(slice));
  }
  await Promise.all([verifiers.rs.child, verifiers.argon2.child].map(async (child) => (child.process.stdin?.end(), child.exited)));
  const oursOk = ours.reduce((sum, r) => sum + r['2xx'], 0);
  const oursRate = oursOk / ours.reduce((sum, r) => sum + r.duration, 0);
  // A 503 is the pool shedding load (a busy machine makes hashes slower than the deadline); anything else fails the run.
  const oursStatuses: Record<string, number> = {};
  for (const r of ours) for (const [code, stat] of Object.entries(r.statusCodeStats ?? {})) oursStatuses[code] = (oursStatuses[code] ?? 0) + (stat.count ?? 0);
  const oursRefused = oursStatuses['503'] ?? 0;
  const oursBad = ours.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0) - oursRefused;
  if (oursBad > 0) failures.push(`password grants: ${oursBad} unexpected answers, errors or timeouts (${JSON.stringify(oursStatuses)})`);
  const rsRate = sliceRate(raw.rs);
  const argon2Rate = sliceRate(raw.argon2);

  // 2. Refresh and gateway latency, alternately without and with a flood of wrong logins.
  const pool: string[] = [];
  while (pool.length < SESSIONS) pool.push((await login(origin)).refresh_token);
  const refresh = async () => {
    const token = pool.shift();
    if (!token) return { ok: false, ms: 0, detail: 'no idle session left (answers slower than 4 s)' };
    const answer = await send(origin, 'POST', TOKEN_PATH, { 'content-type': 'application/x-www-form-urlencoded' }, `grant_type=refresh_token&refresh_token=${token}`);
    if (answer.status === 200) pool.push((JSON.parse(answer.body) as { refresh_token: string }).refresh_token);
    return { ok: answer.status === 200, ms: answer.ms, detail: `${answer.status} ${answer.body.slice(0, 200)}` };
  };
  const gateway = async () => {
    // No upstream is configured: a verified token gets 404, anything else 401.
    const answer = await send(origin, 'GET', `${BASE}/user/accounts`, { authorization: `Bearer ${session.access_token}` });
    return { ok: answer.status === 404, ms: answer.ms, detail: `${answer.status} ${answer.body.slice(0, 200)}` };
  };
  const measureLatency = async (floodRate: number | null) => {
    const [refreshes, gateways, floodResult] = await Promise.all([
      paced(PACE, slice, refresh),
      paced(PACE, slice, gateway),
      floodRate === null ? Promise.resolve(null) : flood(floodRate, slice),
    ]);
    return { refreshes, gateways, flood: floodResult };
  };
  type Phase = Awaited<ReturnType<typeof measureLatency>>;
  const merge = (phases: Phase[], key: 'refreshes' | 'gateways'): Paced => ({
    latencies: phases.flatMap((phase) => phase[key].latencies),
    unexpected: phases.reduce((sum, phase) => sum + phase[key].unexpected, 0),
    sample: phases.find((phase) => phase[key].sample)?.[key].sample ?? null,
  });
  const latencyRuns: Array<{ floodRate: number; quiet: Phase[]; flooded: Phase[] }> = [];
  await measureLatency(null); // warm-up
  for (const floodRate of FLOODS) {
    log(`refresh and gateway latency at ${PACE}/s each, without and with ${floodRate} wrong logins/s (${SLICES} × (${slice} s + ${slice} s))…`);
    const run = { floodRate, quiet: [] as Phase[], flooded: [] as Phase[] };
    for (let i = 0; i < SLICES; i++) {
      run.quiet.push(await measureLatency(null));
      run.flooded.push(await measureLatency(floodRate));
    }
    latencyRuns.push(run);
  }
  flooder.process.stdin?.end();
  await Promise.all([flooder.exited, stopChild(server)]);
  const serverStderr = server.stderr().trim();

  // The tables.
  const out = [
    '## AntPeer Auth — password grants and login floods',
    '',
    `node ${process.version} · ${cpus.length} CPU (${cpus[0]?.model.trim() ?? 'unknown'}) · libuv threadpool ${process.env.UV_THREADPOOL_SIZE ?? 4} · ` +
      `1-min load average ${loadBefore.toFixed(2)} before, ${(os.loadavg()[0] ?? 0).toFixed(2)} after · server ${SERVER_MAIN}` +
      `${Object.keys(SERVER_ENV).length ? ` with ${Object.entries(SERVER_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''} · ` +
      `argon2id m=${OWASP_ARGON2ID.memoryCost} KiB, t=${OWASP_ARGON2ID.timeCost}, p=${OWASP_ARGON2ID.parallelism} · ${DURATION} s per measurement in ${SLICES} interleaved slices`,
    '',
    table(
      ['what', 'rate', 'slices', 'ratio', 'target'],
      [
        [`raw verify, @node-rs/argon2 (${raw.rs[0]?.concurrency} in flight, own idle child)`, rate(rsRate), raw.rs.map((s) => rate(s.rate)).join(', '), '—', 'reference'],
        [`raw verify, argon2 (${raw.argon2[0]?.concurrency} in flight, own idle child)`, rate(argon2Rate), raw.argon2.map((s) => rate(s.rate)).join(', '), ratio(argon2Rate / rsRate) + ' of @node-rs', '—'],
        [
          `password grants over HTTP (${CONNECTIONS} connections), p50 ${ms(percentileOf(ours, 'p50'))}, ${oursRefused} refused (503)`,
          rate(oursRate),
          ours.map((r) => rate(r['2xx'] / r.duration)).join(', '),
          `${ratio(oursRate / rsRate)} of @node-rs, ${ratio(oursRate / argon2Rate)} of argon2`,
          `≥ 0.90× fastest raw: ${oursRate / Math.max(rsRate, argon2Rate) >= 0.9 ? 'met' : '**not met**'}`,
        ],
      ],
    ),
    '',
    table(
      ['latency (paced, open loop)', 'flood', 'p50', 'p95', 'p99', 'answers', 'unexpected', 'flood answers'],
      latencyRuns.flatMap((run) =>
        (['refreshes', 'gateways'] as const).flatMap((key) =>
          [
            ['none', run.quiet] as const,
            [`${run.floodRate}/s`, run.flooded] as const,
          ].map(([label, phases]) => {
            const merged = merge(phases, key);
            if (merged.unexpected > 0) failures.push(`${key} (flood ${label}): ${merged.unexpected} unexpected, e.g. ${merged.sample}`);
            return [
              `${key === 'refreshes' ? 'refresh grant' : 'gateway, verified token'} at ${PACE}/s`,
              label,
              ms(percentile(merged.latencies, 0.5)),
              ms(percentile(merged.latencies, 0.95)),
              ms(percentile(merged.latencies, 0.99)),
              String(merged.latencies.length),
              String(merged.unexpected),
              label === 'none' ? '—' : floodSummary(phases, slice),
            ];
          }),
        ),
      ),
    ),
    '',
    ...(serverStderr ? [`server stderr (tail): ${serverStderr.slice(-1000)}`, ''] : []),
    `total bench time ${((performance.now() - started) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (failures.length > 0) {
    process.stderr.write(`\nbench: FAILED —\n  ${failures.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}

function percentileOf(results: autocannon.Result[], key: 'p50'): number {
  return results.reduce((sum, r) => sum + r.latency[key] * r['2xx'], 0) / Math.max(1, results.reduce((sum, r) => sum + r['2xx'], 0));
}

/** What the flood got: answers by status, per second. */
function floodSummary(phases: Array<{ flood: Flood | null }>, seconds: number): string {
  const totals: Record<string, number> = {};
  let errors = 0;
  for (const { flood: f } of phases) {
    if (!f) continue;
    for (const [code, count] of Object.entries(f.statuses)) totals[code] = (totals[code] ?? 0) + count;
    errors += f.errors + f.timeouts;
  }
  const perSecond = (count: number) => (count / (seconds * phases.length)).toFixed(0);
  const parts = Object.entries(totals).map(([code, count]) => `${code}: ${perSecond(count)}/s`);
  if (errors > 0) parts.push(`errors/timeouts ${errors}`);
  return parts.join(', ');
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`\nbench: FAILED — ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => agent.destroy());
