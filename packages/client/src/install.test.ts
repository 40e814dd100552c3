/**
 * `npx antpeer …` and `npx antpeer-auth …` work right after the README's set-up (`npm install`) on
 * a fresh clone, and never reach a registry. npm links a workspace's bin at install time only when
 * its file exists, and the build runs after that: so each bin is a small file in git that runs the
 * built entry, and the root's `prepare` script builds at install.
 *
 * The fresh copy holds exactly the files git tracks, with git's modes, and no node_modules or dist.
 * Its `npm install` prefers npm's cache (the lockfile's packages are there after the checkout's own
 * install; a package metadata request the cache cannot answer may still go out) and runs without
 * dependency install scripts, which keeps it within the test runner's time:
 * a full offline install compiles better-sqlite3 from source for 2 to 6 minutes here. What those
 * scripts and `prepare` then add (native modules, dist/) is not about linking, so the built commands
 * are run from this checkout, which `npm test` has built.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const WORKSPACES = ['packages/client', 'packages/guard', 'packages/server'];

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout: 100_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** This environment without npm's own variables (an outer `npm test` sets many), offline. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
  return { ...env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
}

describe('the antpeer and antpeer-auth commands', () => {
  let root = '';
  /** Path in the repository → git's mode (`100755` for an executable file). */
  const tracked = new Map<string, string>();
  /** Command → its file, from the workspaces' `bin`. */
  const bins = new Map<string, string>();

  before(async () => {
    root = (await run('git', ['rev-parse', '--show-toplevel'], dirname(fileURLToPath(import.meta.url)))).stdout.trim();
    for (const line of (await run('git', ['ls-files', '-s'], root)).stdout.split('\n')) {
      const match = /^(\d{6}) [0-9a-f]+ \d\t(.+)$/.exec(line);
      if (match?.[1] && match[2]) tracked.set(match[2], match[1]);
    }
    for (const workspace of WORKSPACES) {
      const manifest = JSON.parse(await readFile(join(root, workspace, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
      for (const [name, target] of Object.entries(manifest.bin ?? {})) bins.set(name, join(workspace, target));
    }
  });

  test('each is an executable node script in git, which runs the built entry', async () => {
    assert.deepEqual([...bins.keys()].sort(), ['antpeer', 'antpeer-auth']);
    for (const [name, path] of bins) {
      assert.equal(tracked.get(path), '100755', `${name}: ${path} is an executable file in git`);
      assert.match(await readFile(join(root, path), 'utf8'), /^#!\/usr\/bin\/env node\n/, `${name}: ${path} starts with a node shebang`);
      const help = await run(process.execPath, [join(root, path), '--help'], root);
      assert.equal(help.status, 0, `${name} --help (run npm run build first): ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage:\\s+${name} `));
    }
  });

  test('npm install builds: the root prepare script runs the build', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(manifest.scripts.prepare, 'npm run build');
  });

  test('on a fresh copy, npm install links both before any build, and npx finds them offline', async (t) => {
    const copy = await mkdtemp(join(tmpdir(), 'antpeer-fresh-'));
    t.after(() => rm(copy, { recursive: true, force: true }));
    for (const [path, mode] of tracked) {
      if (mode === '120000' || mode === '160000') continue; // symbolic links and submodules: none expected
      await mkdir(join(copy, dirname(path)), { recursive: true });
      await copyFile(join(root, path), join(copy, path));
      await chmod(join(copy, path), mode === '100755' ? 0o755 : 0o644);
    }

    const env = offlineEnv();
    const install = await run('npm', ['install', '--ignore-scripts', '--prefer-offline'], copy, { ...env, npm_config_offline: 'false' });
    assert.equal(install.status, 0, `npm install failed:\n${install.stderr}`);
    for (const [name, path] of bins) {
      const link = join(copy, 'node_modules', '.bin', name);
      assert.ok((await lstat(link)).isSymbolicLink(), `npm linked ${name}`);
      assert.equal(await realpath(link), await realpath(join(copy, path)));
      // Found locally, not looked up in a registry; with no dist/ yet, it says what to do in one line.
      const unbuilt = await run('npx', ['--offline', name, '--help'], copy, env);
      assert.equal(unbuilt.status, 1, `${name}: ${unbuilt.stderr}`);
      assert.match(unbuilt.stderr, new RegExp(`^${name}: .*run \`npm run build\`.*\n$`));
    }
  });
});
