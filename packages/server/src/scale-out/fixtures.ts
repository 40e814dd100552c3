/**
 * Real processes over the real database for the scale-out tests: spawned `antpeer-auth` servers
 * (the built binary), a schema of their own per test file, a TCP proxy that can cut the database
 * away, and HTTP helpers that open a fresh connection per request (a kept-alive connection to a
 * killed process would otherwise fail the next request for reasons the test is not about).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { BIN, childEnv, freePort, makeDataDir, type Exit } from '../test/process.js';

export { BIN, freePort, makeDataDir };

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
export const SKIP_WITHOUT_DATABASE = TEST_DATABASE_URL
  ? false
  : 'TEST_DATABASE_URL is not set: point it at a PostgreSQL database (e.g. postgres://postgres@127.0.0.1:5432/test) to run the scale-out tests';

export const BASE = '/bankit-api/antPeer/v1';
/** One public issuer for every instance, as behind a load balancer (each listens on its own port). */
export const ISSUER = `http://auth.scale-out.test${BASE}`;

/** A fresh server secret (32 bytes, base64url), as an operator would generate one. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A schema name of its own, so test files and runs never collide. */
export function uniqueSchema(): string {
  return `antpeer_scale_${randomBytes(6).toString('hex')}`;
}

/** Runs `sql` on the test database with a short-lived client. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** Polls `check` every 25 ms until it returns a value other than undefined; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A spawned `antpeer-auth` process. */
export interface Instance {
  child: ChildProcess;
  port: number;
  origin: string;
  tokenUrl: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/** Spawns `antpeer-auth <args>` with `env` on a free port; does not wait for it to serve. */
export async function spawnAntpeer(args: string[], env: Record<string, string>, port?: number): Promise<Instance> {
  const listenPort = port ?? (await freePort());
  const child = spawn(process.execPath, [BIN, ...args], {
    env: childEnv({ PORT: String(listenPort), ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const origin = `http://127.0.0.1:${listenPort}`;
  return {
    child,
    port: listenPort,
    origin,
    tokenUrl: `${origin}${BASE}/auth/token`,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Resolves once `GET /healthz` answers 200; throws if the process exits first. */
export async function waitUntilServing(instance: Instance, timeoutMs = 20_000): Promise<Instance> {
  await waitFor(
    `${instance.origin} to serve`,
    async () => {
      if (instance.child.exitCode !== null || instance.child.signalCode !== null) {
        throw new Error(`exited (${instance.child.exitCode ?? instance.child.signalCode}): ${instance.stderr()}`);
      }
      const response = await call('GET', `${instance.origin}/healthz`);
      return response.status === 200 ? true : undefined;
    },
    timeoutMs,
  ).catch((error: unknown) => {
    instance.child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\nstderr: ${instance.stderr()}`);
  });
  return instance;
}

/** Spawns `antpeer-auth serve` and waits until it serves. */
export async function startInstance(env: Record<string, string>, args: string[] = []): Promise<Instance> {
  return waitUntilServing(await spawnAntpeer(['serve', ...args], env));
}

/** Runs `antpeer-auth <args>` to completion. */
export async function runAntpeer(args: string[], env: Record<string, string>): Promise<Exit & { stdout: string; stderr: string }> {
  const instance = await spawnAntpeer(args, env);
  const timer = setTimeout(() => instance.child.kill('SIGKILL'), 20_000);
  const exit = await instance.exited;
  clearTimeout(timer);
  await new Promise((resolve) => setImmediate(resolve));
  return { ...exit, stdout: instance.stdout(), stderr: instance.stderr() };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** One HTTP request on a connection of its own; JSON in, JSON (or `{ text }`) out. */
export function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      url,
      {
        method,
        agent: false,
        headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The fields of a successful token answer the tests read. */
export interface Tokens {
  access_token: string;
  refresh_token: string;
  session_state: string;
}

/** Requests come "from" `source` (the servers trust X-Forwarded-For), so failure counters stay per test. */
export function fromSource(source: string): Record<string, string> {
  return { 'x-forwarded-for': source };
}

export async function login(instance: Instance, username: string, password: string, source = '192.0.2.1'): Promise<Tokens> {
  const answer = await call('POST', instance.tokenUrl, { username, password }, fromSource(source));
  if (answer.status !== 200) throw new Error(`login failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as unknown as Tokens;
}

export function refresh(instance: Instance, refreshToken: string, source = '192.0.2.1'): Promise<Answer> {
  return call('POST', instance.tokenUrl, { refresh_token: refreshToken, grant_type: 'refresh_token' }, fromSource(source));
}

/** A TCP proxy in front of PostgreSQL that a test can cut (drop every connection) and restore. */
export interface DatabaseProxy {
  port: number;
  /** `TEST_DATABASE_URL` pointed at the proxy. */
  url: string;
  /**
   * Drops every open connection; new ones are then reset at once (`reset`), refused because
   * nothing listens (`refuse`), or accepted and never answered (`hang`).
   */
  cut(mode?: 'reset' | 'refuse' | 'hang'): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startDatabaseProxy(): Promise<DatabaseProxy> {
  const target = new URL(TEST_DATABASE_URL as string);
  const targetPort = Number(target.port || 5432);
  const targetHost = target.hostname;
  const sockets = new Set<Socket>();
  let mode: 'open' | 'reset' | 'refuse' | 'hang' = 'open';
  let server: Server;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((client) => {
        track(client);
        if (mode === 'reset') {
          client.resetAndDestroy();
          return;
        }
        if (mode === 'hang') return;
        const upstream = connect(targetPort, targetHost);
        track(upstream);
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  const port = await listen(0);
  const url = new URL(TEST_DATABASE_URL as string);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  const closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    port,
    url: url.toString(),
    async cut(newMode = 'reset') {
      mode = newMode;
      dropAll();
      if (newMode === 'refuse') await closeServer();
    },
    async restore() {
      if (mode === 'refuse') await listen(port);
      mode = 'open';
      dropAll();
    },
    async close() {
      dropAll();
      if (mode !== 'refuse') await closeServer();
    },
  };
}
