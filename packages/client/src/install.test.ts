/**
 * `npx antpeer …` and `npx antpeer-auth …` work on a fresh copy of the repository right after the
 * README's set-up, and never reach a registry. The copy holds exactly the files git tracks (the
 * working tree's versions) with git's modes, and no node_modules or dist: npm links the bins at
 * install time, before the build, so their files must be in git.
 *
 * Every npm command runs offline (`npm_config_offline`: npm's cache only, a request it would have
 * sent fails with ENOTCACHED instead). A full `npm install` takes 2 to 6 minutes here, most of it
 * compiling better-sqlite3 from source, which no `--help` needs: so the install skips dependency
 * scripts, then runs the two that matter by hand: argon2's (the server loads it at start, and its
 * prebuilt binary does not load on every machine) and the root's `prepare`, which builds.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MINUTE = 60_000;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout: 5 * MINUTE, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

/** This environment without npm's own variables (an outer `npm test` sets many), offline. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
  return {
    ...env,
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
}

test('on a fresh copy, npm install links antpeer and antpeer-auth and npx runs them without a registry', { timeout: 15 * MINUTE }, async (t) => {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = (await run('git', ['rev-parse', '--show-toplevel'], here)).stdout.trim();
  const copy = await mkdtemp(join(tmpdir(), 'antpeer-fresh-'));
  t.after(() => rm(copy, { recursive: true, force: true }));

  // Each bin of each workspace is an executable file in git, so npm can link it before any build.
  const tracked = new Map<string, string>();
  for (const line of (await run('git', ['ls-files', '-s'], root)).stdout.split('\n')) {
    const match = /^(\d{6}) [0-9a-f]+ \d\t(.+)$/.exec(line);
    if (match?.[1] && match[2]) tracked.set(match[2], match[1]);
  }
  const bins = new Map<string, string>();
  for (const workspace of ['packages/client', 'packages/guard', 'packages/server']) {
    const manifest = JSON.parse(await readFile(join(root, workspace, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
    for (const [name, target] of Object.entries(manifest.bin ?? {})) {
      const path = join(workspace, target);
      assert.equal(tracked.get(path), '100755', `${name}: ${path} is an executable file in git`);
      assert.match(await readFile(join(root, path), 'utf8'), /^#!\/usr\/bin\/env node\n/, `${name}: ${path} starts with a node shebang`);
      bins.set(name, path);
    }
  }
  assert.deepEqual([...bins.keys()].sort(), ['antpeer', 'antpeer-auth']);

  for (const [path, mode] of tracked) {
    if (mode === '120000' || mode === '160000') continue; // symbolic links and submodules: none expected
    await mkdir(join(copy, dirname(path)), { recursive: true });
    await copyFile(join(root, path), join(copy, path));
    await chmod(join(copy, path), mode === '100755' ? 0o755 : 0o644);
  }

  const env = offlineEnv();
  const install = await run('npm', ['install', '--ignore-scripts'], copy, env);
  assert.equal(install.status, 0, `npm install failed:\n${install.stderr}`);
  for (const [name, path] of bins) {
    const link = join(copy, 'node_modules', '.bin', name);
    assert.ok((await lstat(link)).isSymbolicLink(), `npm linked ${name}`);
    assert.equal(await realpath(link), await realpath(join(copy, path)));
  }

  // Before the build, each command is found locally and says what to do, in one line.
  for (const name of bins.keys()) {
    const unbuilt = await run('npx', ['--offline', name, '--help'], copy, env);
    assert.equal(unbuilt.status, 1, `${name} before the build`);
    assert.match(unbuilt.stderr, new RegExp(`^${name}: .*run \`npm run build\`.*\n$`));
  }

  const argon2 = await run('npm', ['rebuild', 'argon2'], copy, env);
  assert.equal(argon2.status, 0, `npm rebuild argon2 failed:\n${argon2.stderr}`);
  const prepare = await run('npm', ['run', 'prepare'], copy, env);
  assert.equal(prepare.status, 0, `npm run prepare failed:\n${prepare.stderr}`);

  const client = await run('npx', ['--offline', 'antpeer', '--help'], copy, env);
  assert.equal(client.status, 0, client.stderr);
  assert.match(client.stdout, /^Usage:\n {2}antpeer token /);
  const server = await run('npx', ['--offline', 'antpeer-auth', '--help'], copy, env);
  assert.equal(server.status, 0, server.stderr);
  assert.match(server.stdout, /^Usage: antpeer-auth /);
});
