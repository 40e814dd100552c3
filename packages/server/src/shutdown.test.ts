// Clean shutdown under load: real `antpeer-auth serve` processes over a real SQLite data directory,
// 50 clients refreshing in loops over keep-alive connections, SIGTERM in the middle of it.
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import { login } from './test/http.js';
import { makeDataDir, startServe, type ServeProcess as Instance } from './test/process.js';

const LOOPS = 50;
/** SIGTERM goes out once the loops have made this many refreshes together (or after LOAD_MS). */
const REFRESHES_BEFORE_SIGTERM = 1000;
const LOAD_MS = 5_000;
/** Every loop ends by this deadline whatever happens. */
const LOOP_DEADLINE_MS = 30_000;
/** Logins at OWASP argon2id cost, this many at a time. */
const LOGIN_BATCH = 4;
/** The slow request's body waits this long on each side of SIGTERM. */
const SLOW_REQUEST_MS = 300;
const APP = { username: 'shutdown-app', password: 'shutdown test password 0123456789' };
/** Strict single use: a rotation the server committed but whose answer was lost shows up as reuse. */
const ENV = {
  ANTPEER_REFRESH_GRACE: '0',
  ANTPEER_SESSION_REFRESH_LIMIT: '1000000',
  ANTPEER_BOOTSTRAP_USERNAME: APP.username,
  ANTPEER_BOOTSTRAP_PASSWORD: APP.password,
  ANTPEER_TRUST_PROXY: '1',
  ANTPEER_LOG_LEVEL: 'warn',
};

interface Outcome {
  status: number | null;
  body: string;
  error: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function post(agent: Agent, url: string, body: unknown): Promise<Outcome> {
  return new Promise((resolve) => {
    const payload = JSON.stringify(body);
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, error: null }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ status: null, body: text, error: error.code ?? error.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: null, body: '', error: error.code ?? error.message }));
    req.end(payload);
  });
}

/**
 * A refresh whose headers and first half of the body go out now, and the rest on `finish()`: a
 * request the server has certainly accepted (it is reading its body) when SIGTERM arrives.
 */
function startSlowRefresh(url: string, token: string): { finish(): Promise<Outcome> } {
  const payload = Buffer.from(JSON.stringify({ refresh_token: token, grant_type: 'refresh_token' }));
  const req = httpRequest(url, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': String(payload.length) },
    timeout: 40_000,
  });
  const answer = new Promise<Outcome>((resolve) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, error: null }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: null, body: '', error: error.code ?? error.message }));
  });
  req.flushHeaders();
  req.write(payload.subarray(0, 20));
  return {
    finish() {
      req.end(payload.subarray(20));
      return answer;
    },
  };
}

interface LoopResult {
  /** The newest refresh token this client received. */
  token: string;
  refreshes: number;
  /** Answers received after SIGTERM was sent: requests the server had accepted and finished. */
  finishedAfterSigterm: number;
  /** 503 answers: requests the closing server turned away (nothing rotated). */
  turnedAway: number;
  /** Answers that were neither a success nor a clean refusal: accepted, then failed. */
  failures: string[];
  /** How the loop ended: the socket error once the server was gone. */
  end: string;
}

/**
 * Logs 50 clients in, runs their refresh loops, sends SIGTERM once they are in full swing, and
 * returns what each loop saw. A loop ends on the first connection error (the server is gone).
 */
async function refreshUntilShutdown(server: Instance): Promise<{ loops: LoopResult[]; slow: Outcome; exit: Awaited<Instance['exited']> }> {
  const sessions: Array<{ refresh_token: string }> = [];
  for (let i = 0; i <= LOOPS; i += LOGIN_BATCH) {
    const batch = Array.from({ length: Math.min(LOGIN_BATCH, LOOPS + 1 - i) }, (_, j) => login(server.tokenUrl, APP.username, APP.password, `198.51.100.${i + j + 1}`));
    sessions.push(...(await Promise.all(batch)));
  }
  const tokens = sessions.slice(1).map((session) => session.refresh_token);
  const agent = new Agent({ keepAlive: true, maxSockets: LOOPS });
  let total = 0;
  let sigtermAt: number | null = null;
  const deadline = Date.now() + LOOP_DEADLINE_MS;

  const loop = async (first: string): Promise<LoopResult> => {
    const result: LoopResult = { token: first, refreshes: 0, finishedAfterSigterm: 0, turnedAway: 0, failures: [], end: 'deadline' };
    while (Date.now() < deadline) {
      const outcome = await post(agent, server.tokenUrl, { refresh_token: result.token, grant_type: 'refresh_token' });
      if (outcome.status === null) {
        result.end = outcome.error ?? 'error';
        break;
      }
      if (sigtermAt !== null) result.finishedAfterSigterm += 1;
      if (outcome.status === 200) {
        result.token = (JSON.parse(outcome.body) as { refresh_token: string }).refresh_token;
        result.refreshes += 1;
        total += 1;
      } else if (outcome.status === 503) {
        result.turnedAway += 1;
      } else {
        result.failures.push(`${outcome.status} ${outcome.body}`);
        break;
      }
    }
    return result;
  };

  const loops = Promise.all(tokens.map(loop));
  const started = Date.now();
  while (total < REFRESHES_BEFORE_SIGTERM && Date.now() - started < LOAD_MS) await sleep(10);
  const slow = startSlowRefresh(server.tokenUrl, (sessions[0] as { refresh_token: string }).refresh_token);
  await sleep(SLOW_REQUEST_MS);
  sigtermAt = Date.now();
  server.child.kill('SIGTERM');
  await sleep(SLOW_REQUEST_MS);
  const [results, slowOutcome, exit] = await Promise.all([loops, slow.finish(), server.exited]);
  agent.destroy();
  return { loops: results, slow: slowOutcome, exit };
}

/**
 * What a client must be able to rely on across a shutdown: no answer other than success or 503,
 * and the newest refresh token each client holds still refreshes on a restarted server over the
 * same data (with grace 0, a rotation committed without its answer reaching the client would make
 * that token a reused one, and one answered but not committed would make the client's unknown).
 */
async function assertNothingLost(result: Awaited<ReturnType<typeof refreshUntilShutdown>>, restart: () => Promise<Instance>): Promise<void> {
  const { loops, slow, exit } = result;
  assert.deepEqual(exit, { code: 0, signal: null }, 'the server exits cleanly');
  assert.equal(slow.status, 200, `the request whose body was still arriving at SIGTERM was finished: ${slow.error ?? slow.body}`);
  assert.deepEqual(loops.flatMap((loop) => loop.failures), [], 'no accepted request failed');
  assert.ok(loops.reduce((sum, loop) => sum + loop.refreshes, 0) >= LOOPS, 'the loops were refreshing');
  assert.ok(
    loops.reduce((sum, loop) => sum + loop.finishedAfterSigterm, 0) > 0,
    'some requests were under way at SIGTERM and were answered (the test exercised the shutdown)',
  );
  const restarted = await restart();
  try {
    const agent = new Agent({ keepAlive: false });
    const lost: string[] = [];
    for (const [index, loop] of loops.entries()) {
      const answer = await post(agent, restarted.tokenUrl, { refresh_token: loop.token, grant_type: 'refresh_token' });
      if (answer.status !== 200) lost.push(`client ${index} (ended by ${loop.end}): ${answer.status} ${answer.body}`);
    }
    const slowToken = (JSON.parse(slow.body) as { refresh_token: string }).refresh_token;
    const slowAnswer = await post(agent, restarted.tokenUrl, { refresh_token: slowToken, grant_type: 'refresh_token' });
    if (slowAnswer.status !== 200) lost.push(`the slow client: ${slowAnswer.status} ${slowAnswer.body}`);
    assert.deepEqual(lost, [], 'every client’s newest refresh token still works');
  } finally {
    await restarted.stop();
  }
}

describe('SIGTERM under load', () => {
  test('a single server finishes every accepted request, commits every rotation, and exits 0', async () => {
    const data = makeDataDir();
    let server: Instance | undefined;
    try {
      server = await startServe({ dataDir: data.dir, env: ENV });
      const result = await refreshUntilShutdown(server);
      await assertNothingLost(result, () => startServe({ dataDir: data.dir, env: ENV }));
    } finally {
      await server?.stop('SIGKILL');
      data.cleanup();
    }
  });

  test('serve --workers 2: each worker finishes its accepted requests and commits its rotations', async () => {
    const data = makeDataDir();
    let server: Instance | undefined;
    try {
      server = await startServe({ dataDir: data.dir, env: ENV, args: ['--workers', '2'] });
      const result = await refreshUntilShutdown(server);
      await assertNothingLost(result, () => startServe({ dataDir: data.dir, env: ENV, args: ['--workers', '2'] }));
    } finally {
      await server?.stop('SIGKILL');
      data.cleanup();
    }
  });
});
