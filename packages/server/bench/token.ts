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
// Options: `npm run bench:token -- --help` (bench/token/options.ts). The parts live in bench/token/.
import os from 'node:os';
import { OWASP_ARGON2ID } from '../src/credentials/password-hasher.js';
import { freePort } from '../src/test/process.js';
import { assertClean, combine, failures, fillPool, load, passwordLoad, postToken, refreshLoad, type LoadResult } from './token/load.js';
import { USAGE, parseOptions, type TokenBenchOptions } from './token/options.js';
import { APP, BENCH_SERVER_ENV, serverLaunch, startOurServer } from './token/our-server.js';
import { measurePostgres } from './token/postgres.js';
import { probeFsync, startArgon2Verifier, type Argon2Slice } from './token/probes.js';
import { log, rssMegabytes, runBench, stopChild, tempDir } from './token/processes.js';
import { startReference } from './token/reference.js';
import { formatReport, type RefreshRun } from './token/report.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 2000));

async function run(options: Readonly<TokenBenchOptions>): Promise<void> {
  const started = performance.now();
  const { duration, connections, refreshConnections, warmup, slices, poolSize } = options;
  const argon2 = { ...OWASP_ARGON2ID };
  const launch = serverLaunch(options);
  const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const loadBefore = os.loadavg()[0] ?? 0;
  if (loadBefore > 0.5) log(`warning: 1-minute load average is ${loadBefore.toFixed(2)} before start; something else is using the CPUs`);
  const slice = duration / slices;

  // 1. The disk's durable-commit ceiling, nothing else of ours running (again at the end).
  log('fsync ceiling (trivial better-sqlite3 WAL+FULL insert loop)…');
  const fsyncBefore = await probeFsync();

  // 2. The raw argon2id verifier, idle until the password-grant slices.
  const verifier = await startArgon2Verifier(argon2);

  // 3. Our server. Its first start creates the client application (one argon2 hash, as in the
  // README's quick start); the server is then restarted over the same data, as in production,
  // and its idle RSS is read after start-up and after one login.
  const port = await freePort();
  const serverEnv = {
    ...options.serverEnv,
    ...BENCH_SERVER_ENV,
    PORT: String(port),
    ANTPEER_DATA_DIR: tempDir('antpeer-bench-data-'),
  };
  log(`starting our server (${launch.launchedFrom}) on http://127.0.0.1:${port}…`);
  const firstStart = await startOurServer(launch, serverEnv);
  await postToken(firstStart.tokenUrl, JSON.stringify(APP), 'application/json');
  await settle();
  const firstStartRss = rssMegabytes(firstStart.child.pid as number);
  await stopChild(firstStart);
  const server = await startOurServer(launch, serverEnv);
  await settle();
  const startupRss = rssMegabytes(server.child.pid as number);
  const login = await postToken(server.tokenUrl, JSON.stringify(APP), 'application/json');
  if (typeof login.refresh_token !== 'string') throw new Error(`login answered without a refresh_token: ${JSON.stringify(login)}`);
  await settle();
  const idleRss = rssMegabytes(server.child.pid as number);
  log(`idle RSS ${startupRss.toFixed(1)} MB after start-up, ${idleRss.toFixed(1)} MB after one login (first start: ${firstStartRss.toFixed(1)} MB)`);

  // 4. The reference server (idle until its refresh slices).
  const refPool: string[] = [];
  const reference = await startReference(refPool, poolSize);

  // 5. Password grants, interleaved with the raw verify rate: raw, ours, raw, ours, …
  // Every answer's refresh token starts a session for the refresh phase.
  const pool: string[] = [login.refresh_token];
  const passwords = { ...passwordLoad(server.tokenUrl, APP, pool), connections };
  log(`password grants vs raw argon2id (${connections} connections, ${warmup} s warm-up, then ${slices} × (${slice} s raw + ${slice} s HTTP))…`);
  assertClean('password warm-up', await load({ ...passwords, seconds: warmup }));
  const rawSlices: Argon2Slice[] = [];
  const passwordSlices: LoadResult[] = [];
  for (let i = 0; i < slices; i++) {
    rawSlices.push(await verifier.measure(slice));
    passwordSlices.push(await load({ ...passwords, seconds: slice }));
  }
  const password = combine(passwordSlices, duration);
  assertClean('password grant', password);
  await verifier.close();
  await fillPool(pool, poolSize, server.tokenUrl, JSON.stringify(APP), 'application/json');

  // 6. Refresh grants, ours and the reference interleaved: ours, theirs, ours, theirs, …
  // The same form body to both (ours ignores the client credentials).
  const ours = refreshLoad(server.tokenUrl, pool, reference.clientCredentials);
  const theirs = refreshLoad(reference.tokenUrl, refPool, reference.clientCredentials);
  const refreshAt = async (at: number): Promise<RefreshRun> => {
    log(`refresh grants, ours vs reference (${pool.length} / ${refPool.length} sessions, ${at} connections, ${warmup} s warm-up each, then ${slices} × (${slice} s ours + ${slice} s theirs))…`);
    assertClean('refresh warm-up (ours)', await load({ ...ours, seconds: warmup, connections: at }));
    assertClean('refresh warm-up (reference)', await load({ ...theirs, seconds: warmup, connections: at }));
    const oursSlices: LoadResult[] = [];
    const theirsSlices: LoadResult[] = [];
    for (let i = 0; i < slices; i++) {
      oursSlices.push(await load({ ...ours, seconds: slice, connections: at }));
      theirsSlices.push(await load({ ...theirs, seconds: slice, connections: at }));
    }
    const result = { connections: at, ours: combine(oursSlices, duration), theirs: combine(theirsSlices, duration), oursSlices, theirsSlices };
    assertClean(`refresh grant (ours, ${at} connections)`, result.ours);
    assertClean(`refresh grant (reference, ${at} connections)`, result.theirs);
    return result;
  };
  const headline = await refreshAt(refreshConnections);
  const refreshRuns: [RefreshRun, ...RefreshRun[]] = [headline, ...(refreshConnections === connections ? [] : [await refreshAt(connections)])];
  const busyRss = rssMegabytes(server.child.pid as number);
  await Promise.all([stopChild(server), stopChild(reference.process)]);
  if (server.stderr().trim()) log(`our server's stderr (tail):\n${server.stderr().trim().slice(-2000)}`);

  // 7. The PostgreSQL store: one instance, then two instances over one database.
  const postgres = await measurePostgres(launch, options);

  // 1 again.
  log('fsync ceiling again…');
  const fsyncAfter = await probeFsync();

  process.stdout.write(
    formatReport({
      options,
      argon2,
      launchedFrom: launch.launchedFrom,
      threadpool,
      loadBefore,
      loadAfter: os.loadavg()[0] ?? 0,
      started,
      verifierConcurrency: verifier.concurrency,
      rawSlices,
      password,
      passwordSlices,
      refreshRuns,
      rss: { firstStart: firstStartRss, startup: startupRss, idle: idleRss, busy: busyRss },
      postgres,
      fsyncBefore,
      fsyncAfter,
    }),
  );
  if (failures.length > 0) {
    process.stderr.write(`\nbench: FAILED — not every request succeeded:\n  ${failures.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}

runBench(USAGE, parseOptions, run);
