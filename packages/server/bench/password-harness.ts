// Child processes, options and tables for password.ts (the same ways as token.ts's).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function rawOption(name: string): string | null {
  const args = process.argv.slice(2);
  const index = args.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (index < 0) return null;
  const arg = args[index] as string;
  const raw = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1];
  if (!raw) throw new Error(`--${name} needs a value`);
  return raw;
}

/** `--name <positive number>`, else `fallback`. */
export function option(name: string, fallback: number): number {
  const raw = rawOption(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${raw}`);
  return value;
}

/** `--name <text>`, else null. */
export const stringOption = rawOption;

export interface Child {
  name: string;
  process: ChildProcess;
  stderr(): string;
  /** The next whole line the child prints on stdout (fails if it exits first). */
  nextLine(timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

const children = new Set<Child>();
const tempDirs: string[] = [];

function killAll(): void {
  for (const child of children) child.process.kill('SIGKILL');
  children.clear();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** A node child in a clean environment (none of the caller's ANTPEER_* or DATABASE_URL). */
export function startChild(name: string, args: string[], env: Record<string, string> = {}, options: { stdin?: boolean } = {}): Child {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('ANTPEER_') || ['DATABASE_URL', 'PORT', 'HOST', 'NODE_OPTIONS'].includes(key)) continue;
    clean[key] = value;
  }
  const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...clean, ...env }, stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let err = '';
  let partial = '';
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  proc.stdout?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((line) => line.trim() !== ''));
    wake?.();
  });
  proc.stderr?.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-64_000)));
  const exited = new Promise<number | null>((resolveExit) => proc.once('exit', (code) => (resolveExit(code), wake?.())));
  const child: Child = {
    name,
    process: proc,
    stderr: () => err,
    async nextLine(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (lines.length === 0) {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}):\n${err.slice(-4000)}`);
        if (Date.now() > deadline) throw new Error(`${name}: no answer within ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 500);
        });
        wake = null;
      }
      return lines.shift() as string;
    },
    exited,
  };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

export async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 5000);
  await child.exited;
  clearTimeout(timer);
}

/** A temporary directory, removed when the bench exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export async function waitHealthy(child: Child, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.process.exitCode !== null) throw new Error(`${child.name} exited before it was ready:\n${child.stderr().slice(-4000)}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name} not healthy at ${url} after ${timeoutMs} ms:\n${child.stderr().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A Markdown table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
