// The bench's child processes, spawned through the helpers the tests use (src/test/process.ts),
// from the repository root (so that `--import tsx` resolves), and every one of them killed, with
// its temporary directory removed, when the bench ends or is interrupted.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeDataDir, spawnNode, type NodeProcess } from '../../src/test/process.js';

/** packages/server/bench */
export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** packages/server */
export const SERVER_DIR = resolve(BENCH_DIR, '..');
export const REPO_ROOT = resolve(SERVER_DIR, '../..');

const running = new Set<NodeProcess>();
const cleanups: Array<() => void> = [];

export function killAll(): void {
  for (const child of running) child.child.kill('SIGKILL');
  running.clear();
  for (const cleanup of cleanups.splice(0)) cleanup();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`);
    killAll();
    process.exit(130);
  });
}

export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Kills `child` with the others when the bench ends. */
export function track<P extends NodeProcess>(child: P): P {
  if (child.child.pid === undefined) throw new Error(`${child.name}: could not spawn`);
  running.add(child);
  void child.exited.then(() => running.delete(child));
  return child;
}

/** Spawns `node <args>` from the repository root. */
export function startChild(name: string, args: string[], options: { env?: Record<string, string>; stdin?: boolean } = {}): NodeProcess {
  return track(spawnNode(name, args, { ...options, cwd: REPO_ROOT }));
}

/** Spawns one of the bench's own scripts (`bench/<script>`) under tsx. */
export function startScript(name: string, script: string, args: string[], options: { env?: Record<string, string>; stdin?: boolean } = {}): NodeProcess {
  return startChild(name, ['--import', 'tsx', join(BENCH_DIR, script), ...args], options);
}

/** SIGTERM, then SIGKILL if it is still there after 5 s. */
export async function stopChild(child: NodeProcess): Promise<void> {
  const timer = setTimeout(() => child.child.kill('SIGKILL'), 5000);
  await child.stop('SIGTERM');
  clearTimeout(timer);
}

/** Runs a measuring script to completion and returns the JSON object it printed last. */
export async function runProbe<T>(name: string, script: string, args: string[]): Promise<T> {
  const child = startScript(name, script, args);
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`${name} exited with ${code}:\n${child.stderr().slice(-4000)}`);
  const line = child.stdout().trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}

/**
 * Reads `child`'s stdout line by line: each call answers the next non-empty line, and fails if the
 * child exits first or says nothing within `timeoutMs`. Call it right after spawning, before any
 * output can have been missed.
 */
export function lineReader(child: NodeProcess): (timeoutMs?: number) => Promise<string> {
  if (!child.child.stdout) throw new Error(`${child.name}: no stdout`);
  const lines = createInterface({ input: child.child.stdout })[Symbol.asyncIterator]();
  return async (timeoutMs = 120_000) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${child.name}: no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      for (;;) {
        const next = await Promise.race([lines.next(), timeout]);
        if (next.done) {
          const { code, signal } = await child.exited;
          throw new Error(`${child.name} exited (${code ?? signal}):\n${child.stderr().slice(-4000)}`);
        }
        if (next.value.trim() !== '') return next.value;
      }
    } finally {
      clearTimeout(timer);
    }
  };
}

/** A temporary directory, removed when the bench ends. */
export function tempDir(prefix: string): string {
  const { dir, cleanup } = makeDataDir(prefix);
  cleanups.push(cleanup);
  return dir;
}

export function rssMegabytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/**
 * A bench's entry point: parses `argv` (a bad option prints the usage and exits 2; `null`, for
 * `--help`, prints it and stops), runs, reports a failure with exit 1, and always kills the children.
 */
export function runBench<Options>(usage: string, parse: (argv: string[]) => Options | null, run: (options: Options) => Promise<void>): void {
  const main = async (): Promise<void> => {
    let options: Options | null;
    try {
      options = parse(process.argv.slice(2));
    } catch (error) {
      process.stderr.write(`bench: ${(error as Error).message}\n\n${usage}\n`);
      process.exitCode = 2;
      return;
    }
    if (options === null) {
      process.stdout.write(`${usage}\n`);
      return;
    }
    await run(options);
  };
  main()
    .catch((error: unknown) => {
      process.stderr.write(`\nbench: FAILED — ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    })
    .finally(killAll);
}
