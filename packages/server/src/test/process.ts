import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader } from 'jose';

/** The built `antpeer-auth` binary (`npm run build` produces it). */
export const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export const BASE_PATH = '/bankit-api/antPeer/v1';

/** How long a spawned server may take to answer `/healthz` (a cold start on a busy 2-core machine). */
const READY_DEADLINE_MS = 20_000;

/** The field set of a successful JSON token response (DESIGN §1). */
export interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_expires_in: number;
  token_type: string;
  id_token: null;
  'not-before-policy': number;
  session_state: string;
  scope: string;
  refresh_token: string;
}

/** Every field of DESIGN §1, with its type and value. */
export function assertTokenResponse(body: unknown): asserts body is TokenResponse {
  assert.equal(typeof body, 'object');
  const token = body as Record<string, unknown>;
  assert.deepEqual(Object.keys(token).sort(), [
    'access_token',
    'expires_in',
    'id_token',
    'not-before-policy',
    'refresh_expires_in',
    'refresh_token',
    'scope',
    'session_state',
    'token_type',
  ]);
  assert.equal(typeof token.access_token, 'string');
  assert.equal(decodeProtectedHeader(token.access_token as string).typ, 'at+jwt');
  assert.equal(token.expires_in, 900);
  assert.ok(Number.isInteger(token.refresh_expires_in));
  assert.ok((token.refresh_expires_in as number) > 0 && (token.refresh_expires_in as number) <= 1800);
  assert.equal(token.token_type, 'bearer');
  assert.equal(token.id_token, null);
  assert.ok(Number.isInteger(token['not-before-policy']));
  assert.equal(typeof token.session_state, 'string');
  assert.notEqual(token.session_state, '');
  assert.equal(token.scope, '');
  assert.equal(typeof token.refresh_token, 'string');
  assert.ok((token.refresh_token as string).length >= 43, 'a refresh token carries at least 256 bits');
}

export interface ErrorResponse {
  error: string;
  error_description?: string;
}

/** A fresh temporary data directory; `cleanup` removes it. */
export function makeDataDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'antpeer-proc-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A TCP port nobody listens on right now (bound to 0, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The child's environment: this process's, without anything that would configure the server or the
 * test runner behind our back, plus `env`.
 */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('ANTPEER_') || key.startsWith('NODE_TEST') || key === 'NODE_OPTIONS') continue;
    if (key === 'PORT' || key === 'HOST' || key === 'DATABASE_URL') continue;
    clean[key] = value;
  }
  // Metrics on an ephemeral port: several servers run side by side in tests.
  return { ...clean, ANTPEER_LOG_LEVEL: 'warn', ANTPEER_METRICS_PORT: '0', ...env };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs `antpeer-auth <args>` to completion over `dataDir`, with `input` on standard input. */
export async function runCli(
  args: string[],
  options: { dataDir: string; env?: Record<string, string>; input?: string; timeoutMs?: number },
): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: childEnv({ ANTPEER_DATA_DIR: options.dataDir, ...options.env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  const exit = await exitOf(child);
  clearTimeout(timer);
  // 'exit' can come before the pipes are drained.
  await Promise.all([
    new Promise((resolve) => (child.stdout.readableEnded ? resolve(null) : child.stdout.once('close', resolve))),
    new Promise((resolve) => (child.stderr.readableEnded ? resolve(null) : child.stderr.once('close', resolve))),
  ]);
  return { ...exit, stdout, stderr };
}

/** A spawned `antpeer-auth serve`. */
export interface ServeProcess {
  child: ChildProcess;
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** The default issuer: origin + base path. */
  issuer: string;
  tokenUrl: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Resolves once stdout matches `pattern` (bounded). */
  waitForStdout(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value, the process dies, or the deadline passes. */
async function poll<T>(what: string, serve: { child: ChildProcess; stderr(): string }, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (serve.child.exitCode !== null || serve.child.signalCode !== null) {
      throw new Error(`antpeer-auth exited (${serve.child.exitCode ?? serve.child.signalCode}) before ${what}:\n${serve.stderr()}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${serve.stderr()}`);
    await sleep(25);
  }
}

/**
 * Spawns `antpeer-auth serve` over `dataDir` on a free port and resolves once `GET /healthz` answers
 * 200. The caller must `stop()` it (or SIGKILL `child`) in an `after`/`finally`.
 */
export async function startServe(options: { dataDir: string; env?: Record<string, string> }): Promise<ServeProcess> {
  const port = options.env?.PORT === undefined ? await freePort() : Number(options.env.PORT);
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: childEnv({ ANTPEER_DATA_DIR: options.dataDir, PORT: String(port), ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const origin = `http://127.0.0.1:${port}`;
  const exited = exitOf(child);
  const serve: ServeProcess = {
    child,
    port,
    origin,
    issuer: `${origin}${BASE_PATH}`,
    tokenUrl: `${origin}${BASE_PATH}/auth/token`,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForStdout: (pattern) =>
      poll(`stdout to match ${pattern}`, serve, async () => stdout.match(pattern) ?? undefined),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  try {
    await poll('GET /healthz', serve, async () => {
      try {
        const response = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        return response.status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return serve;
}

/** POSTs `body` as the page does: raw JSON with `Content-type: application/json`. */
export async function postToken(tokenUrl: string, body: unknown): Promise<{ status: number; headers: Headers; body: unknown }> {
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'Content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** The page's first request; throws unless it answers 200. */
export async function login(tokenUrl: string, username: string, password: string): Promise<TokenResponse> {
  const response = await postToken(tokenUrl, { username, password });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as TokenResponse;
}

/** The page's second request. */
export async function refresh(tokenUrl: string, refreshToken: string): Promise<{ status: number; headers: Headers; body: unknown }> {
  return postToken(tokenUrl, { refresh_token: refreshToken, grant_type: 'refresh_token' });
}
