// `npm run bench -- dpop`: what sender-constrained tokens (RFC 9449) cost, beside their bearer
// versions, as ratios measured in one run. The real `antpeer-auth serve` (built dist, its own
// process, embedded SQLite) and a Fastify service guarded by @antpeer/guard (its own process);
// the load generator (autocannon) here signs one fresh Ed25519 proof per request with node:crypto.
//
//   refresh grant, DPoP-bound session   vs  refresh grant, bearer session
//   guarded route, DPoP token + proof   vs  guarded route, bearer token (both repeated: cached)
//   verifyDpopProof on one thread: the proof check's CPU per request
//
// Slices interleave each pair so load from elsewhere hits both alike. Options: --duration <s>
// (per scenario, default 4), --slices <n> (default 2), --connections <n> (default 16).
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { antpeerGuard, createVerifier, verifyDpopProof } from '@antpeer/guard';
import { makeDataDir, startServe, type ServeProcess } from '../src/test/process.js';
import { APP, BENCH_SERVER_ENV } from './token/our-server.js';

const SERVE_FLAG = '--serve';
const ROUTE = '/accounts';

/** A client's DPoP key and a synchronous proof signer (autocannon's setupRequest is synchronous). */
function proofSigner(): { jkt: string; proof(htm: string, htu: string, accessToken?: string): string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'EdDSA', jwk })).toString('base64url');
  const jkt = createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest('base64url');
  return {
    jkt,
    proof(htm, htu, accessToken) {
      const claims = { jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000), ...(accessToken ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}) };
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      return `${input}.${sign(null, Buffer.from(input), privateKey as KeyObject).toString('base64url')}`;
    },
  };
}

interface Measured {
  rate: number;
  p99: number;
}

async function hit(options: {
  url: string;
  method: 'GET' | 'POST';
  seconds: number;
  connections: number;
  setup: (request: autocannon.Request) => autocannon.Request;
  onOk?: (body: string) => void;
}): Promise<Measured> {
  const failures: string[] = [];
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    requests: [
      {
        method: options.method,
        setupRequest: options.setup,
        onResponse: (status: number, body: string) => {
          if (status >= 200 && status < 300) options.onOk?.(body);
          else if (failures.length < 3) failures.push(`${status} ${body.slice(0, 200)}`);
        },
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${options.url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts\n  ${failures.join('\n  ')}`);
  }
  return { rate: result['2xx'] / result.duration, p99: result.latency.p99 };
}

async function postToken(url: string, body: Record<string, string>, dpop?: string): Promise<Record<string, string>> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(dpop ? { dpop } : {}) }, body: JSON.stringify(body) });
  const json = (await response.json()) as Record<string, string>;
  if (!response.ok) throw new Error(`token request answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Child process: a Fastify service guarded by @antpeer/guard against the server's keys. */
async function serve(issuer: string): Promise<void> {
  const app = Fastify({ logger: false });
  await app.register(antpeerGuard, { verifier: createVerifier({ issuer, audience: issuer, dangerouslyAllowInsecureHttp: true }) });
  app.get(ROUTE, async (request) => ({ owner: request.auth.subject, accounts: [] }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
}

async function startGuarded(issuer: string): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), [SERVE_FLAG, issuer], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`guarded service exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}${ROUTE}`, child };
}

/** How many proofs `verifyDpopProof` checks per second of one thread's CPU, and the µs each costs. */
async function proofCpu(signer: ReturnType<typeof proofSigner>, count: number): Promise<{ rate: number; micros: number; rawMicros: number }> {
  const htu = 'https://api.example/accounts';
  const proofs = Array.from({ length: count }, () => signer.proof('GET', htu, 'token'));
  // The floor: the Ed25519 signature check alone, as node:crypto does it synchronously.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const data = Buffer.from(proofs[0]!.slice(0, proofs[0]!.lastIndexOf('.')));
  const signature = sign(null, data, privateKey);
  const rawBefore = process.cpuUsage();
  for (let i = 0; i < count; i++) verify(null, data, publicKey, signature);
  const rawUsed = process.cpuUsage(rawBefore);
  const before = process.cpuUsage();
  for (const proof of proofs) {
    await verifyDpopProof(proof, { method: 'GET', url: htu, accessToken: 'token', algorithms: ['EdDSA'], now: Date.now(), maxAge: 60, clockTolerance: 5 });
  }
  const used = process.cpuUsage(before);
  const micros = (used.user + used.system) / count;
  return { rate: 1e6 / micros, micros, rawMicros: (rawUsed.user + rawUsed.system) / count };
}

function options(): { duration: number; slices: number; connections: number } {
  const defaults = { duration: 4, slices: 2, connections: 16 };
  const { values } = parseArgs({ options: { duration: { type: 'string' }, slices: { type: 'string' }, connections: { type: 'string' } } });
  const read = (name: keyof typeof defaults) => {
    const value = Number(values[name] ?? defaults[name]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  return { duration: read('duration'), slices: read('slices'), connections: read('connections') };
}

function printTable(rows: Array<[string, number, number | undefined, string]>): void {
  const lines = [['scenario', 'rate /s', 'p99 ms', 'vs bearer'], ...rows.map(([name, rate, p99, ratio]) => [name, Math.round(rate).toLocaleString('en-US'), p99 === undefined ? '' : String(p99), ratio])];
  const widths = lines[0]!.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)));
  const format = (line: string[]) => `| ${line.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  console.log(format(lines[0]!));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const line of lines.slice(1)) console.log(format(line));
}

async function run(): Promise<void> {
  const { duration, slices, connections } = options();
  const slice = duration / slices;
  const started = performance.now();
  const data = makeDataDir('antpeer-bench-dpop-');
  let server: ServeProcess | undefined;
  let guarded: { url: string; child: ChildProcess } | undefined;
  try {
    server = await startServe({ dataDir: data.dir, env: { ...BENCH_SERVER_ENV } });
    const tokenUrl = server.tokenUrl;
    const signer = proofSigner();

    // Sessions for each refresh load: every refresh rotates, and its successor goes back in the pool.
    // A run ends with up to `connections` answers in flight, whose sessions drop out: top up before each.
    const bearerPool: string[] = [];
    const dpopPool: string[] = [];
    const refresh = async (pool: string[], dpop: boolean) => {
      while (pool.length < connections * 2) {
        pool.push((await postToken(tokenUrl, { ...APP }, dpop ? signer.proof('POST', tokenUrl) : undefined)).refresh_token!);
      }
      return hit({
        url: tokenUrl,
        method: 'POST',
        seconds: slice,
        connections,
        setup: (request) => ({
          ...request,
          headers: { ...request.headers, 'content-type': 'application/x-www-form-urlencoded', ...(dpop ? { dpop: signer.proof('POST', tokenUrl) } : {}) },
          body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(pool.shift() ?? 'pool-exhausted')}`,
        }),
        onOk: (body) => pool.push((JSON.parse(body) as { refresh_token: string }).refresh_token),
      });
    };

    guarded = await startGuarded(server.issuer);
    const bearerToken = (await postToken(tokenUrl, { ...APP })).access_token!;
    const boundToken = (await postToken(tokenUrl, { ...APP }, signer.proof('POST', tokenUrl))).access_token!;
    const routeUrl = guarded.url;
    const call = (dpop: boolean) =>
      hit({
        url: routeUrl,
        method: 'GET',
        seconds: slice,
        connections,
        setup: (request) => ({
          ...request,
          headers: {
            ...request.headers,
            ...(dpop ? { authorization: `DPoP ${boundToken}`, dpop: signer.proof('GET', routeUrl, boundToken) } : { authorization: `Bearer ${bearerToken}` }),
          },
        }),
      });

    // Warm-up, then interleaved slices.
    await refresh(bearerPool, false);
    await refresh(dpopPool, true);
    await call(false);
    await call(true);
    const runs = { bearerRefresh: [] as Measured[], dpopRefresh: [] as Measured[], bearerRoute: [] as Measured[], dpopRoute: [] as Measured[] };
    for (let i = 0; i < slices; i++) {
      runs.bearerRefresh.push(await refresh(bearerPool, false));
      runs.dpopRefresh.push(await refresh(dpopPool, true));
      runs.bearerRoute.push(await call(false));
      runs.dpopRoute.push(await call(true));
    }
    const mean = (list: Measured[]): Measured => ({ rate: list.reduce((sum, m) => sum + m.rate, 0) / list.length, p99: Math.max(...list.map((m) => m.p99)) });
    const [bearerRefresh, dpopRefresh, bearerRoute, dpopRoute] = [runs.bearerRefresh, runs.dpopRefresh, runs.bearerRoute, runs.dpopRoute].map(mean) as [Measured, Measured, Measured, Measured];
    const cpu = await proofCpu(signer, 5_000);

    console.log(
      `\nDPoP benchmark: ${slices} interleaved slices of ${slice}s per scenario, ${connections} connections, ` +
        `${cpus().length} CPUs shared with the load generator (which signs every proof), ${Math.round((performance.now() - started) / 1000)}s\n`,
    );
    printTable([
      ['refresh grant, bearer session', bearerRefresh.rate, bearerRefresh.p99, ''],
      ['refresh grant, DPoP-bound session (proof each)', dpopRefresh.rate, dpopRefresh.p99, `${(dpopRefresh.rate / bearerRefresh.rate).toFixed(2)}×`],
      ['guarded route, bearer token', bearerRoute.rate, bearerRoute.p99, ''],
      ['guarded route, DPoP token + proof each', dpopRoute.rate, dpopRoute.p99, `${(dpopRoute.rate / bearerRoute.rate).toFixed(2)}×`],
      [`verifyDpopProof (Ed25519), 1 thread: ${cpu.micros.toFixed(0)} µs CPU per proof`, cpu.rate, undefined, ''],
      [`raw Ed25519 verify, node:crypto: ${cpu.rawMicros.toFixed(0)} µs CPU`, 1e6 / cpu.rawMicros, undefined, ''],
    ]);
  } finally {
    if (guarded) {
      const child = guarded.child;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill();
      });
    }
    await server?.stop();
    data.cleanup();
  }
}

if (process.argv[2] === SERVE_FLAG) await serve(process.argv[3] ?? '');
else if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
