// Runs the benchmarks. `npm run bench` (no name) runs every target in one run and writes
// docs/benchmarks.md with its charts (packages/server/bench/suite.ts; `npm run bench -- --quick`
// in a few minutes). One part alone: `npm run bench -- <name> [options]`, or `npm run bench:token`,
// `bench:guard`, `bench:client`. Each prints a table with ratios measured in the same run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const benches = {
  token: 'packages/server/bench/token.ts',
  password: 'packages/server/bench/password.ts',
  guard: 'packages/guard/bench/guard.ts',
  client: 'packages/client/bench/client.ts',
  'forward-auth': 'packages/server/bench/forward-auth.ts',
  purge: 'packages/server/bench/purge.ts',
  dpop: 'packages/server/bench/dpop.ts',
  'refresh-ab': 'packages/server/bench/refresh-ab.ts',
};
const SUITE = 'packages/server/bench/suite.ts';
const [first, ...rest] = process.argv.slice(2);
const named = first !== undefined && !first.startsWith('-');
const file = named ? benches[first] : SUITE;
const args = named ? rest : process.argv.slice(2);
if (!file || !existsSync(file)) {
  console.error(`usage: npm run bench [-- --quick]   or   npm run bench -- <${Object.keys(benches).join('|')}> [options]`);
  process.exit(2);
}
// Benchmarks start the built `antpeer-auth` binary: build first so they never measure stale code.
const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const result = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
