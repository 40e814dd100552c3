/**
 * The fuzz target: two in-process servers over one kind of store (SQLite files, or PostgreSQL
 * schemas of their own), one without an upstream and one whose gateway proxies to a recording
 * upstream on loopback; their logs captured at trace level; and {@link FuzzTarget.run}, which
 * sends one generated request byte for byte and returns every invariant it broke.
 */
import type { FastifyInstance } from 'fastify';
import inject from 'light-my-request';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ManualClock } from '../../clock.js';
import { loadConfig } from '../../config.js';
import { addAdministrator } from '../../console/administrators.js';
import { csrfTokenOf } from '../../console/console-sessions.js';
import { addClientApplication, setEnabled } from '../../credentials/client-applications.js';
import { startServer, type RunningServer } from '../../server.js';
import { TEST_ACTOR, TEST_ARGON2 } from '../harness.js';
import { dropSchema, newSecret, TEST_DATABASE_URL, uniqueSchema } from '../postgres.js';
import { startRecordingUpstream, type RecordingUpstream } from '../recording-upstream.js';
import { CONSOLE_PATH } from './console-shapes.js';
import { signProof } from './dpop-shapes.js';
import { checkInvariants, errorCodeOf, type Answer } from './invariants.js';
import { FIXTURE_SOURCE, materialize, type ConcreteRequest } from './materialize.js';
import type { FuzzRequest, ServerName } from './model.js';
import { sessionFromAnswer, SessionPool, type PoolSession } from './pool.js';
import { FUZZ_BASE_PATH } from './requests.js';
import { postgresState, sqliteState, type Snapshot, type StoreState } from './store-state.js';

export type StoreKind = 'sqlite' | 'postgres';

/** The client applications of every fuzzed server: one enabled, one disabled. */
export const FUZZ_CLIENT = Object.freeze({ username: 'merchant-app', password: 'fuzz: correct horse battery staple' });
const DISABLED_CLIENT = Object.freeze({ username: 'disabled-app', password: 'fuzz: a disabled application password' });
/** The administrator of the plain server's web console. */
export const FUZZ_ADMIN = Object.freeze({ name: 'fuzz-admin', password: 'fuzz: an administrator password' });

/**
 * Where the SQLite files go: memory-backed when the machine has it, since what is fuzzed is the
 * answers and the rows, not the fsyncs (durability has its own test).
 */
const DATA_ROOT = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/** The same for PostgreSQL: its commits do not wait for the WAL to reach the disk. */
function withoutWaitingForDisk(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('options', '-c synchronous_commit=off');
  return url.toString();
}

/** Longest a request may take before it counts as a hang. */
const ANSWER_TIMEOUT_MS = 10_000;

type Dispatch = (request: IncomingMessage, response: ServerResponse) => void;

interface FuzzServer {
  name: ServerName;
  server: RunningServer;
  dispatch: Dispatch;
  clock: ManualClock;
  /** Its DPoP nonce of the current time window or one before (null: it asks for none). */
  nonce: ((windowsAgo: number) => string) | null;
  state: StoreState;
  pool: SessionPool;
  /** Sessions whose tokens are bound to DPoP key A. */
  bound: SessionPool;
  /** The plain server's console: the fixture administrator's session (null: signed out, or no console). */
  console: { cookie: string; csrf: string } | null;
  /** Signs the fixture administrator in again if their console session has ended; whether it changed the store. */
  renewConsole(): Promise<boolean>;
  upstream: RecordingUpstream | null;
  /** The store as of the end of the last request (null: read it again). */
  last: Snapshot | null;
  cleanup: () => Promise<void>;
}

/** The handler Fastify gave its HTTP server: requests through it see what a socket would deliver, raw target included. */
async function dispatcherOf(app: FastifyInstance): Promise<Dispatch> {
  await app.ready();
  const [handler] = app.server.listeners('request');
  if (typeof handler !== 'function') throw new Error('the app has no request handler');
  return handler as Dispatch;
}

/** Sends `request` as the HTTP parser would hand it over: the target exactly as written (inject() would normalise it). */
function send(dispatch: Dispatch, request: Pick<ConcreteRequest, 'method' | 'url' | 'headers' | 'payload' | 'remoteAddress'>): Promise<Answer> {
  let timer: NodeJS.Timeout | undefined;
  const answered = inject((raw, response) => {
    raw.url = request.url;
    dispatch(raw, response);
  }, {
    method: request.method as 'GET',
    url: '/',
    headers: request.headers,
    ...(request.payload === undefined ? {} : { payload: request.payload }),
    remoteAddress: request.remoteAddress,
    validate: false,
  }).then((response) => ({ status: response.statusCode, headers: response.headers, body: response.body }));
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)), ANSWER_TIMEOUT_MS);
  });
  return Promise.race([answered, timeout]).finally(() => clearTimeout(timer));
}

async function startFuzzServer(name: ServerName, kind: StoreKind, logger: pino.Logger): Promise<FuzzServer> {
  const dataDir = mkdtempSync(join(DATA_ROOT, 'antpeer-fuzz-'));
  const schema = kind === 'postgres' ? uniqueSchema() : null;
  const upstream = name === 'gateway' ? await startRecordingUpstream() : null;
  const config = loadConfig({
    ANTPEER_DATA_DIR: dataDir,
    PORT: '0',
    ANTPEER_METRICS_PORT: 'off',
    ANTPEER_BASE_PATH: FUZZ_BASE_PATH,
    // Housekeeping would change the store between two snapshots.
    ANTPEER_PURGE_INTERVAL: '0',
    ANTPEER_MAX_SESSIONS_PER_CLIENT: '1000000',
    // The gateway server trusts loopback peers as proxies, and locks out and throttles early and
    // for a day, so that X-Forwarded-For, lockouts and 429s are part of what is fuzzed.
    ...(upstream
      ? {
          ANTPEER_UPSTREAM: `${upstream.url}/svc`,
          ANTPEER_TRUST_PROXY: '127.0.0.1,::1',
          ANTPEER_LOCKOUT_THRESHOLD: '3',
          ANTPEER_LOCKOUT_USER_THRESHOLD: '30',
          ANTPEER_SOURCE_FAILURE_LIMIT: '10',
          ANTPEER_LOCKOUT_WINDOW: '86400',
          ANTPEER_SOURCE_WINDOW: '86400',
        }
      : {}),
    // The plain server has the console, and asks DPoP proofs for its nonce (RFC 9449 §8): it is the
    // one whose token endpoint accepts most, where a proof without the right nonce stands out.
    ...(name === 'plain' ? { ANTPEER_ADMIN_CONSOLE: 'true', ANTPEER_DPOP_NONCE: 'on' } : {}),
    ...(schema ? { DATABASE_URL: withoutWaitingForDisk(TEST_DATABASE_URL as string), ANTPEER_DATABASE_SCHEMA: schema, ANTPEER_SECRET: newSecret() } : {}),
  });
  const clock = new ManualClock();
  const server = await startServer(config, { clock, logger, argon2: TEST_ARGON2, listen: false });
  // The server's nonce of an earlier time window: what it handed out then, read with its clock set back.
  const nonce = config.dpop.nonce
    ? (windowsAgo: number): string => {
        const back = windowsAgo * config.dpop.proofMaxAgeMs;
        clock.advance(-back);
        try {
          return server.auth.dpopProofs.nonce();
        } finally {
          clock.advance(back);
        }
      }
    : null;
  await addClientApplication(server.auth, TEST_ACTOR, FUZZ_CLIENT.username, FUZZ_CLIENT.password);
  const disabled = await addClientApplication(server.auth, TEST_ACTOR, DISABLED_CLIENT.username, DISABLED_CLIENT.password);
  await setEnabled(server.auth, TEST_ACTOR, disabled.user, false);
  if (name === 'plain') await addAdministrator(server.auth, TEST_ACTOR, FUZZ_ADMIN.name, FUZZ_ADMIN.password);
  const dispatch = await dispatcherOf(server.app);
  const state = schema ? await postgresState(TEST_DATABASE_URL as string, schema) : sqliteState(dataDir);
  // The pool's own requests, from an address no fuzzed request uses.
  const tokenPath = `${FUZZ_BASE_PATH}/auth/token`;
  const grant = async (body: object, dpop = false): Promise<PoolSession | null> => {
    const proof = signProof(
      { key: 'A', typ: 'dpop+jwt', alg: null, htm: 'request', htu: 'request', iatOffset: 0, jti: 'fresh', ath: null, extraJwk: {}, nonce: 'current', mutation: { op: 'none' } },
      { method: 'POST', uri: `http://localhost:80${tokenPath}`, query: '', accessToken: null, now: clock.now(), nonce },
    );
    const answer = await send(dispatch, {
      method: 'POST',
      url: tokenPath,
      headers: { 'content-type': 'application/json', ...(dpop ? { dpop: proof } : {}) },
      payload: Buffer.from(JSON.stringify(body)),
      remoteAddress: FIXTURE_SOURCE,
    });
    return answer.status === 200 ? sessionFromAnswer(answer.body, clock.now()) : null;
  };
  const login = async (): Promise<PoolSession> => {
    const session = await grant(FUZZ_CLIENT);
    if (!session) throw new Error('the fuzz target’s own login was refused');
    return session;
  };
  const refresh = (session: PoolSession) => grant({ grant_type: 'refresh_token', refresh_token: session.refresh });
  const loginBound = async (): Promise<PoolSession> => {
    const session = await grant(FUZZ_CLIENT, true);
    if (!session) throw new Error('the fuzz target’s own DPoP login was refused');
    return session;
  };
  const refreshBound = (session: PoolSession) => grant({ grant_type: 'refresh_token', refresh_token: session.refresh }, true);
  const consoleRequest = (method: string, path: string, headers: Record<string, string>, payload?: string) =>
    send(dispatch, { method, url: `${CONSOLE_PATH}${path}`, headers, payload: payload === undefined ? undefined : Buffer.from(payload), remoteAddress: FIXTURE_SOURCE });
  const fuzzServer: FuzzServer = {
    name,
    server,
    dispatch,
    clock,
    nonce,
    state,
    pool: new SessionPool(login, refresh),
    bound: new SessionPool(loginBound, refreshBound),
    console: null,
    async renewConsole() {
      if (name !== 'plain') return false;
      if (fuzzServer.console !== null) {
        const alive = await consoleRequest('GET', '/dashboard.json', { cookie: `antpeer_console=${fuzzServer.console.cookie}` });
        if (alive.status === 200) return false;
      }
      const form = new URLSearchParams({ name: FUZZ_ADMIN.name, password: FUZZ_ADMIN.password }).toString();
      const answer = await consoleRequest('POST', '/login', { 'content-type': 'application/x-www-form-urlencoded' }, form);
      const cookie = /^antpeer_console=([^;]+)/.exec(String(answer.headers['set-cookie'] ?? ''))?.[1];
      // Locked out by the cases' guesses: the cases go on without a live console session.
      fuzzServer.console = answer.status === 303 && cookie ? { cookie, csrf: csrfTokenOf(cookie) } : null;
      return true;
    },
    upstream,
    last: null,
    async cleanup() {
      await state.close();
      await server.close();
      await upstream?.close();
      if (schema) await dropSchema(schema);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return fuzzServer;
}

export interface CaseResult {
  status: number;
  /** The OAuth error code of the answer (null: none). */
  error: string | null;
  events: string[];
  findings: string[];
}

export interface FuzzTarget {
  store: StoreKind;
  /** Sends one request and returns its status, the audit events it caused and the invariants it broke (empty: none). */
  run(request: FuzzRequest): Promise<CaseResult>;
  close(): Promise<void>;
}

/** Starts both servers over `kind`, their pools filled. */
export async function startFuzzTarget(kind: StoreKind): Promise<FuzzTarget> {
  if (kind === 'postgres' && !TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => void crashes.push(error);
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
  const servers: Partial<Record<ServerName, FuzzServer>> = {};
  const close = async () => {
    for (const server of Object.values(servers)) await server.cleanup();
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
  };
  try {
    servers.plain = await startFuzzServer('plain', kind, logger);
    servers.gateway = await startFuzzServer('gateway', kind, logger);
  } catch (error) {
    await close();
    throw error;
  }
  const { plain, gateway } = servers as Record<ServerName, FuzzServer>;

  async function run(request: FuzzRequest): Promise<CaseResult> {
    const target = request.server === 'plain' ? plain : gateway;
    const other = target === plain ? gateway : plain;
    target.clock.advance(request.advanceMs);
    if (await target.pool.fill(target.clock.now())) target.last = null;
    if (await target.bound.fill(target.clock.now())) target.last = null;
    if (request.route === 'console' && (await target.renewConsole())) target.last = null;
    const before = target.last ?? (await target.state.snapshot());
    const concrete = materialize(request, {
      live: target.pool.sessions(),
      ended: target.pool.ended,
      foreign: other.pool.sessions(),
      bound: target.bound.sessions(),
      password: FUZZ_CLIENT.password,
      disabledPassword: DISABLED_CLIENT.password,
      adminPassword: FUZZ_ADMIN.password,
      console: target.console,
      now: target.clock.now(),
      nonce: target.nonce,
    });
    logs.length = 0;
    crashes.length = 0;
    if (target.upstream) target.upstream.arrivals.length = 0;
    let answer: Answer;
    try {
      answer = await send(target.dispatch, concrete);
    } catch (error) {
      target.last = null;
      return { status: 0, error: null, events: [], findings: [`the request failed: ${(error as Error).message}`] };
    }
    // Give a rejection nobody handled the turn it needs to be reported.
    await new Promise((resolve) => setImmediate(resolve));
    const after = await target.state.snapshot();
    const events = after.lastAuditId > before.lastAuditId ? await target.state.auditAfter(before.lastAuditId) : [];
    target.last = after;
    const findings = checkInvariants({
      request: concrete,
      answer,
      before,
      after,
      events,
      logs: [...logs],
      arrivals: target.upstream ? [...target.upstream.arrivals] : null,
      crashes: [...crashes],
      knownSecrets: [
        ...target.pool.secrets(), ...other.pool.secrets(), ...target.bound.secrets(), ...other.bound.secrets(),
        FUZZ_CLIENT.password, DISABLED_CLIENT.password, FUZZ_ADMIN.password,
        ...[target.console, other.console].flatMap((session) => (session ? [session.cookie, session.csrf] : [])),
      ],
      console: target.console,
      dpopNonce: target.nonce === null ? null : target.nonce(0),
      basePath: FUZZ_BASE_PATH,
      username: FUZZ_CLIENT.username,
    });
    target.pool.learn(answer, events, target.clock.now());
    target.bound.learn(answer, events, target.clock.now());
    return { status: answer.status, error: errorCodeOf(answer), events: events.map((event) => event.type), findings };
  }

  return { store: kind, run, close };
}
