// `npm run bench -- refresh-ab --before <main.js> [--after <main.js>]` — durable refresh grants
// (SQLite, synchronous=FULL, 32 connections, 10,000 live sessions) on two builds of our server and
// on the @node-oauth/oauth2-server reference, in slices interleaved (before, after, reference, …),
// so that a change is judged against the build before it in one run on a shared machine. Prints
// each side's rate, server CPU per grant (all threads) and main-thread CPU per grant, from /proc.
//
// Keep a build to compare with: `cp -r packages/server/dist packages/server/node_modules/.before`
// (under node_modules, so the copy still finds its dependencies and no linter reads it).
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SQLITE_FILENAME } from '../src/store/open.js';
import { freePort } from '../src/test/process.js';
import { mainThreadCpuSeconds, withCpu } from './suite/cpu.js';
import { combine, httpSide, type Sample, type Side } from './suite/measure.js';
import { seedSqlite } from './suite/seed.js';
import { assertClean, failures, load, refreshLoad, topUp } from './token/load.js';
import { APP, BENCH_SERVER_ENV, startOurServer } from './token/our-server.js';
import { SERVER_DIR, log, runBench, stopChild, tempDir } from './token/processes.js';
import { startReference } from './token/reference.js';

const USAGE = `usage: npm run bench -- refresh-ab --before <path/to/cli/main.js> [options]

  --before <main.js>   the build to compare with (e.g. a copy of dist made before the change)
  --after <main.js>    the build to judge (default: this checkout's dist)
  --slices <n>         slices per side (default 5)
  --seconds <s>        seconds per slice (default 5)
  --no-reference       leave the @node-oauth/oauth2-server reference out
  -h, --help`;

interface Options {
  before: string;
  after: string;
  slices: number;
  seconds: number;
  reference: boolean;
}

const CONNECTIONS = 32;
const SESSIONS = 10_000;
/** Room for every connection twice over: a slice cut short loses up to one token per connection. */
const POOL = 2 * CONNECTIONS + 16;

function parse(args: string[]): Options | null {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      before: { type: 'string' },
      after: { type: 'string' },
      slices: { type: 'string' },
      seconds: { type: 'string' },
      'no-reference': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  if (values.before === undefined) throw new Error('--before is required');
  const slices = Number(values.slices ?? 5);
  const seconds = Number(values.seconds ?? 5);
  if (!Number.isInteger(slices) || slices < 1) throw new Error(`--slices must be a positive integer, got ${values.slices}`);
  if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${values.seconds}`);
  return { before: values.before, after: values.after ?? join(SERVER_DIR, 'dist/cli/main.js'), slices, seconds, reference: values['no-reference'] !== true };
}

/** Refresh grants against one build, with the main thread's CPU per grant of each slice beside the process's. */
async function ourSide(name: string, main: string): Promise<{ side: Side; mainUs: number[]; stop: () => Promise<void> }> {
  const dataDir = tempDir('antpeer-bench-ab-');
  const server = await startOurServer({ command: [resolve(main)], launchedFrom: main }, { ...BENCH_SERVER_ENV, PORT: String(await freePort()), ANTPEER_DATA_DIR: dataDir });
  seedSqlite(join(dataDir, SQLITE_FILENAME), 0, SESSIONS);
  const pid = server.child.pid as number;
  const pool: string[] = [];
  const mainUs: number[] = [];
  const side: Side = {
    name,
    async measure(seconds, connections) {
      await topUp(pool, POOL, server.tokenUrl, JSON.stringify(APP), 'application/json');
      const mainBefore = mainThreadCpuSeconds(pid);
      const { result, cpu } = await withCpu([pid], () => load({ ...refreshLoad(server.tokenUrl, pool), seconds, connections }));
      assertClean(`${name} (${connections} connections)`, result);
      mainUs.push(((mainThreadCpuSeconds(pid) - mainBefore) / Math.max(1, result.ok)) * 1e6);
      return { ok: result.ok, seconds, p50: result.p50, p99: result.p99, cpu: cpu[0] ?? 0 };
    },
  };
  return { side, mainUs, stop: () => stopChild(server) };
}

runBench(USAGE, parse, async (o) => {
  const before = await ourSide('before', o.before);
  const after = await ourSide('after', o.after);
  const sides = [before.side, after.side];
  const stops = [before.stop, after.stop];
  if (o.reference) {
    const pool: string[] = [];
    const reference = await startReference(pool, POOL);
    stops.push(() => stopChild(reference.process));
    sides.push(
      httpSide('@node-oauth/oauth2-server', reference.process.child.pid, () => refreshLoad(reference.tokenUrl, pool, reference.clientCredentials), () =>
        topUp(pool, POOL, reference.tokenUrl, reference.loginBody, 'application/x-www-form-urlencoded'),
      ),
    );
  }
  try {
    log(`${sides.map((s) => s.name).join(', ')}: ${CONNECTIONS} connections, ${o.slices} × ${o.seconds} s each, interleaved…`);
    for (const side of sides) await side.measure(2, CONNECTIONS);
    const samples: Sample[][] = sides.map(() => []);
    for (let i = 0; i < o.slices; i++) {
      for (const [j, side] of sides.entries()) samples[j]?.push(await side.measure(o.seconds, CONNECTIONS));
    }
    const measured = samples.map(combine);
    const mainUs = [before.mainUs, after.mainUs].map((us) => us.slice(1)); // the first is the warm-up
    const reference = o.reference ? measured[2] : undefined;
    sides.forEach((side, j) => {
      const m = measured[j];
      if (!m) return;
      const main = mainUs[j];
      const mainText = main ? `, main thread ${Math.round(main.reduce((a, b) => a + b, 0) / main.length)} µs` : '';
      const ratio = reference && j < 2 ? `, ${(m.rate / reference.rate).toFixed(2)}× the reference (slices ${m.sliceRates.map((r, i) => (r / (reference.sliceRates[i] ?? NaN)).toFixed(2)).join(' ')})` : '';
      console.log(`${side.name.padEnd(26)} ${Math.round(m.rate).toLocaleString('en-US')}/s, p99 ${m.p99} ms, ${Math.round(m.cpuUs ?? NaN)} µs CPU per grant${mainText}${ratio}; slices ${m.sliceRates.map((r) => Math.round(r)).join(' ')}`);
    });
    if (failures.length > 0) throw new Error(`non-2xx answers:\n${failures.join('\n')}`);
  } finally {
    for (const stop of stops) await stop();
  }
});
