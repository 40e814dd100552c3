// Our server as the bench runs it: which build (dist, --server, or src under tsx), with which
// client application and limits, started as its own process on loopback.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnAntpeer, waitUntilServing, type ServeProcess } from '../../src/test/process.js';
import type { TokenBenchOptions } from './options.js';
import { REPO_ROOT, SERVER_DIR, log, track } from './processes.js';

/** The client application every server of the bench is bootstrapped with. */
export const APP = Object.freeze({ username: 'bench-app', password: 'bench app password 0123456789' });

/** The environment every server of the bench shares: its client application, and limits that never get in the way of load. */
export const BENCH_SERVER_ENV = Object.freeze({
  HOST: '127.0.0.1',
  ANTPEER_LOG_LEVEL: 'warn',
  ANTPEER_BOOTSTRAP_USERNAME: APP.username,
  ANTPEER_BOOTSTRAP_PASSWORD: APP.password,
  ANTPEER_SOURCE_FAILURE_LIMIT: '1000000',
  ANTPEER_LOCKOUT_THRESHOLD: '1000000',
  ANTPEER_SESSION_REFRESH_LIMIT: '1000000',
  ANTPEER_MAX_SESSIONS_PER_CLIENT: '10000000',
});

/** How our server is started: the node arguments before `serve`, and what the report says about them. */
export interface ServerLaunch {
  command: string[];
  launchedFrom: string;
}

/** The newest modification time of the sources the build compiles (not tests, not test/ helpers), to tell a stale dist. */
function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = entry.name === 'test' ? newest : Math.max(newest, newestSourceMtime(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The build to measure: `--server`, else dist (with a warning when src/ is newer), else src under tsx. */
export function serverLaunch(options: Pick<TokenBenchOptions, 'serverMain' | 'profileDir'>): ServerLaunch {
  const { serverMain, profileDir } = options;
  const distMain = serverMain ? resolve(serverMain) : join(SERVER_DIR, 'dist/cli/main.js');
  if (serverMain && !existsSync(distMain)) throw new Error(`--server ${serverMain}: no such file`);
  const useDist = existsSync(distMain);
  const buildInfo = join(SERVER_DIR, 'dist/.tsbuildinfo');
  const builtAt = useDist ? statSync(existsSync(buildInfo) && !serverMain ? buildInfo : distMain).mtimeMs : 0;
  const distStale = useDist && !serverMain && newestSourceMtime(join(SERVER_DIR, 'src')) > builtAt;
  if (distStale) log('warning: packages/server/dist is older than src/ — this measures the last build (run `npm run build`)');
  const profileArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDir)}`] : [];
  return {
    command: [...profileArgs, ...(useDist ? [distMain] : ['--import', 'tsx', join(SERVER_DIR, 'src/cli/main.ts')])],
    launchedFrom: serverMain ? `${serverMain} (--server)` : useDist ? `dist (compiled${distStale ? ', OLDER THAN src/' : ''})` : 'src via tsx',
  };
}

/** Starts `serve` with `env` (which names the PORT) and waits until it answers `/healthz`. */
export async function startOurServer(launch: ServerLaunch, env: Record<string, string>): Promise<ServeProcess> {
  const server = track(await spawnAntpeer(['serve'], { command: launch.command, env, cwd: REPO_ROOT }));
  return waitUntilServing(server, 90_000);
}
