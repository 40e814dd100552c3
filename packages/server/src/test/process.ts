/**
 * Real `antpeer-auth` processes for tests and benchmarks: the built binary spawned with a clean
 * environment on a free loopback port, waited for until `/healthz` answers, stopped by signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE_PATH, call } from './http.js';

/** The built `antpeer-auth` binary (`npm run build` produces it). */
export const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** What `antpeer-auth` prints, once, when it generates a password (`users add`, a first start); group 1 is the password. */
export const GENERATED_PASSWORD = /password \(shown once, stored only as a hash\): (\S+)/;

/** How long a spawned server may take to answer `/healthz` (a cold start on a busy 2-core machine). */
const READY_DEADLINE_MS = 20_000;

/** A fresh temporary data directory; `cleanup` removes it. */
export function makeDataDir(prefix = 'antpeer-proc-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A TCP port nobody listens on right now (bound to 0, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The child's environment: this process's, without anything that would configure the server or the
 * test runner behind our back, plus `env`.
 */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('ANTPEER_') || key.startsWith('NODE_TEST') || key === 'NODE_OPTIONS') continue;
    if (key === 'PORT' || key === 'HOST' || key === 'DATABASE_URL') continue;
    clean[key] = value;
  }
  // Metrics on an ephemeral port: several servers run side by side in tests.
  return { ...clean, ANTPEER_LOG_LEVEL: 'warn', ANTPEER_METRICS_PORT: '0', ...env };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    if (hasExited(child)) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Polls `check` every 25 ms until it returns a value other than undefined; an error it throws is
 * kept for the message and the polling goes on. Throws after `timeoutMs`, or at once when `process`
 * is given and has exited.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs?: number; process?: NodeProcess } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    const { process: watched } = options;
    if (watched && hasExited(watched.child)) {
      throw new Error(`${watched.name} exited (${watched.child.exitCode ?? watched.child.signalCode}) before ${what}:\n${watched.stderr()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}${watched ? `\n${watched.stderr()}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A spawned Node.js process whose output is kept. */
export interface NodeProcess {
  name: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Resolves once stdout matches `pattern` (bounded). */
  waitForStdout(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/** Spawns `node <args>` with {@link childEnv}`(env)`; stdin is a pipe only when asked for. */
export function spawnNode(
  name: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: boolean; cwd?: string } = {},
): NodeProcess {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: childEnv(options.env ?? {}),
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = exitOf(child);
  const spawned: NodeProcess = {
    name,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForStdout: (pattern) =>
      waitFor(`stdout to match ${pattern}`, () => stdout.match(pattern) ?? undefined, { timeoutMs: READY_DEADLINE_MS, process: spawned }),
    async stop(signal = 'SIGTERM') {
      if (!hasExited(child)) child.kill(signal);
      return exited;
    },
  };
  return spawned;
}

/** A spawned process that serves HTTP on `origin`. */
export interface HttpProcess extends NodeProcess {
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
}

/** A spawned `antpeer-auth serve`. */
export interface ServeProcess extends HttpProcess {
  /** The default issuer: origin + base path. */
  issuer: string;
  tokenUrl: string;
}

/** Where a spawned server's data lives, its environment and, for benchmarks, how to launch it. */
export interface AntpeerOptions {
  /** Sets ANTPEER_DATA_DIR. */
  dataDir?: string;
  env?: Record<string, string>;
  /** The node arguments that start the CLI: default the built {@link BIN}. */
  command?: string[];
  cwd?: string;
}

/** Spawns `antpeer-auth <args>` on a free port (or `env.PORT`); does not wait for it to serve. */
export async function spawnAntpeer(args: string[], options: AntpeerOptions = {}): Promise<ServeProcess> {
  const port = options.env?.PORT === undefined ? await freePort() : Number(options.env.PORT);
  const env = { ...(options.dataDir === undefined ? {} : { ANTPEER_DATA_DIR: options.dataDir }), PORT: String(port), ...options.env };
  const spawned = spawnNode(`antpeer-auth ${args.join(' ')}`, [...(options.command ?? [BIN]), ...args], { env, cwd: options.cwd });
  const origin = `http://127.0.0.1:${port}`;
  return { ...spawned, port, origin, issuer: `${origin}${BASE_PATH}`, tokenUrl: `${origin}${BASE_PATH}/auth/token` };
}

/** Resolves once `GET /healthz` answers 200; kills the process and throws if it does not in time. */
export async function waitUntilServing<P extends HttpProcess>(serving: P, timeoutMs = READY_DEADLINE_MS): Promise<P> {
  try {
    await waitFor(
      `GET ${serving.origin}/healthz`,
      async () => ((await call('GET', `${serving.origin}/healthz`)).status === 200 ? true : undefined),
      { timeoutMs, process: serving },
    );
  } catch (error) {
    serving.child.kill('SIGKILL');
    throw error;
  }
  return serving;
}

/**
 * Spawns `antpeer-auth serve [args]` and resolves once it serves. The caller must `stop()` it (or
 * SIGKILL `child`) in an `after`/`finally`.
 */
export async function startServe(options: AntpeerOptions & { args?: string[] } = {}): Promise<ServeProcess> {
  return waitUntilServing(await spawnAntpeer(['serve', ...(options.args ?? [])], options));
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs `antpeer-auth <args>` to completion, with `input` on standard input. */
export async function runCli(
  args: string[],
  options: { dataDir?: string; env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const env = { ...(options.dataDir === undefined ? {} : { ANTPEER_DATA_DIR: options.dataDir }), ...options.env };
  const spawned = spawnNode(`antpeer-auth ${args.join(' ')}`, [BIN, ...args], { env, stdin: true });
  const { child } = spawned;
  child.stdin?.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  const exit = await spawned.exited;
  clearTimeout(timer);
  // 'exit' can come before the pipes are drained.
  await Promise.all(
    [child.stdout, child.stderr].map((stream) => new Promise((resolve) => (!stream || stream.readableEnded ? resolve(null) : stream.once('close', resolve)))),
  );
  return { ...exit, stdout: spawned.stdout(), stderr: spawned.stderr() };
}
