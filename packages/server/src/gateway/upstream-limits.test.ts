/**
 * What the gateway holds for the upstream, over real sockets: a bounded queue with a deadline in
 * front of the upstream's connections, requests dropped or aborted when their client goes away,
 * and caps on the upstream's answer.
 */
import assert from 'node:assert/strict';
import type { AddressInfo, Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { BASE, startHarness, type Harness } from '../test/harness.js';
import { openSocket, readUntilClosed, sendRaw, wire } from '../test/raw-http.js';
import { startRecordingUpstream, type RecordingUpstream, type UpstreamBehaviour } from '../test/recording-upstream.js';

/** Polls `check` every 10 ms for at most 5 s. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the gateway’s queue in front of the upstream', () => {
  let h: Harness;
  let upstream: RecordingUpstream;
  let port: number;
  let token: string;
  const open: Socket[] = [];

  before(async () => {
    upstream = await startRecordingUpstream((arrival): UpstreamBehaviour => {
      if (arrival.url.startsWith('/hold')) return 'hold';
      if (arrival.url === '/big') return { status: 200, body: 'x'.repeat(5000), headers: { 'content-length': '5000' } };
      if (arrival.url === '/big-chunked') return { status: 200, body: 'x'.repeat(5000) };
      return { status: 200 };
    });
    h = await startHarness(
      {
        ANTPEER_UPSTREAM: upstream.url,
        ANTPEER_UPSTREAM_CONNECTIONS: '1',
        ANTPEER_UPSTREAM_QUEUE: '1',
        ANTPEER_UPSTREAM_MAX_RESPONSE_BYTES: '1000',
      },
      { listen: true },
    );
    port = (h.server.app.server.address() as AddressInfo).port;
    token = (await h.login()).access_token;
  });
  afterEach(async () => {
    open.splice(0).forEach((socket) => socket.destroy());
    upstream.releaseAll();
    await until('the queue to drain', async () => (await queued('active')) === 0 && (await queued('waiting')) === 0);
  });
  after(async () => {
    await h.close();
    await upstream.close();
  });

  const request = (path: string) => wire(`GET ${BASE}${path} HTTP/1.1`, ['Host: a', `Authorization: Bearer ${token}`]);

  /** Sends a request on a connection the test keeps open (and may close to play a client that leaves). */
  async function start(path: string): Promise<Socket> {
    const socket = await openSocket(port);
    open.push(socket);
    socket.write(request(path));
    return socket;
  }

  async function queued(state: 'active' | 'waiting'): Promise<number> {
    const { values } = await h.server.metrics.gatewayQueue.get();
    return values.find((value) => value.labels.state === state)?.value ?? 0;
  }

  it('with every connection busy and the queue full, answers 503 with Retry-After in the OAuth shape', async () => {
    await start('/hold/1');
    await until('one request at the upstream', async () => (await queued('active')) === 1);
    await start('/waits');
    await until('one request waiting', async () => (await queued('waiting')) === 1);
    const before = upstream.arrivals.length;
    const refused = await sendRaw(port, request('/refused'));
    assert.equal(refused.status, 503, refused.raw);
    assert.equal(refused.headers['retry-after'], '5');
    assert.deepEqual(JSON.parse(refused.body), { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable; retry later' });
    assert.equal(upstream.arrivals.length, before);
  });

  it('a queued request whose client went away is never delivered', async () => {
    await start('/hold/2');
    await until('one request at the upstream', async () => (await queued('active')) === 1);
    const leaving = await start('/left-the-queue');
    await until('one request waiting', async () => (await queued('waiting')) === 1);
    leaving.destroy();
    await until('the queue to be empty', async () => (await queued('waiting')) === 0);
    const before = upstream.arrivals.length;
    upstream.releaseAll();
    const next = await sendRaw(port, request('/after'));
    assert.equal(next.status, 200);
    assert.deepEqual(upstream.arrivals.slice(before).map((arrival) => arrival.url), ['/after']);
  });

  it('a request at the upstream whose client went away is aborted there, and its connection serves the next', async () => {
    const leaving = await start('/hold/3');
    await until('the request at the upstream', () => upstream.arrivals.some((arrival) => arrival.url === '/hold/3'));
    leaving.destroy();
    const arrival = upstream.arrivals.find((candidate) => candidate.url === '/hold/3');
    await until('the upstream to see the abort', () => arrival?.aborted === true);
    const next = await sendRaw(port, request('/next'));
    assert.equal(next.status, 200);
  });

  for (const path of ['/big', '/big-chunked']) {
    it(`an upstream answer over the cap before it starts is a 502, not passed on (${path})`, async () => {
      const answer = await sendRaw(port, request(path));
      assert.equal(answer.status, 502, answer.raw);
      assert.deepEqual(JSON.parse(answer.body), { error: 'bad_gateway', error_description: 'The upstream service could not be reached' });
    });
  }
});

describe('the cap on an upstream exchange’s duration', () => {
  it('cuts an answer that is still dripping after ANTPEER_UPSTREAM_MAX_DURATION, and aborts it upstream', async () => {
    const upstream = await startRecordingUpstream(() => 'drip');
    // The upstream keeps sending, so neither the header nor the body timeout can end the exchange.
    const h = await startHarness({ ANTPEER_UPSTREAM: upstream.url, ANTPEER_UPSTREAM_MAX_DURATION: '1' }, { listen: true });
    try {
      const token = (await h.login()).access_token;
      const socket = await openSocket((h.server.app.server.address() as AddressInfo).port);
      const read = readUntilClosed(socket, 6000);
      socket.write(wire(`GET ${BASE}/stream HTTP/1.1`, ['Host: a', `Authorization: Bearer ${token}`]));
      const { data, closed } = await read;
      assert.ok(closed, 'the gateway cut the answer');
      assert.match(data, /^HTTP\/1\.1 200/);
      await until('the upstream to see the abort', () => upstream.arrivals[0]?.aborted === true);
    } finally {
      await h.close();
      await upstream.close();
    }
  });
});
