// `npm run bench` — every performance target of the project in one run, each measured against its
// reference or ceiling in the same run, with the server CPU each request cost (from /proc), printed
// as one table and written to docs/benchmarks.md with SVG charts (bench/suite/charts.ts).
//
// Every server is a process of its own; the load generator (autocannon) runs in this process; all
// traffic is on loopback. In order:
//   1. password grants vs the raw @node-rs/argon2 verify rate (same parameters, own idle child), interleaved;
//   2. durable refresh grants (SQLite, synchronous=FULL) vs @node-oauth/oauth2-server on the same
//      store kind, interleaved, with 10,000 live sessions in the store; then the store seeded to
//      1,000,000 live sessions and ours measured again;
//   2b. the SQLite store's size per live session, after none, a few and many refreshes of each;
//   3. the gateway vs a bare proxy of the same stack (Fastify + undici) without authentication, interleaved;
//   4. the guard, a new token each request, vs the raw Ed25519 verify rate (packages/guard/bench/guard.ts);
//   5. refresh grants on PostgreSQL, one instance: rate, statements per refresh through a counting
//      relay, and 1,000,000 vs 10,000 live sessions (skipped when no PostgreSQL answers);
//   and throughput / p99 against concurrency for refresh, password and gateway (the charts).
// Fails (exit 1) on any non-2xx answer or socket error during a measured phase.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { runGuardBench } from '../../guard/bench/guard.js';
import { OWASP_ARGON2ID } from '../src/credentials/password-hasher.js';
import { SQLITE_FILENAME } from '../src/store/open.js';
import { BASE_PATH } from '../src/test/http.js';
import { freePort, type ServeProcess } from '../src/test/process.js';
import { assertClean, failures, load, passwordLoad, postToken, refreshLoad, topUp } from './token/load.js';
import { APP, BENCH_SERVER_ENV, serverLaunch, startOurServer, type ServerLaunch } from './token/our-server.js';
import { startArgon2Verifier } from './token/probes.js';
import { REPO_ROOT, lineReader, log, runBench, startScript, stopChild, tempDir } from './token/processes.js';
import { startReference } from './token/reference.js';
import { sweepChart, type SweepPoint } from './suite/charts.js';
import { withCpu } from './suite/cpu.js';
import { alone, httpSide, paired, sweep, type Measured, type Pair, type Side } from './suite/measure.js';
import { startRoundTripCounter } from './suite/pg-round-trips.js';
import { formatGatewayTable, formatMarkdown, formatTable, type SuiteResult } from './suite/report.js';
import { seedPostgres, seedSqlite } from './suite/seed.js';
import { sqliteSizes, type StorageResult } from './suite/storage.js';

const USAGE = `usage: npm run bench [-- options]

  --quick            a few minutes: shorter and fewer slices, fewer concurrencies in the charts
  --duration <s>     seconds per side of each paired measurement (default 15, quick 4)
  --sessions <n>     live sessions for the large-store rows (default 1000000)
  --out <file>       where to write the report (default docs/benchmarks.md; charts beside it in benchmarks/)
  --only gateway     the gateway row alone (printed, nothing written)
  --profile <dir>    our servers write a CPU profile (node --cpu-prof) there when they stop
  --server <main.js> measure another build of the server (e.g. an older commit's dist/cli/main.js)
  -h, --help

PostgreSQL rows use BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the local test database.`;

export interface SuiteOptions {
  quick: boolean;
  /** One row alone instead of the whole run. */
  only: 'gateway' | null;
  /** Where our servers write a CPU profile each, or null. */
  profileDir: string | null;
  /** The server build to measure, or null for this checkout's. */
  serverMain: string | null;
  slices: number;
  /** Seconds of each slice. */
  seconds: number;
  warmup: number;
  sweepSeconds: number;
  sessions: number;
  out: string;
  connections: { refresh: number; password: number; gateway: number };
  sweeps: { refresh: number[]; password: number[]; gateway: number[] };
}

const SMALL_STORE = 10_000;
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function parseOptions(args: string[]): SuiteOptions | null {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { quick: { type: 'boolean' }, only: { type: 'string' }, profile: { type: 'string' }, server: { type: 'string' }, duration: { type: 'string' }, sessions: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return null;
  const quick = values.quick === true;
  const duration = Number(values.duration ?? (quick ? 4 : 15));
  const sessions = Number(values.sessions ?? 1_000_000);
  if (values.only !== undefined && values.only !== 'gateway') throw new Error(`--only takes gateway, got ${values.only}`);
  if (!(duration > 0)) throw new Error(`--duration must be a positive number, got ${values.duration}`);
  if (!Number.isInteger(sessions) || sessions <= SMALL_STORE) throw new Error(`--sessions must be an integer above ${SMALL_STORE}, got ${values.sessions}`);
  const slices = quick ? 2 : 3;
  return {
    quick,
    only: values.only === 'gateway' ? 'gateway' : null,
    profileDir: values.profile ?? null,
    serverMain: values.server ?? null,
    slices,
    seconds: duration / slices,
    warmup: quick ? 1 : 2,
    sweepSeconds: quick ? 2 : 4,
    sessions,
    out: values.out ?? join(REPO_ROOT, 'docs/benchmarks.md'),
    connections: { refresh: 32, password: 8, gateway: 32 },
    sweeps: quick
      ? { refresh: [1, 8, 32], password: [1, 4, 8], gateway: [1, 8, 32] }
      : { refresh: [1, 4, 16, 32, 64], password: [1, 2, 4, 8, 16], gateway: [1, 4, 16, 32, 64] },
  };
}

/** A pool with room for every connection twice over: a slice cut short loses up to one token per connection. */
const poolNeed = (connections: number) => 2 * connections + 16;

/** Refresh grants against `server`, its pool topped up by password logins before each slice. */
function ourRefreshSide(name: string, server: ServeProcess, pool: string[]): Side {
  return httpSide(
    name,
    server.child.pid,
    () => refreshLoad(server.tokenUrl, pool),
    (connections) => topUp(pool, poolNeed(connections), server.tokenUrl, JSON.stringify(APP), 'application/json'),
  );
}

async function startChildServer(name: string, script: string, args: string[]): Promise<{ origin: string; pid: number; stop(): Promise<void> }> {
  const child = startScript(name, script, args);
  const { port } = JSON.parse(await lineReader(child)(60_000)) as { port: number };
  return { origin: `http://127.0.0.1:${port}`, pid: child.child.pid as number, stop: () => stopChild(child) };
}

async function timed<T>(what: string, work: () => T | Promise<T>): Promise<{ result: T; seconds: number }> {
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  log(`${what}: ${seconds.toFixed(1)} s`);
  return { result, seconds };
}

// --- 1 and 2: password and refresh on SQLite ----------------------------------------------------

async function sqliteRows(o: SuiteOptions, launch: ServerLaunch) {
  const dataDir = tempDir('antpeer-bench-suite-');
  const port = await freePort();
  const server = await startOurServer(launch, { ...BENCH_SERVER_ENV, PORT: String(port), ANTPEER_DATA_DIR: dataDir });
  const servers = [server];
  const refPool: string[] = [];
  const reference = await startReference(refPool, poolNeed(Math.max(...o.sweeps.refresh)));
  const verifier = await startArgon2Verifier({ ...OWASP_ARGON2ID });
  try {
    const pool: string[] = [];
    const run = { slices: o.slices, seconds: o.seconds, warmup: o.warmup };

    // 1. Password grants vs the raw verify rate.
    const raw: Side = {
      name: `raw @node-rs/argon2 verify (${verifier.concurrency} in flight)`,
      async measure(seconds) {
        const { result: slice, cpu } = await withCpu([verifier.pid], () => verifier.measure(seconds));
        return { ok: slice.count, seconds: slice.elapsed, p50: NaN, p99: NaN, cpu: cpu[0] ?? null };
      },
    };
    const password = httpSide('password grant (ours)', server.child.pid, () => passwordLoad(server.tokenUrl, APP, pool));
    const passwordPair = await paired(password, raw, { ...run, connections: o.connections.password });
    const passwordSweep = await sweep([password], o.sweeps.password, o.sweepSeconds);
    passwordSweep.push(...o.sweeps.password.map((connections) => ({ series: raw.name, connections, rate: passwordPair.b.rate, p99: null })));
    await verifier.close();

    // 2. Refresh grants vs the reference, 10,000 live sessions in our store.
    await timed(`seeding ${SMALL_STORE.toLocaleString('en-US')} sessions (SQLite)`, () => seedSqlite(join(dataDir, SQLITE_FILENAME), 0, SMALL_STORE));
    const ours = ourRefreshSide('refresh grant (ours, SQLite FULL)', server, pool);
    const theirs = httpSide('refresh grant (@node-oauth/oauth2-server, SQLite FULL)', reference.process.child.pid, () => refreshLoad(reference.tokenUrl, refPool, reference.clientCredentials), (connections) =>
      topUp(refPool, poolNeed(connections), reference.tokenUrl, reference.loginBody, 'application/x-www-form-urlencoded'),
    );
    const refreshPair = await paired(ours, theirs, { ...run, connections: o.connections.refresh });
    const refreshSweep = await sweep([ours, theirs], o.sweeps.refresh, o.sweepSeconds);

    // A second server over a store seeded with `sessions` live sessions, interleaved with the first (10,000).
    const largeDir = tempDir('antpeer-bench-suite-large-');
    const largeServer = await startOurServer(launch, { ...BENCH_SERVER_ENV, PORT: String(await freePort()), ANTPEER_DATA_DIR: largeDir });
    servers.push(largeServer);
    const seedLarge = await timed(`seeding ${o.sessions.toLocaleString('en-US')} sessions (SQLite)`, () => seedSqlite(join(largeDir, SQLITE_FILENAME), 0, o.sessions));
    const large = ourRefreshSide(`refresh grant (ours, SQLite FULL, ${o.sessions.toLocaleString('en-US')} sessions)`, largeServer, []);
    // A fresh process: as much warm-up as the first server had before its own pair.
    await large.measure(3 * o.warmup, o.connections.refresh);
    const largeStore = await paired(large, ours, { ...run, connections: o.connections.refresh });
    return {
      password: passwordPair,
      passwordSweep,
      refresh: refreshPair,
      refreshSweep,
      largeStore: { pair: largeStore, seedSeconds: seedLarge.seconds },
    };
  } finally {
    await Promise.all([...servers.map(stopChild), stopChild(reference.process)]);
    if (server.stderr().trim()) log(`our server's stderr (tail):\n${server.stderr().trim().slice(-2000)}`);
  }
}

// --- 2b: the store's size per live session as its sessions are refreshed ----------------------

const STORAGE_SESSIONS = 1_000;

/**
 * A server of its own starts {@link STORAGE_SESSIONS} sessions, then refreshes them round after
 * round under the refresh load; the store's size is read after the logins and after each round.
 */
async function storageRow(o: SuiteOptions, launch: ServerLaunch): Promise<StorageResult> {
  const dataDir = tempDir('antpeer-bench-storage-');
  const server = await startOurServer(launch, { ...BENCH_SERVER_ENV, PORT: String(await freePort()), ANTPEER_DATA_DIR: dataDir });
  const file = join(dataDir, SQLITE_FILENAME);
  try {
    const pool: string[] = [];
    await topUp(pool, STORAGE_SESSIONS, server.tokenUrl, JSON.stringify(APP), 'application/json');
    const samples = [{ refreshes: 0, ...sqliteSizes(file) }];
    let refreshes = 0;
    for (const seconds of [o.seconds, 4 * o.seconds]) {
      log(`store size: refreshing ${STORAGE_SESSIONS.toLocaleString('en-US')} sessions for ${seconds} s…`);
      const refreshing = refreshLoad(server.tokenUrl, pool);
      const result = await load({ ...refreshing, onOk: (body) => (refreshes++, refreshing.onOk(body)), seconds, connections: o.connections.refresh });
      assertClean('refreshes of the store-size row', result);
      samples.push({ refreshes, ...sqliteSizes(file) });
    }
    return { sessions: STORAGE_SESSIONS, samples };
  } finally {
    await stopChild(server);
  }
}

// --- 3: gateway vs a bare proxy ------------------------------------------------------------------

async function gatewayRows(o: SuiteOptions, launch: ServerLaunch) {
  const upstream = await startChildServer('upstream', 'suite/upstream.ts', []);
  const bare = await startChildServer('bare proxy', 'suite/bare-proxy.ts', [upstream.origin]);
  const port = await freePort();
  const gateway = await startOurServer(launch, {
    ...BENCH_SERVER_ENV,
    PORT: String(port),
    ANTPEER_DATA_DIR: tempDir('antpeer-bench-gateway-'),
    ANTPEER_UPSTREAM: `${upstream.origin}${BASE_PATH}`,
  });
  try {
    const { access_token: token } = (await postToken(gateway.tokenUrl, JSON.stringify(APP), 'application/json')) as { access_token: string };
    const route = `${BASE_PATH}/user/accounts`;
    const get = (origin: string) => () => ({ url: `${origin}${route}`, method: 'GET' as const, headers: { authorization: `Bearer ${token}` } });
    const ours = httpSide('through the gateway (ours)', gateway.child.pid, get(gateway.origin));
    const bareSide = httpSide('bare proxy, Fastify + undici, no authentication', bare.pid, get(bare.origin));
    const direct = httpSide('upstream called directly', upstream.pid, get(upstream.origin));
    const pair = await paired(ours, bareSide, { slices: o.slices, seconds: o.seconds, warmup: o.warmup, connections: o.connections.gateway });
    const points = o.only === null ? await sweep([ours, bareSide, direct], o.sweeps.gateway, o.sweepSeconds) : [];
    return { pair, sweep: points };
  } finally {
    await Promise.all([stopChild(gateway), bare.stop(), upstream.stop()]);
  }
}

// --- 5: PostgreSQL -------------------------------------------------------------------------------

export type PostgresRows =
  | { skipped: string }
  | { small: Measured; large: Pair; statementsPerRefresh: number; seedSeconds: number };

async function postgresRows(o: SuiteOptions, launch: ServerLaunch): Promise<PostgresRows> {
  const admin = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    return { skipped: `no PostgreSQL at BENCH_DATABASE_URL / TEST_DATABASE_URL (${(error as Error).message})` };
  }
  const schema = `antpeer_bench_${randomBytes(6).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  const ports = [await freePort(), await freePort()] as const;
  const env = (port: number, databaseUrl: string) => ({
    ...BENCH_SERVER_ENV,
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    ANTPEER_DATABASE_SCHEMA: schema,
    ANTPEER_SECRET: secret,
    ANTPEER_ISSUER: `http://127.0.0.1:${ports[0]}${BASE_PATH}`,
    ANTPEER_DATA_DIR: tempDir('antpeer-bench-pg-'),
  });
  const relay = await startRoundTripCounter({ host: new URL(DATABASE_URL).hostname, port: Number(new URL(DATABASE_URL).port || 5432) });
  const servers: ServeProcess[] = [];
  const schemas = [schema];
  try {
    const server = await startOurServer(launch, env(ports[0], DATABASE_URL));
    servers.push(server);
    const pool: string[] = [];
    const run = { slices: o.slices, seconds: o.seconds, warmup: o.warmup, connections: o.connections.refresh };
    await timed(`seeding ${SMALL_STORE.toLocaleString('en-US')} sessions (PostgreSQL)`, () => seedPostgres(DATABASE_URL, schema, 0, SMALL_STORE));
    const ours = ourRefreshSide('refresh grant (ours, PostgreSQL)', server, pool);
    const small = await alone(ours, run);

    // Statements per refresh: a second instance over the same schema, its store reached through the counting relay.
    const relayed = new URL(DATABASE_URL);
    relayed.host = `127.0.0.1:${relay.port}`;
    const counted = await startOurServer(launch, env(ports[1], relayed.toString()));
    servers.push(counted);
    const countedPool: string[] = [];
    const countedSide = ourRefreshSide('refresh grant (ours, PostgreSQL, through the counting relay)', counted, countedPool);
    await countedSide.measure(1, o.connections.refresh);
    await topUp(countedPool, poolNeed(o.connections.refresh), counted.tokenUrl, JSON.stringify(APP), 'application/json');
    const before = relay.count();
    let refreshes = 0;
    const countedLoad = refreshLoad(counted.tokenUrl, countedPool);
    const counting = await load({ ...countedLoad, onOk: (body) => (refreshes++, countedLoad.onOk(body)), seconds: o.seconds, connections: o.connections.refresh });
    const statementsPerRefresh = (relay.count() - before) / Math.max(1, refreshes);
    log(`PostgreSQL: ${statementsPerRefresh.toFixed(2)} statements per refresh (${counting.ok} refreshes)`);
    await stopChild(counted);
    servers.splice(servers.indexOf(counted), 1);

    // A second instance over a schema of its own seeded with `sessions` live sessions, interleaved with the first (10,000).
    const largeSchema = `${schema}_large`;
    schemas.push(largeSchema);
    const largeServer = await startOurServer(launch, { ...env(ports[1], DATABASE_URL), ANTPEER_DATABASE_SCHEMA: largeSchema });
    servers.push(largeServer);
    const seedLarge = await timed(`seeding ${o.sessions.toLocaleString('en-US')} sessions (PostgreSQL)`, () => seedPostgres(DATABASE_URL, largeSchema, 0, o.sessions));
    const large = ourRefreshSide(`refresh grant (ours, PostgreSQL, ${o.sessions.toLocaleString('en-US')} sessions)`, largeServer, []);
    await large.measure(3 * o.warmup, o.connections.refresh);
    const largePair = await paired(large, ours, run);
    return { small, large: largePair, statementsPerRefresh, seedSeconds: seedLarge.seconds };
  } finally {
    await Promise.all(servers.map(stopChild));
    await relay.close();
    for (const name of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

// --- the run -------------------------------------------------------------------------------------

async function run(o: SuiteOptions): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg()[0] ?? 0;
  const launch = serverLaunch({ serverMain: o.serverMain, profileDir: o.profileDir });
  if (o.only === 'gateway') {
    const { pair } = await gatewayRows(o, launch);
    process.stdout.write(`\n${formatGatewayTable(pair, o.connections.gateway)}\n`);
  } else {
    await runAll(o, launch, started, loadBefore);
  }
  if (failures.length > 0) {
    process.stderr.write(`\nbench: FAILED — not every request succeeded:\n  ${failures.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}

async function runAll(o: SuiteOptions, launch: ServerLaunch, started: number, loadBefore: number): Promise<void> {
  const sqlite = await sqliteRows(o, launch);
  const storage = await storageRow(o, launch);
  const gateway = await gatewayRows(o, launch);
  log('guard: new token each request vs raw Ed25519 verify…');
  const guardRows = await runGuardBench({ duration: o.seconds, rounds: o.slices, connections: 32 }, { gateway: false });
  const fresh = guardRows.find((row) => row.scenario === 'route, guarded, new token each request');
  const unguarded = guardRows.find((row) => row.scenario === 'route, unguarded');
  const [ceiling, nodeCrypto] = guardRows.filter((row) => row.scenario.startsWith('raw Ed25519 verify'));
  if (!fresh || !ceiling) throw new Error('the guard bench did not answer its rows');
  const postgres = await postgresRows(o, launch);

  const result: SuiteResult = {
    options: o,
    argon2: { ...OWASP_ARGON2ID },
    password: sqlite.password,
    refresh: sqlite.refresh,
    largeStore: sqlite.largeStore,
    storage,
    gateway: gateway.pair,
    guard: {
      rate: fresh.rate,
      p99: fresh.p99 ?? NaN,
      cpuUs: fresh.cpuUs ?? NaN,
      unguardedCpuUs: unguarded?.cpuUs ?? NaN,
      ceiling: ceiling.rate,
      ceilingName: ceiling.scenario.replace(/^raw Ed25519 verify, /, ''),
      nodeCrypto: nodeCrypto?.rate ?? null,
    },
    postgres,
    seconds: (performance.now() - started) / 1000,
    loadAverage: [loadBefore, os.loadavg()[0] ?? 0],
  };
  const table = formatTable(result);
  process.stdout.write(`\n${table}\n`);

  const chartDir = join(o.out, '..', 'benchmarks');
  mkdirSync(chartDir, { recursive: true });
  const charts: Array<[string, string, SweepPoint[]]> = [
    ['refresh.svg', 'Durable refresh grants (SQLite, synchronous=FULL)', sqlite.refreshSweep],
    ['password.svg', 'Password grants (argon2id) and the raw verify rate', sqlite.passwordSweep],
    ['gateway.svg', 'Gateway, bare proxy and the upstream called directly', gateway.sweep],
  ];
  for (const [file, title, points] of charts) writeFileSync(join(chartDir, file), await sweepChart(title, points));
  writeFileSync(o.out, formatMarkdown(result, table, charts.map(([file, title, points]) => ({ file: `benchmarks/${file}`, title, points }))));
  log(`wrote ${o.out} and ${charts.length} charts in ${chartDir}`);
}

runBench(USAGE, parseOptions, run);
