/**
 * The README's promise, kept the way a stranger meets it: on a fresh clone, `npm install && npm
 * start` serves the contract, the page's two `curl` requests work verbatim, and every command the
 * README's `antpeer-auth` table shows (and the client's `antpeer`) works right after, through `npx`,
 * without reaching a registry.
 *
 * The commands are read from the README itself, so the document cannot drift from what works: the
 * quick start's shell blocks run as written (only the port is changed, through `PORT`, so tests can
 * run side by side), and each row of the command table must be exercised here or this test fails.
 * The install is a real one (dependency scripts and the root `prepare` build included), with npm's
 * answers from its cache where it can: 1 to 3 minutes on a 2-core machine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { freshCopy, repositoryRoot, runCommand, strangerEnv, trackedFiles, workspaceBins, type CommandResult } from './test/fresh-copy.js';
import { assertTokenResponse, BASE_PATH } from './test/http.js';
import { freePort, GENERATED_PASSWORD, waitFor } from './test/process.js';

/** A real install compiles or unpacks native modules and builds three packages. */
const INSTALL_TIMEOUT_MS = 600_000;

/** The fenced blocks of `language` in the README section headed `heading` (`## …`). */
function shellBlocks(readme: string, heading: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has a section ${heading}`);
  const end = readme.indexOf('\n## ', start + heading.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
}

/** The command forms in the first column of the README's `antpeer-auth` table, e.g. `users add <name> [--password-stdin]`. */
function commandTableForms(readme: string): string[] {
  const start = readme.indexOf('\n## The `antpeer-auth` command\n');
  assert.ok(start >= 0, 'README has the antpeer-auth command section');
  const forms: string[] = [];
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (line.startsWith('### ')) break;
    const first = /^\| (.+?) \| /.exec(line)?.[1];
    if (!first || first === 'command' || /^-+$/.test(first)) continue;
    for (const code of first.matchAll(/`([^`]+)`/g)) forms.push(code[1] ?? '');
  }
  return forms;
}

describe('a fresh clone, as the README tells a stranger to use it', { timeout: INSTALL_TIMEOUT_MS + 300_000 }, () => {
  let root = '';
  let readme = '';
  let bins = new Map<string, string>();

  before(async () => {
    root = await repositoryRoot();
    readme = await readFile(join(root, 'README.md'), 'utf8');
    bins = await workspaceBins(root);
  });

  test('each command is an executable node script in git, which runs the built entry', async () => {
    const tracked = await trackedFiles(root);
    assert.deepEqual([...bins.keys()].sort(), ['antpeer', 'antpeer-auth']);
    for (const [name, path] of bins) {
      assert.equal(tracked.get(path), '100755', `${name}: ${path} is an executable file in git`);
      assert.match(await readFile(join(root, path), 'utf8'), /^#!\/usr\/bin\/env node\n/, `${name}: ${path} starts with a node shebang`);
      const help = await runCommand(process.execPath, [join(root, path), '--help'], { cwd: root });
      assert.equal(help.status, 0, `${name} --help (run npm run build first): ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage:\\s+${name} `));
    }
  });

  test('installed with --ignore-scripts, both commands are linked locally and say to build first', { timeout: INSTALL_TIMEOUT_MS }, async (t) => {
    const copy = await freshCopy(root);
    t.after(() => copy.remove());
    const install = await runCommand('npm', ['install', '--ignore-scripts'], { cwd: copy.dir, env: strangerEnv(), timeoutMs: INSTALL_TIMEOUT_MS });
    assert.equal(install.status, 0, `npm install --ignore-scripts failed:\n${install.stderr}`);
    for (const [name, path] of bins) {
      const link = join(copy.dir, 'node_modules', '.bin', name);
      assert.ok((await lstat(link)).isSymbolicLink(), `npm linked ${name}`);
      assert.equal(await realpath(link), await realpath(join(copy.dir, path)));
      // Found locally, never looked up in a registry; with no dist/ yet, it says what to do in one line.
      const unbuilt = await runCommand('npx', ['--offline', name, '--help'], { cwd: copy.dir, env: strangerEnv({ npm_config_offline: 'true' }) });
      assert.equal(unbuilt.status, 1, `${name}: ${unbuilt.stderr}`);
      assert.match(unbuilt.stderr, new RegExp(`^${name}: .*run \`npm run build\`.*\n$`));
    }
  });

  describe('npm install && npm start, then every command the README shows', { timeout: INSTALL_TIMEOUT_MS + 240_000 }, () => {
    let dir = '';
    let removeCopy = async (): Promise<void> => {};
    let port = 0;
    let server: ReturnType<typeof spawn> | undefined;
    let serverOutput = '';
    let printedPassword = '';
    let baseUrl = '';
    /** What `npx antpeer-auth …` and the `curl` blocks run with: a stranger's shell, strictly offline for npx. */
    let shellEnv: NodeJS.ProcessEnv = {};

    /** Runs `script` with sh in the fresh clone, the way a stranger types it. */
    function sh(script: string, input?: string): Promise<CommandResult> {
      return runCommand('sh', ['-c', script], { cwd: dir, env: shellEnv, input, timeoutMs: 120_000 });
    }

    async function npxAntpeerAuth(args: string, input?: string): Promise<string> {
      const result = await sh(`npx antpeer-auth ${args}`, input);
      assert.equal(result.status, 0, `npx antpeer-auth ${args}: exit ${result.status}\n${result.stderr}`);
      return result.stdout;
    }

    before(async () => {
      const copy = await freshCopy(root);
      dir = copy.dir;
      removeCopy = copy.remove;
      port = await freePort();
      baseUrl = `http://127.0.0.1:${port}${BASE_PATH}`;
      shellEnv = strangerEnv({ npm_config_offline: 'true' });

      const [quickStart] = shellBlocks(readme, '## Quick start');
      assert.equal(quickStart?.trim(), 'npm install && npm start', 'the quick start begins with npm install && npm start');
      // Its own process group, so stopping it stops npm and the server under it.
      server = spawn('sh', ['-c', quickStart], {
        cwd: dir,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: strangerEnv({ PORT: String(port), ANTPEER_METRICS_PORT: '0', ANTPEER_LOG_LEVEL: 'warn' }),
      });
      server.stdout?.setEncoding('utf8').on('data', (chunk: string) => (serverOutput += chunk));
      server.stderr?.setEncoding('utf8').on('data', (chunk: string) => (serverOutput += chunk));
      let exitCode: number | null | undefined;
      server.once('exit', (code) => (exitCode = code));
      const deadline = Date.now() + INSTALL_TIMEOUT_MS;
      for (;;) {
        if (exitCode !== undefined) throw new Error(`npm install && npm start exited (${exitCode}):\n${serverOutput.slice(-4000)}`);
        if (Date.now() > deadline) throw new Error(`npm install && npm start did not serve in time:\n${serverOutput.slice(-4000)}`);
        const password = GENERATED_PASSWORD.exec(serverOutput)?.[1];
        const health = password ? await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined) : undefined;
        if (password && health?.status === 200) {
          printedPassword = password;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });

    after(async () => {
      if (server?.pid !== undefined && server.exitCode === null && server.signalCode === null) {
        const exited = new Promise<void>((resolve) => server?.once('exit', () => resolve()));
        process.kill(-server.pid, 'SIGTERM');
        await exited;
      }
      await removeCopy();
    });

    test('npm start printed the first client application and its password once', () => {
      assert.match(serverOutput, /Created the first client application "antpeer-client"\./);
      assert.equal(serverOutput.split(printedPassword).length, 2, 'the password is printed exactly once');
    });

    test("the page's two requests work verbatim", async () => {
      const [, requests] = shellBlocks(readme, '## Quick start');
      assert.ok(requests, 'the quick start shows the two requests');
      const [assignment, loginCurl, refreshCurl, ...rest] = requests.trim().split(/\n\s*\n/);
      assert.deepEqual(rest, []);
      assert.ok(assignment && loginCurl && refreshCurl);
      const base = assignment.replace('http://127.0.0.1:8080', `http://127.0.0.1:${port}`);
      assert.equal(base, `base_url=${baseUrl}`);

      const login = await sh(`${base}\n${loginCurl.replace('<the printed password>', printedPassword)}`);
      assert.equal(login.status, 0, login.stderr);
      const first: unknown = JSON.parse(login.stdout);
      assertTokenResponse(first);

      const refresh = await sh(`${base}\n${refreshCurl.replace('<refresh_token from the first answer>', first.refresh_token)}`);
      assert.equal(refresh.status, 0, refresh.stderr);
      const second: unknown = JSON.parse(refresh.stdout);
      assertTokenResponse(second);
      assert.equal(second.session_state, first.session_state);
      assert.notEqual(second.refresh_token, first.refresh_token);
    });

    test('every row of the antpeer-auth table works through npx, offline', async () => {
      // Each form of the README's table, and how this test exercises it (in this order).
      const covered = new Set<string>();
      const row = (form: string): void => void covered.add(form);

      row('users add <name> [--password-stdin]');
      assert.match(await npxAntpeerAuth('users add ops-reader'), GENERATED_PASSWORD);
      assert.doesNotMatch(await npxAntpeerAuth('users add ops-writer --password-stdin', 'a long enough password for ops-writer\n'), GENERATED_PASSWORD);
      const loggedIn = await fetch(`${baseUrl}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'ops-writer', password: 'a long enough password for ops-writer' }),
      });
      assert.equal(loggedIn.status, 200, 'a client application added from the CLI logs in to the running server');
      const writerSession = ((await loggedIn.json()) as { session_state: string }).session_state;

      row('users list [--json]');
      assert.match(await npxAntpeerAuth('users list'), /ops-reader/);
      const listed = JSON.parse(await npxAntpeerAuth('users list --json')) as { username: string }[];
      assert.deepEqual(listed.map((user) => user.username).sort(), ['antpeer-client', 'ops-reader', 'ops-writer']);

      row('users passwd <name> [--password-stdin]');
      assert.match(await npxAntpeerAuth('users passwd ops-reader'), GENERATED_PASSWORD);
      await npxAntpeerAuth('users passwd ops-reader --password-stdin', 'another long password for ops-reader\n');

      row('users disable <name>');
      row('users enable <name>');
      await npxAntpeerAuth('users disable ops-reader');
      await npxAntpeerAuth('users enable ops-reader');

      row('users allow-introspection <name>');
      row('users deny-introspection <name>');
      await npxAntpeerAuth('users allow-introspection ops-reader');
      await npxAntpeerAuth('users deny-introspection ops-reader');

      row('users require-dpop <name>');
      row('users allow-bearer <name>');
      await npxAntpeerAuth('users require-dpop ops-reader');
      const refused = await fetch(`${baseUrl}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'ops-reader', password: 'another long password for ops-reader' }),
      });
      assert.equal(refused.status, 400, 'a client application that must use DPoP cannot log in with a bare password grant');
      await npxAntpeerAuth('users allow-bearer ops-reader');

      row('sessions list [--user <name>] [--limit N] [--json]');
      assert.match(await npxAntpeerAuth('sessions list'), /ops-writer/);
      const sessions = JSON.parse(await npxAntpeerAuth('sessions list --user ops-writer --limit 10 --json')) as { id: string }[];
      assert.deepEqual(sessions.map((session) => session.id), [writerSession]);

      row('sessions revoke <id>');
      row('sessions revoke --user <name>');
      await npxAntpeerAuth(`sessions revoke ${writerSession}`);
      assert.deepEqual(JSON.parse(await npxAntpeerAuth('sessions list --user ops-writer --json')), []);
      await npxAntpeerAuth('sessions revoke --user antpeer-client');

      row('policy not-before [--user <name>]');
      await npxAntpeerAuth('policy not-before --user ops-reader');
      await npxAntpeerAuth('policy not-before');

      row('keys rotate');
      const jwks = async (): Promise<string[]> =>
        ((await (await fetch(`${baseUrl}/auth/certs`)).json()) as JSONWebKeySet).keys.map((key) => String(key.kid));
      const before = await jwks();
      await npxAntpeerAuth('keys rotate');
      const after = await waitFor('the running server to publish the new key', async () => {
        const now = await jwks();
        return now.length > before.length ? now : undefined;
      });
      assert.deepEqual(after.filter((kid) => before.includes(kid)).sort(), before.sort(), 'the old key stays published');

      row('audit list [--since <time>] [--until <time>] [--user <name>] [--kind <kind>] [--limit N] [--json]');
      assert.match(await npxAntpeerAuth('audit list --since 15m --kind user_added'), /ops-reader/);
      const events = JSON.parse(await npxAntpeerAuth('audit list --user ops-reader --kind user_disabled --until 2099-01-01T00:00:00Z --limit 5 --json')) as { kind: string }[];
      assert.deepEqual(events.map((event) => event.kind), ['user_disabled']);

      row('audit export [--since …] [--until …] [--user …] [--kind …]');
      const exported = (await npxAntpeerAuth('audit export --kind key_rotated')).trim().split('\n');
      assert.equal(exported.length, 1);
      assert.equal((JSON.parse(exported[0] ?? '') as { kind: string }).kind, 'key_rotated');

      row('admins add <name> [--password-stdin]');
      row('admins list [--json]');
      row('admins remove <name>');
      row('admins passwd <name> [--password-stdin]');
      assert.match(await npxAntpeerAuth('admins add ops-admin'), GENERATED_PASSWORD);
      await npxAntpeerAuth('admins passwd ops-admin --password-stdin', 'a long enough password for ops-admin\n');
      assert.match(await npxAntpeerAuth('admins list'), /ops-admin/);
      const admins = JSON.parse(await npxAntpeerAuth('admins list --json')) as { name: string }[];
      assert.deepEqual(admins.map((admin) => admin.name), ['ops-admin']);
      await npxAntpeerAuth('admins remove ops-admin');
      assert.deepEqual(JSON.parse(await npxAntpeerAuth('admins list --json')), []);

      row('migrate');
      await npxAntpeerAuth('migrate');
      row('purge [--batch N]');
      await npxAntpeerAuth('purge --batch 100');

      row('users remove <name>');
      await npxAntpeerAuth('users remove ops-reader');
      assert.doesNotMatch(await npxAntpeerAuth('users list'), /ops-reader/);

      row('serve [--workers N]');
      const workersPort = await freePort();
      const workers = spawn('sh', ['-c', 'npx antpeer-auth serve --workers 2'], {
        cwd: dir,
        detached: true,
        stdio: 'ignore',
        env: { ...shellEnv, PORT: String(workersPort), ANTPEER_METRICS_PORT: '0', ANTPEER_LOG_LEVEL: 'warn' },
      });
      try {
        await waitFor('npx antpeer-auth serve --workers 2 to serve', async () =>
          (await fetch(`http://127.0.0.1:${workersPort}/healthz`).catch(() => undefined))?.status === 200 ? true : undefined,
        { timeoutMs: 60_000 });
      } finally {
        const exited = new Promise<void>((resolve) => workers.once('exit', () => resolve()));
        if (workers.pid !== undefined) process.kill(-workers.pid, 'SIGTERM');
        await exited;
      }

      assert.deepEqual([...covered].sort(), commandTableForms(readme).sort(), 'this test exercises exactly the rows of the README table');
    });

    test("the client's antpeer command gets a token from the running server through npx, offline", async (t) => {
      const storeDir = await mkdtemp(join(tmpdir(), 'antpeer-client-store-'));
      t.after(() => rm(storeDir, { recursive: true, force: true }));
      const help = await sh('npx antpeer --help');
      assert.equal(help.status, 0, help.stderr);
      const issued = await sh(`npx antpeer token --base-url ${baseUrl} --username ops-writer --password-stdin --store-dir ${storeDir}`, 'a long enough password for ops-writer\n');
      assert.equal(issued.status, 0, issued.stderr);
      const token = issued.stdout.trim();
      const keys = (await (await fetch(`${baseUrl}/auth/certs`)).json()) as JSONWebKeySet;
      const { payload } = await jwtVerify(token, createLocalJWKSet(keys));
      assert.equal(payload.client_id, 'ops-writer');
    });
  });
});
