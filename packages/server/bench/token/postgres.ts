// Refresh grants on PostgreSQL: one server instance, then two over one schema with the load split
// across them, each in its own process. Skipped (the table says so) when no PostgreSQL answers.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { BASE_PATH } from '../../src/test/http.js';
import { freePort, type ServeProcess } from '../../src/test/process.js';
import { assertClean, fillPool, load, refreshLoad, type LoadResult } from './load.js';
import type { TokenBenchOptions } from './options.js';
import { APP, BENCH_SERVER_ENV, startOurServer, type ServerLaunch } from './our-server.js';
import { log, stopChild, tempDir } from './processes.js';

export type PostgresResult = { skipped: string } | { one: LoadResult; two: LoadResult; twoPerInstance: [number, number] };

const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Two instances' results as one deployment's: rates and counts add up, latencies are the worse. */
function together(a: LoadResult, b: LoadResult): LoadResult {
  return {
    ...a,
    ok: a.ok + b.ok,
    rate: a.rate + b.rate,
    non2xx: a.non2xx + b.non2xx,
    errors: a.errors + b.errors,
    timeouts: a.timeouts + b.timeouts,
    p50: Math.max(a.p50, b.p50),
    p99: Math.max(a.p99, b.p99),
  };
}

export async function measurePostgres(launch: ServerLaunch, options: Readonly<TokenBenchOptions>): Promise<PostgresResult> {
  const { duration, warmup, poolSize, refreshConnections: connections } = options;
  const admin = new pg.Client({ connectionString: BENCH_DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    return { skipped: `no PostgreSQL at BENCH_DATABASE_URL / TEST_DATABASE_URL (${(error as Error).message})` };
  }
  const schema = `antpeer_bench_${randomBytes(6).toString('hex')}`;
  const ports = [await freePort(), await freePort()] as const;
  // Every instance of one deployment shares the server secret and the issuer.
  const issuer = `http://127.0.0.1:${ports[0]}${BASE_PATH}`;
  const secret = randomBytes(32).toString('base64url');
  const env = (port: number) => ({
    ...BENCH_SERVER_ENV,
    PORT: String(port),
    DATABASE_URL: BENCH_DATABASE_URL,
    ANTPEER_DATABASE_SCHEMA: schema,
    ANTPEER_SECRET: secret,
    ANTPEER_ISSUER: issuer,
    ANTPEER_DATA_DIR: tempDir('antpeer-bench-pg-'),
  });
  const instances: ServeProcess[] = [];
  try {
    log(`PostgreSQL: one instance (schema ${schema})…`);
    const a = await startOurServer(launch, env(ports[0]));
    instances.push(a);
    const both: string[] = [];
    await fillPool(both, poolSize * 2, a.tokenUrl, JSON.stringify(APP), 'application/json');
    assertClean('PostgreSQL warm-up', await load({ ...refreshLoad(a.tokenUrl, both), seconds: warmup, connections }));
    const one = await load({ ...refreshLoad(a.tokenUrl, both), seconds: duration, connections });
    assertClean('refresh grant (PostgreSQL, one instance)', one);
    const half = Math.floor(both.length / 2);
    const split: [string[], string[]] = [both.slice(0, half), both.slice(half)];

    log('PostgreSQL: two instances…');
    const b = await startOurServer(launch, env(ports[1]));
    instances.push(b);
    const loads = (seconds: number) =>
      Promise.all([a, b].map((instance, i) => load({ ...refreshLoad(instance.tokenUrl, split[i] as string[]), seconds, connections })));
    await loads(warmup);
    const [onA, onB] = (await loads(duration)) as [LoadResult, LoadResult];
    assertClean('refresh grant (PostgreSQL, instance A of two)', onA);
    assertClean('refresh grant (PostgreSQL, instance B of two)', onB);
    return { one, two: together(onA, onB), twoPerInstance: [onA.rate, onB.rate] };
  } finally {
    await Promise.all(instances.map(stopChild));
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  }
}
