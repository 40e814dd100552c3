// `npm run bench:client`: what the token manager costs per call, and how it behaves at an expiry.
// Loopback only, bounded in time. Ratios and differences are measured in one run on one machine.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { systemClock, TokenManager, type Clock } from '../src/index.js';
import { BASE_PATH } from '../src/test/fake-server.js';

const ROUNDS = 5;
const CALLS_PER_ROUND = 800;
const CONCURRENT = 1_000;

const deadline = setTimeout(() => {
  console.error('bench:client took longer than 55 s; giving up');
  process.exit(1);
}, 55_000);
deadline.unref();

let tokenRequests = 0;
let issued = 0;
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'POST' && req.url === `${BASE_PATH}/auth/token`) {
      tokenRequests++;
      issued++;
      const body = JSON.stringify({
        access_token: `access-${issued}`,
        expires_in: 900,
        refresh_expires_in: 1800,
        token_type: 'bearer',
        id_token: null,
        'not-before-policy': 0,
        session_state: 's',
        scope: '',
        refresh_token: `refresh-${issued}`,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
      return;
    }
    if (!req.headers.authorization?.startsWith('Bearer ')) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="bench"' }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
});
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE_PATH}`;

// A clock we can move past an expiry without waiting for one.
let offsetMs = 0;
const clock: Clock = { now: () => Date.now() + offsetMs, setTimer: systemClock.setTimer };
const manager = new TokenManager({ baseUrl, username: 'bench', password: 'bench-password', clock, scheduleRefresh: false });

const token = await manager.getAccessToken();
const plainHeaders = { authorization: `Bearer ${token}` };
const url = `${baseUrl}/accounts`;

async function timeCalls(call: () => Promise<Response>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < CALLS_PER_ROUND; i++) {
    const response = await call();
    await response.arrayBuffer();
  }
  return ((performance.now() - started) * 1000) / CALLS_PER_ROUND; // µs per call
}

const plain = (): Promise<Response> => fetch(url, { headers: plainHeaders });
const wrapped = (): Promise<Response> => manager.fetch('accounts');

// Warm up both paths (connections, JIT), then alternate rounds so drift hits both alike.
await timeCalls(plain);
await timeCalls(wrapped);
const plainRounds: number[] = [];
const wrappedRounds: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  plainRounds.push(await timeCalls(plain));
  wrappedRounds.push(await timeCalls(wrapped));
}
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};
const plainUs = median(plainRounds);
const wrappedUs = median(wrappedRounds);

// The wrapper alone: the same two paths over a fetch that answers at once, without the network.
const instant: typeof fetch = async () => new Response(null, { status: 204 });
const offline = new TokenManager({ baseUrl, username: 'bench', password: 'bench-password', clock, scheduleRefresh: false, fetch: async (input, init) => (String(input).endsWith('/auth/token') ? fetch(input, init) : instant(input, init)) });
await offline.getAccessToken();
const offlineCalls = 50_000;
const timeOffline = async (call: () => Promise<Response>): Promise<number> => {
  const begin = performance.now();
  for (let i = 0; i < offlineCalls; i++) await call();
  return ((performance.now() - begin) * 1000) / offlineCalls;
};
await timeOffline(() => instant(url, { headers: plainHeaders }));
await timeOffline(() => offline.fetch('accounts'));
const instantUs = await timeOffline(() => instant(url, { headers: plainHeaders }));
const offlineUs = await timeOffline(() => offline.fetch('accounts'));
await offline.close();

// The token check alone, without the network.
const checks = 200_000;
let started = performance.now();
for (let i = 0; i < checks; i++) await manager.getAccessToken();
const checkUs = ((performance.now() - started) * 1000) / checks;

// 1,000 concurrent calls across an expiry.
const before = tokenRequests;
offsetMs += 901_000;
started = performance.now();
const responses = await Promise.all(Array.from({ length: CONCURRENT }, () => manager.fetch('accounts')));
const burstMs = performance.now() - started;
const ok = responses.filter((response) => response.status === 200).length;
await Promise.all(responses.map((response) => response.arrayBuffer()));
const burstTokenRequests = tokenRequests - before;

await manager.close();
server.closeAllConnections();
server.close();

const rows: Array<[string, string]> = [
  ['plain fetch, per call (median of rounds)', `${plainUs.toFixed(1)} µs`],
  ['manager.fetch with a valid token, per call', `${wrappedUs.toFixed(1)} µs`],
  ['overhead per call', `${(wrappedUs - plainUs).toFixed(1)} µs (${((wrappedUs / plainUs - 1) * 100).toFixed(1)} %)`],
  ['wrapper alone (over a fetch that answers at once), per call', `${(offlineUs - instantUs).toFixed(2)} µs`],
  ['getAccessToken() with a valid token, per call', `${checkUs.toFixed(2)} µs`],
  [`token requests for ${CONCURRENT.toLocaleString('en')} concurrent calls across an expiry`, `${burstTokenRequests} (${ok}/${CONCURRENT} answered 200, ${burstMs.toFixed(0)} ms)`],
];
const width = Math.max(...rows.map(([name]) => name.length));
console.log(`client bench (loopback, ${ROUNDS} alternating rounds of ${CALLS_PER_ROUND} sequential calls)\n`);
console.log(`| ${'measurement'.padEnd(width)} | value`);
console.log(`|${'-'.repeat(width + 2)}|${'-'.repeat(40)}`);
for (const [name, value] of rows) console.log(`| ${name.padEnd(width)} | ${value}`);
if (burstTokenRequests !== 1) process.exitCode = 1;
