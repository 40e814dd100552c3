/**
 * A fresh clone as a stranger gets it: exactly the files git tracks, with git's modes, and no
 * node_modules, dist/ or data/. Tests that check the README's promises start from one.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `command args` to completion (bounded by `timeoutMs`), keeping its output. */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeoutMs ?? 100_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The repository this checkout is. */
export async function repositoryRoot(): Promise<string> {
  const found = await runCommand('git', ['rev-parse', '--show-toplevel'], { cwd: dirname(fileURLToPath(import.meta.url)) });
  return found.stdout.trim();
}

/** Path in the repository → git's mode (`100755` for an executable file). */
export async function trackedFiles(root: string): Promise<Map<string, string>> {
  const tracked = new Map<string, string>();
  for (const line of (await runCommand('git', ['ls-files', '-s'], { cwd: root })).stdout.split('\n')) {
    const match = /^(\d{6}) [0-9a-f]+ \d\t(.+)$/.exec(line);
    if (match?.[1] && match[2]) tracked.set(match[2], match[1]);
  }
  return tracked;
}

/** Command name → its file in the repository, from the workspaces' `bin`. */
export async function workspaceBins(root: string): Promise<Map<string, string>> {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  const bins = new Map<string, string>();
  for (const workspace of manifest.workspaces) {
    const own = JSON.parse(await readFile(join(root, workspace, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
    for (const [name, target] of Object.entries(own.bin ?? {})) bins.set(name, join(workspace, target));
  }
  return bins;
}

/** Copies the tracked files of `root` into a new temporary folder; `remove` deletes it. */
export async function freshCopy(root: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'antpeer-fresh-'));
  for (const [path, mode] of await trackedFiles(root)) {
    if (mode === '120000' || mode === '160000') continue; // symbolic links and submodules: none expected
    await mkdir(join(dir, dirname(path)), { recursive: true });
    await copyFile(join(root, path), join(dir, path));
    await chmod(join(dir, path), mode === '100755' ? 0o755 : 0o644);
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * This environment as a stranger's shell has it: without npm's own variables (an outer `npm test`
 * sets many), without anything that configures the server or the test runner, with npm's answers
 * coming from its cache where it can (`prefer-offline`) and no audit or update chatter.
 */
export function strangerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.toLowerCase().startsWith('npm_') || name.startsWith('ANTPEER_') || name.startsWith('NODE_TEST')) continue;
    if (name === 'NODE_OPTIONS' || name === 'PORT' || name === 'HOST' || name === 'DATABASE_URL') continue;
    env[name] = value;
  }
  return {
    ...env,
    npm_config_prefer_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    ...extra,
  };
}
