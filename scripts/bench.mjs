// Runs a benchmark: `npm run bench:token`, `npm run bench:guard`, `npm run bench:client`
// (or `npm run bench -- <name>`, which also runs `forward-auth`). Each prints a table with ratios
// measured in the same run.
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
};
const [name, ...args] = process.argv.slice(2);
const file = benches[name];
if (!file || !existsSync(file)) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]`);
  process.exit(2);
}
// Benchmarks start the built `antpeer-auth` binary: build first so they never measure stale code.
const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const result = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
