/**
 * `npm run fuzz`: the fuzz property over every route, `--runs` cases in all (default 100,000),
 * shared between SQLite and — when TEST_DATABASE_URL is set — PostgreSQL, from one seed (printed;
 * `--seed` replays it). Exits 1 on a counterexample, printed shrunk and without secrets.
 *
 *   node --import tsx packages/server/src/test/fuzz/run.ts [--runs N] [--seed N] [--store sqlite|postgres] [--path P]
 */
import { parseArgs } from 'node:util';
import { TEST_DATABASE_URL } from '../postgres.js';
import { formatReport, runFuzz } from './property.js';
import type { StoreKind } from './target.js';

const USAGE = 'usage: npm run fuzz -- [--runs N] [--seed N] [--store sqlite|postgres] [--path P]';

function wholeNumber(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    console.error(`--${name} must be a whole number, got "${value}"\n${USAGE}`);
    process.exit(2);
  }
  return Number(value);
}

const { values } = parseArgs({
  options: { runs: { type: 'string' }, seed: { type: 'string' }, store: { type: 'string' }, path: { type: 'string' } },
  strict: true,
});
const runs = wholeNumber(values.runs, 'runs', 100_000);
// fast-check seeds are 32-bit integers.
const seed = wholeNumber(values.seed, 'seed', (Date.now() ^ (Math.random() * 0x7fffffff)) | 0);
if (values.store !== undefined && values.store !== 'sqlite' && values.store !== 'postgres') {
  console.error(`--store must be sqlite or postgres\n${USAGE}`);
  process.exit(2);
}
let stores: StoreKind[] = values.store ? [values.store as StoreKind] : ['sqlite', 'postgres'];
if (!TEST_DATABASE_URL && stores.includes('postgres')) {
  if (values.store === 'postgres') {
    console.error('--store postgres needs TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)');
    process.exit(2);
  }
  console.log('TEST_DATABASE_URL is not set: fuzzing SQLite only (set it to fuzz PostgreSQL too)');
  stores = ['sqlite'];
}

const perStore = Math.ceil(runs / stores.length);
console.log(
  values.path
    ? `fuzz seed ${seed}: replaying --path ${values.path} on ${stores.join(', ')}`
    : `fuzz seed ${seed}: ${perStore} cases on each of ${stores.join(', ')}; replay with --seed ${seed}`,
);
let failed = false;
for (const store of stores) {
  const started = performance.now();
  const report = await runFuzz({
    store,
    seed,
    runs: perStore,
    ...(values.path ? { path: values.path } : {}),
    onProgress: (done) => console.log(`  ${store}: ${done} cases, ${((performance.now() - started) / 1000).toFixed(0)} s`),
  });
  console.log(formatReport(report));
  failed ||= report.failure !== null;
}
process.exit(failed ? 1 : 0);
