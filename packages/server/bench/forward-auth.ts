// `npm run bench -- forward-auth`: what protecting an application costs per request, three ways,
// as rates and ratios measured in one run:
//   - the application called directly (no protection; the ceiling);
//   - through the built-in gateway (`antpeer-auth serve` with ANTPEER_UPSTREAM: one proxy hop that
//     verifies the token and checks its session in the store);
//   - through a real nginx with the README's auth_request configuration (nginx asks
//     `{base}/auth/verify`, then proxies to the application itself);
// and, to place the nginx figure, nginx proxying without auth_request and `{base}/auth/verify`
// called directly. Every server is its own process (the application a Fastify child, antpeer-auth
// the built binary over embedded SQLite, nginx one foreground process); the load generator
// (autocannon) runs here; all traffic is on loopback. One real access token, repeated, as an
// ingress sees a client's requests. Rounds interleave the scenarios, each keeps its best round.
// Fails on any non-2xx answer or socket error.
//
// Options: --duration <s> (per round and scenario, default 3), --rounds <n> (default 3),
//          --connections <n> (default 32).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { findNginx, readmeForwardAuthConfig, startNginx } from '../src/test/nginx.js';
import { freePort } from '../src/test/process.js';

const BASE = '/bankit-api/antPeer/v1';
const ROUTE = `${BASE}/user/accounts`;
const SERVER_BIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const APP = { username: 'bench-app', password: 'bench app password 0123456789' };
const UPSTREAM_FLAG = '--upstream';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  const value = index === -1 ? fallback : Number(process.argv[index + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/** Child process: the application, an unguarded Fastify route answering like an application endpoint. */
async function serveUpstream(): Promise<void> {
  const app = Fastify({ logger: false });
  app.all(`${BASE}/*`, async (request) => ({ owner: request.headers['x-auth-subject'] ?? null, accounts: [] }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
}

async function startUpstream(): Promise<{ port: number; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), [UPSTREAM_FLAG], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`the application exited with ${code}`)));
  });
  return { port, child };
}

async function startAntpeer(upstreamPort: number, dataDir: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER_BIN, 'serve'], {
    env: {
      ...process.env,
      PORT: String(port),
      ANTPEER_DATA_DIR: dataDir,
      ANTPEER_UPSTREAM: `http://127.0.0.1:${upstreamPort}${BASE}`,
      ANTPEER_BOOTSTRAP_USERNAME: APP.username,
      ANTPEER_BOOTSTRAP_PASSWORD: APP.password,
      ANTPEER_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false);
    if (up) return { port, child };
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('antpeer-auth serve did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

interface Run {
  rate: number;
  p99: number;
}

async function load(url: string, token: string | null, options: { duration?: number; amount?: number; connections: number }): Promise<Run> {
  const result = await autocannon({
    url,
    connections: options.connections,
    ...(options.amount === undefined ? { duration: options.duration } : { amount: options.amount }),
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return { rate: result.requests.average, p99: result.latency.p99 };
}

function printTable(header: string[], lines: string[][]): void {
  const all = [header, ...lines];
  const widths = header.map((_, column) => Math.max(...all.map((line) => (line[column] ?? '').length)));
  const format = (line: string[]) => `| ${line.map((cell, column) => cell.padEnd(widths[column] as number)).join(' | ')} |`;
  console.log(format(header));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const line of lines) console.log(format(line));
}

async function run(): Promise<void> {
  const duration = argument('--duration', 3);
  const rounds = argument('--rounds', 3);
  const connections = argument('--connections', 32);
  const nginxBinary = findNginx();
  if (nginxBinary === null) throw new Error('nginx is not installed: apt-get install -y nginx');

  const started = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'antpeer-bench-forward-auth-'));
  const children: ChildProcess[] = [];
  let nginx: Awaited<ReturnType<typeof startNginx>> | null = null;
  try {
    const upstream = await startUpstream();
    children.push(upstream.child);
    const antpeer = await startAntpeer(upstream.port, dataDir);
    children.push(antpeer.child);
    const nginxPort = await freePort();
    const plainPort = await freePort();
    // The README's configuration, plus a second server that only proxies (the same upstream
    // block and keep-alive), to tell auth_request's cost from nginx's own.
    const config = `${readmeForwardAuthConfig({ nginx: nginxPort, antpeer: antpeer.port, application: upstream.port })}
server {
    listen 127.0.0.1:${plainPort};
    location / {
        proxy_pass http://application;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
}
`;
    nginx = await startNginx(nginxBinary, config, nginxPort);

    const login = await fetch(`http://127.0.0.1:${antpeer.port}${BASE}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(APP),
    });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
    const { access_token: token } = (await login.json()) as { access_token: string };

    const scenarios = [
      { key: 'direct', name: 'application called directly', url: `http://127.0.0.1:${upstream.port}${ROUTE}`, token: null },
      { key: 'gateway', name: 'through the built-in gateway', url: `http://127.0.0.1:${antpeer.port}${ROUTE}`, token },
      { key: 'nginx', name: 'through nginx auth_request', url: `http://127.0.0.1:${nginxPort}${ROUTE}`, token },
      { key: 'plain', name: 'through nginx, no auth_request', url: `http://127.0.0.1:${plainPort}${ROUTE}`, token },
      { key: 'verify', name: '{base}/auth/verify called directly', url: `http://127.0.0.1:${antpeer.port}${BASE}/auth/verify`, token },
    ] as const;
    for (const scenario of scenarios) await load(scenario.url, scenario.token, { amount: 2_000, connections });
    const runs = new Map<string, Run[]>(scenarios.map((scenario) => [scenario.key, []]));
    for (let round = 0; round < rounds; round++) {
      for (const scenario of scenarios) runs.get(scenario.key)?.push(await load(scenario.url, scenario.token, { duration, connections }));
    }
    const best = (key: string): Run => (runs.get(key) ?? []).reduce((a, b) => (b.rate > a.rate ? b : a));
    const direct = best('direct');
    const gateway = best('gateway');
    const viaNginx = best('nginx');

    console.log(
      `\nforward authentication: best of ${rounds} interleaved rounds of ${duration}s, ${connections} connections, ` +
        `${cpus().length} CPUs shared by the load generator, nginx, antpeer-auth and the application, ` +
        `${Math.round((performance.now() - started) / 1000)}s\n`,
    );
    const ratio = (value: number) => `${value.toFixed(2)}×`;
    printTable(
      ['scenario', 'requests/s', 'p99 ms', 'vs direct', 'vs gateway'],
      scenarios.map((scenario) => {
        const result = best(scenario.key);
        return [
          scenario.name,
          Math.round(result.rate).toLocaleString('en-US'),
          String(result.p99),
          scenario.key === 'direct' ? '' : ratio(result.rate / direct.rate),
          scenario.key === 'gateway' || scenario.key === 'direct' ? '' : ratio(result.rate / gateway.rate),
        ];
      }),
    );
    console.log(`\nnginx auth_request / built-in gateway: ${ratio(viaNginx.rate / gateway.rate)} (no target in DESIGN §5)`);
  } finally {
    await nginx?.stop();
    await Promise.all(children.map(stop));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === UPSTREAM_FLAG) {
  await serveUpstream();
} else {
  await run();
}
