import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { pino, type Logger } from 'pino';
import { ManualClock } from '../clock.js';
import { loadConfig, type Config } from '../config.js';
import type { Argon2Parameters } from '../credentials/password-hasher.js';
import { addClientApplication, type Actor } from '../credentials/client-applications.js';
import { startServer, type RunningServer } from '../server.js';
import { BASE_PATH, type TokenResponse } from './http.js';

/** Cheap argon2id parameters so tests stay fast; the OWASP ones are exercised in their own test. */
export const TEST_ARGON2: Argon2Parameters = Object.freeze({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

/**
 * The base path under its older name, for grants/refresh-token.test.ts only (rewritten in parallel):
 * switch that file to {@link BASE_PATH} and delete this.
 */
export const BASE = BASE_PATH;
export const TOKEN_PATH = `${BASE_PATH}/auth/token`;
export const CLIENT = { username: 'merchant-app', password: 'correct horse battery staple' };

export interface Harness {
  server: RunningServer;
  clock: ManualClock;
  config: Readonly<Config>;
  dataDir: string;
  /** POSTs a JSON body to the token endpoint. */
  token(body: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** POSTs a form body (already encoded) to the token endpoint. */
  tokenForm(body: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** Logs the test client in and returns the parsed answer. */
  login(): Promise<TokenBody>;
  refresh(refreshToken: string): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** A successful JSON token answer. */
export type TokenBody = TokenResponse;

/**
 * A server over a real SQLite file in a fresh temporary directory, with a manual clock and one
 * client application ({@link CLIENT}). Requests go through `app.inject()`.
 */
export async function startHarness(
  env: Record<string, string> = {},
  options: { listen?: boolean; logger?: Logger; hashProbe?: SharedArrayBuffer } = {},
): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'antpeer-test-'));
  const config = loadConfig({ ANTPEER_DATA_DIR: dataDir, PORT: '0', ANTPEER_METRICS_PORT: '0', ...env });
  const clock = new ManualClock();
  const server = await startServer(config, {
    clock,
    logger: options.logger ?? pino({ level: 'silent' }),
    argon2: TEST_ARGON2,
    listen: options.listen ?? false,
    hashProbe: options.hashProbe,
  });
  await addClientApplication(server.auth, TEST_ACTOR, CLIENT.username, CLIENT.password);
  const inject = (payload: string, contentType: string, headers: Record<string, string> = {}) =>
    server.app.inject({ method: 'POST', url: TOKEN_PATH, payload, headers: { 'content-type': contentType, ...headers } });
  const harness: Harness = {
    server,
    clock,
    config,
    dataDir,
    token: (body, headers) => inject(typeof body === 'string' ? body : JSON.stringify(body), 'application/json', headers),
    tokenForm: (body, headers) => inject(body, 'application/x-www-form-urlencoded', headers),
    async login() {
      const response = await harness.token(CLIENT);
      if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
      return response.json<TokenBody>();
    },
    refresh: (refreshToken) => harness.token({ refresh_token: refreshToken, grant_type: 'refresh_token' }),
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** The operator the tests' admin changes are recorded under. */
export const TEST_ACTOR: Actor = { name: 'test suite', sourceAddress: 'local', userAgent: 'test' };
