// `npm run bench:guard`: what the guard costs a service, as ratios measured in one run
// (DESIGN §5). Real Fastify servers on loopback, each in its own child process so that the load
// generator (autocannon, this process) and the server do not share an event loop.
//
//   guarded route, repeated token   vs  the same route unguarded          target ≥ 0.85×
//   guarded route, new token each   vs  raw Ed25519 verify, with the guard's own verifier  target ≥ 0.9×
//                                       (libsodium when it loads; node:crypto's rate printed beside it)
//   gateway vs direct upstream      (no target; the cost of the proxy hop and the session check)
//
// Options: --duration <s> (per round and scenario, default 2), --rounds <n> (default 3),
// --connections <n> (default 32).
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { cpuSeconds } from '../../server/bench/suite/cpu.js';
import { BASE_PATH, login } from '../../server/src/test/http.js';
import { makeDataDir, startServe, type ServeProcess } from '../../server/src/test/process.js';
import type * as Sodium from 'sodium-native';
import { antpeerGuard, createVerifier } from '../src/index.js';
import { ED25519_VERIFIER } from '../src/lib/keys.js';
import { AUDIENCE, FakeIssuer } from '../src/test/fake-issuer.js';

/** One line of the printed table. */
export interface BenchRow {
  scenario: string;
  /** Operations (requests or verifications) per second. */
  rate: number;
  /** 99th percentile latency in ms, for HTTP rows. */
  p99?: number;
  /** The server process's CPU time per request (user + system, all its threads), in µs, for HTTP rows. */
  cpuUs?: number;
  /** `rate / baseline rate`, with the baseline's name and the target. */
  ratio?: { value: number; versus: string; target: number };
  note?: string;
}

/** One load's answers a second, its p99 latency (ms) and, given the server's pid, its CPU per request (µs). */
interface Load {
  rate: number;
  p99: number;
  cpuUs?: number;
}

/** What a later benchmark part may reuse: the issuer, fresh tokens and the load generator. */
export interface BenchContext {
  issuer: string;
  audience: string;
  duration: number;
  connections: number;
  mintToken(): string;
  load(url: string, options?: { token?: () => string; amount?: number; pid?: number }): Promise<Load>;
}

// ---------------------------------------------------------------------------------------------
// Gateway vs direct upstream: the real `antpeer-auth serve` (built dist, its own process, embedded
// SQLite) in front of the unguarded upstream, with a real token from its own token endpoint. Each
// gateway request verifies the token (cached after the first) and checks its session in the store.
// ---------------------------------------------------------------------------------------------
const GATEWAY_APP = { username: 'bench-app', password: 'bench password 0123456789' };

export async function gatewayRows(context: BenchContext): Promise<BenchRow[]> {
  const upstream = await startServer('unguarded', context.issuer);
  const data = makeDataDir('antpeer-bench-gateway-');
  let gateway: ServeProcess | undefined;
  try {
    gateway = await startServe({
      dataDir: data.dir,
      env: {
        ANTPEER_UPSTREAM: `${new URL(upstream.url).origin}${BASE_PATH}`,
        ANTPEER_BOOTSTRAP_USERNAME: GATEWAY_APP.username,
        ANTPEER_BOOTSTRAP_PASSWORD: GATEWAY_APP.password,
      },
    });
    const { access_token: token } = await login(gateway.tokenUrl, GATEWAY_APP.username, GATEWAY_APP.password);
    const direct = await context.load(upstream.url);
    const throughGateway = await context.load(`${gateway.origin}${ROUTE}`, { token: () => token });
    return [
      { scenario: 'upstream called directly', rate: direct.rate, p99: direct.p99 },
      {
        scenario: 'through the antpeer-auth gateway',
        rate: throughGateway.rate,
        p99: throughGateway.p99,
        ratio: { value: throughGateway.rate / direct.rate, versus: 'direct', target: 0 },
        note: 'no target in DESIGN §5; the gateway adds a proxy hop and a session lookup per request',
      },
    ];
  } finally {
    await gateway?.stop();
    await stopServer(upstream.child);
    data.cleanup();
  }
}

const SERVE_FLAG = '--serve';
const ROUTE = `${BASE_PATH}/user/accounts`;

/** Child process: one Fastify app, guarded or not, answering like an application endpoint. */
async function serve(mode: string, issuer: string): Promise<void> {
  const app = Fastify({ logger: false });
  if (mode === 'guarded') {
    await app.register(antpeerGuard, { verifier: createVerifier({ issuer, audience: AUDIENCE }) });
    app.get(ROUTE, async (request) => ({ owner: request.auth.subject, accounts: [] }));
  } else {
    app.get(ROUTE, async () => ({ owner: 'user-42', accounts: [] }));
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
}

async function startServer(mode: 'guarded' | 'unguarded', issuer: string): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), [SERVE_FLAG, mode, issuer], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}${ROUTE}`, child };
}

function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill();
  });
}

/** Compact EdDSA access tokens minted with node:crypto: fast enough to pre-mint a whole run. */
function tokenMinter(issuer: string, privateKey: KeyObject, kid: string): () => string {
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid })).toString('base64url');
  let serial = 0;
  return () => {
    const now = Math.floor(Date.now() / 1000);
    serial += 1;
    const claims = { iss: issuer, sub: 'user-42', aud: AUDIENCE, exp: now + 900, iat: now, jti: `bench-${serial}`, client_id: 'fintech-app', sid: 's-1' };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
  };
}

/** How many Ed25519 signatures `check` verifies per second on one thread. */
function rawVerifyRate(tokens: readonly string[], check: (data: Buffer, signature: Buffer) => boolean, seconds: number): number {
  const parts = tokens.map((token) => {
    const dot = token.lastIndexOf('.');
    return { data: Buffer.from(token.slice(0, dot)), signature: Buffer.from(token.slice(dot + 1), 'base64url') };
  });
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  let count = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 256; i++) {
      const part = parts[count % parts.length]!;
      if (!check(part.data, part.signature)) throw new Error('bench token does not verify');
      count += 1;
    }
  }
  return count / ((performance.now() - start) / 1000);
}

/**
 * The raw verifiers: the one the guard uses for Ed25519 (the ceiling its new-token row is held
 * against) and, when that is libsodium, node:crypto's for comparison.
 */
function rawVerifiers(publicKey: KeyObject): Array<{ name: string; check: (data: Buffer, signature: Buffer) => boolean }> {
  const nodeCrypto = { name: 'node:crypto', check: (data: Buffer, signature: Buffer) => verify(null, data, publicKey, signature) };
  if (ED25519_VERIFIER === 'node:crypto') return [nodeCrypto];
  const sodium = createRequire(import.meta.url)('sodium-native') as typeof Sodium;
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return [{ name: 'libsodium', check: (data, signature) => sodium.crypto_sign_verify_detached(signature, data, raw) }, nodeCrypto];
}

/** `--duration <s>`, `--rounds <n>`, `--connections <n>`: positive numbers. */
function benchOptions(): { duration: number; rounds: number; connections: number } {
  const names = { duration: 2, rounds: 3, connections: 32 };
  const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' } } });
  const read = (name: keyof typeof names) => {
    const value = Number(values[name] ?? names[name]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  return { duration: read('duration'), rounds: read('rounds'), connections: read('connections') };
}

function printTable(rows: readonly BenchRow[]): void {
  const lines = [
    ['scenario', 'rate /s', 'p99 ms', 'server CPU µs/req', 'ratio', 'target', ''],
    ...rows.map((row) => [
      row.scenario,
      Math.round(row.rate).toLocaleString('en-US'),
      row.p99 === undefined ? '' : String(row.p99),
      row.cpuUs === undefined ? '' : row.cpuUs.toFixed(0),
      row.ratio === undefined ? '' : `${row.ratio.value.toFixed(2)}× ${row.ratio.versus}`,
      row.ratio === undefined || row.ratio.target === 0 ? '' : `≥ ${row.ratio.target}×`,
      row.ratio === undefined || row.ratio.target === 0 ? (row.note ?? '') : row.ratio.value >= row.ratio.target ? 'ok' : `BELOW TARGET${row.note ? ` (${row.note})` : ''}`,
    ]),
  ];
  const widths = lines[0]!.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)));
  const format = (line: string[]) => `| ${line.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  console.log(format(lines[0]!));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const line of lines.slice(1)) console.log(format(line));
}

/** The guard's rows (and, with `gateway`, the gateway's), measured with `options` (else the command line's). */
export async function runGuardBench(
  options: { duration: number; rounds: number; connections: number } = benchOptions(),
  { gateway = true }: { gateway?: boolean } = {},
): Promise<BenchRow[]> {
  const { duration, rounds, connections } = options;
  const issuer = await FakeIssuer.start(Date.now);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  issuer.published = [{ ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'EdDSA', use: 'sig' }];
  const mintToken = tokenMinter(issuer.issuer, privateKey, 'bench');
  const repeated = mintToken();
  const children: ChildProcess[] = [];

  async function load(url: string, options: { token?: () => string; amount?: number; pid?: number } = {}): Promise<Load> {
    const token = options.token ?? (() => repeated);
    const cpuBefore = options.pid === undefined ? 0 : cpuSeconds(options.pid);
    const result = await autocannon({
      url,
      connections,
      ...(options.amount === undefined ? { duration } : { amount: options.amount }),
      requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${token()}` } }) }],
    });
    if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
      throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
    }
    const cpuUs = options.pid === undefined ? undefined : ((cpuSeconds(options.pid) - cpuBefore) * 1e6) / result.requests.total;
    return { rate: result.requests.average, p99: result.latency.p99, cpuUs };
  }
  const best = (runs: Load[]) => runs.reduce((a, b) => (b.rate > a.rate ? b : a));

  try {
    const started = performance.now();
    const plain = await startServer('unguarded', issuer.issuer);
    children.push(plain.child);
    const guarded = await startServer('guarded', issuer.issuer);
    children.push(guarded.child);
    await load(plain.url, { amount: 2_000 });
    await load(guarded.url, { amount: 2_000 });

    // Rounds interleave the scenarios and each keeps its best round, so that load from other
    // processes on a shared machine skews every scenario alike instead of one of them.
    const runs = { unguarded: [] as Load[], repeated: [] as Load[], fresh: [] as Load[] };
    const verifiers = rawVerifiers(publicKey);
    const ceilings: number[][] = verifiers.map(() => []);
    let minted = 0;
    for (let round = 0; round < rounds; round++) {
      const tokens = Array.from({ length: 2_000 }, mintToken);
      verifiers.forEach((verifier, index) => ceilings[index]?.push(rawVerifyRate(tokens, verifier.check, 1)));
      runs.unguarded.push(await load(plain.url, { pid: plain.child.pid }));
      runs.repeated.push(await load(guarded.url, { pid: guarded.child.pid }));
      // Pre-mint a round's worth of distinct tokens; should the server outpace the estimate, the
      // rest are minted during the run, which only slows the load generator (conservative).
      const fresh = Array.from({ length: Math.ceil(1.2 * Math.max(...(ceilings[0] ?? [])) * duration) }, mintToken);
      let next = 0;
      runs.fresh.push(await load(guarded.url, { token: () => fresh[next++] ?? (minted++, mintToken()), pid: guarded.child.pid }));
    }
    const unguardedRun = best(runs.unguarded);
    const repeatedRun = best(runs.repeated);
    const freshRun = best(runs.fresh);
    const [ceiling = NaN, ...others] = ceilings.map((rates) => Math.max(...rates));

    const context: BenchContext = { issuer: issuer.issuer, audience: AUDIENCE, duration, connections, mintToken, load };
    const rows: BenchRow[] = [
      { scenario: 'route, unguarded', rate: unguardedRun.rate, p99: unguardedRun.p99, cpuUs: unguardedRun.cpuUs },
      {
        scenario: 'route, guarded, repeated token',
        rate: repeatedRun.rate,
        p99: repeatedRun.p99,
        cpuUs: repeatedRun.cpuUs,
        ratio: { value: repeatedRun.rate / unguardedRun.rate, versus: 'unguarded', target: 0.85 },
      },
      { scenario: `raw Ed25519 verify, ${verifiers[0]?.name}, 1 thread`, rate: ceiling },
      ...others.map((rate, index) => ({ scenario: `raw Ed25519 verify, ${verifiers[index + 1]?.name}, 1 thread`, rate, note: 'for comparison: not what the guard uses' })),
      {
        scenario: 'route, guarded, new token each request',
        rate: freshRun.rate,
        p99: freshRun.p99,
        cpuUs: freshRun.cpuUs,
        ratio: { value: freshRun.rate / ceiling, versus: 'raw verify', target: 0.9 },
        note: `${minted > 0 ? `${minted} tokens minted during the run; ` : ''}CPU bound here ≈ ${Math.round(1 / (1 / unguardedRun.rate + 1 / (cpus().length * ceiling)))}/s`,
      },
      ...(gateway ? await gatewayRows(context) : []),
    ];
    console.log(
      `\n@antpeer/guard benchmark: best of ${rounds} interleaved rounds of ${duration}s, ${connections} connections, ` +
        `${cpus().length} CPUs shared with the load generator, ${Math.round((performance.now() - started) / 1000)}s\n`,
    );
    return rows;
  } finally {
    await Promise.all(children.map(stopServer));
    await issuer.close();
  }
}

if (process.argv[2] === SERVE_FLAG) {
  await serve(process.argv[3] ?? 'guarded', process.argv[4] ?? '');
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printTable(await runGuardBench());
}
