/**
 * Connections that never finish, against a real listener over real sockets: Node's timeouts are
 * measured on the wall clock, so these tests use 1-second settings and bounded waits.
 */
import assert from 'node:assert/strict';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BASE, startHarness, type Harness } from '../test/harness.js';
import { openSocket, parseResponse, readUntilClosed, sendRaw, wire } from '../test/raw-http.js';
import { startRecordingUpstream } from '../test/recording-upstream.js';

const portOf = (h: Harness) => (h.server.app.server.address() as AddressInfo).port;

/** Polls `check` every 10 ms for at most 5 s. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Writes `piece` every 200 ms until the socket closes (at most `count` times). */
function trickle(socket: Socket, piece: string, count: number): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || sent >= count) {
      clearInterval(timer);
      return;
    }
    sent += 1;
    socket.write(piece);
  }, 200);
  socket.once('close', () => clearInterval(timer));
}

describe('timeouts cut off connections that never finish', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(
      { ANTPEER_HEADERS_TIMEOUT: '1', ANTPEER_REQUEST_TIMEOUT: '2', ANTPEER_KEEP_ALIVE_TIMEOUT: '1' },
      { listen: true },
    );
  });
  after(() => h.close());

  it('headers trickled byte by byte: 408 in the OAuth shape and closed within seconds', async () => {
    const socket = await openSocket(portOf(h));
    const started = Date.now();
    socket.write('GET /healthz HTTP/1.1\r\nHost: a\r\n');
    trickle(socket, 'X-Slow: 1\r\n', 50);
    const { data, closed } = await readUntilClosed(socket, 6000);
    assert.ok(closed, 'the server closed the connection');
    assert.ok(Date.now() - started < 4000, `closed after ${Date.now() - started} ms`);
    const response = parseResponse(data, true);
    assert.equal(response?.status, 408);
    assert.deepEqual(JSON.parse(response?.body ?? ''), { error: 'invalid_request', error_description: 'The request was not received in time' });
  });

  it('a connection that sends nothing at all is closed within seconds', async () => {
    const socket = await openSocket(portOf(h));
    const started = Date.now();
    const { closed } = await readUntilClosed(socket, 6000);
    assert.ok(closed);
    assert.ok(Date.now() - started < 4000, `closed after ${Date.now() - started} ms`);
  });

  it('a body trickled byte by byte: 408 and closed within seconds', async () => {
    const socket = await openSocket(portOf(h));
    const started = Date.now();
    socket.write(wire(`POST ${BASE}/auth/token HTTP/1.1`, ['Host: a', 'Content-Type: application/json', 'Content-Length: 1000'], '{"username":'));
    trickle(socket, ' ', 50);
    const { data, closed } = await readUntilClosed(socket, 7000);
    assert.ok(closed, 'the server closed the connection');
    assert.ok(Date.now() - started < 5000, `closed after ${Date.now() - started} ms`);
    assert.equal(parseResponse(data, true)?.status, 408);
  });

  it('an idle kept-alive connection is closed after the keep-alive timeout', async () => {
    const socket = await openSocket(portOf(h));
    socket.write(wire('GET /healthz HTTP/1.1', ['Host: a']));
    const started = Date.now();
    const { data, closed } = await readUntilClosed(socket, 5000);
    assert.equal(parseResponse(data, true)?.status, 200);
    assert.ok(closed);
    assert.ok(Date.now() - started < 3500, `closed after ${Date.now() - started} ms`);
  });
});

describe('closing the server', () => {
  it('cuts connections that have not sent a whole request instead of waiting for them (a body under way within a second)', async () => {
    const h = await startHarness({}, { listen: true });
    const silent = await openSocket(portOf(h));
    const slowHeaders = await openSocket(portOf(h));
    slowHeaders.write('GET /healthz HTTP/1.1\r\nHost: a\r\n');
    const slowBody = await openSocket(portOf(h));
    slowBody.write(wire(`POST ${BASE}/auth/token HTTP/1.1`, ['Host: a', 'Content-Type: application/json', 'Content-Length: 100'], '{'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const reads = [silent, slowHeaders, slowBody].map((socket) => readUntilClosed(socket, 5000));
    const started = Date.now();
    await h.close();
    // A body under way gets SHUTDOWN_BODY_GRACE_MS (1 s) to finish; idle and header-less ones go at once.
    assert.ok(Date.now() - started < 1000 + 1500, `closing took ${Date.now() - started} ms`);
    for (const read of await Promise.all(reads)) assert.ok(read.closed);
  });

  it('answers a request under way, and a request that arrives meanwhile gets 503 temporarily_unavailable in the OAuth shape', async () => {
    const upstream = await startRecordingUpstream(() => 'hold');
    const h = await startHarness({ ANTPEER_UPSTREAM: upstream.url }, { listen: true });
    try {
      const token = (await h.login()).access_token;
      const socket = await openSocket(portOf(h));
      const read = readUntilClosed(socket, 5000);
      socket.write(wire(`GET ${BASE}/slow HTTP/1.1`, ['Host: a', `Authorization: Bearer ${token}`]));
      await upstream.waitForArrivals(1);
      const closing = h.server.close();
      await until('the server to be closing', () => !h.server.app.server.listening);
      socket.write(wire('GET /healthz HTTP/1.1', ['Host: a']));
      await new Promise((resolve) => setTimeout(resolve, 100));
      upstream.releaseAll();
      const { data } = await read;
      await closing;
      const first = parseResponse(data, true);
      assert.equal(first?.status, 200);
      const second = parseResponse(data.slice(data.indexOf('HTTP/1.1', 1)), true);
      assert.equal(second?.status, 503);
      assert.equal(second?.headers['retry-after'], '5');
      assert.deepEqual(JSON.parse(second?.body ?? ''), { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable; retry later' });
    } finally {
      await h.close().catch(() => undefined);
      await upstream.close();
    }
  });
});

describe('connection caps', () => {
  const held: Socket[] = [];
  after(() => held.splice(0).forEach((socket) => socket.destroy()));

  async function hold(port: number, localAddress: string): Promise<Socket> {
    const socket = await openSocket(port, { localAddress });
    held.push(socket);
    return socket;
  }

  /** Whether the server closes a fresh connection from `localAddress` before saying anything. */
  async function refused(port: number, localAddress: string): Promise<boolean> {
    const socket = await openSocket(port, { localAddress });
    const { data, closed } = await readUntilClosed(socket, 1500);
    socket.destroy();
    return closed && data === '';
  }

  const healthz = wire('GET /healthz HTTP/1.1', ['Host: a', 'Connection: close']);

  it('one address gets at most N connections; the N+1th is closed at once while another address gets through', async () => {
    const h = await startHarness({ ANTPEER_MAX_CONNECTIONS_PER_ADDRESS: '2' }, { listen: true });
    try {
      const port = portOf(h);
      const first = await hold(port, '127.0.0.1');
      await hold(port, '127.0.0.1');
      assert.ok(await refused(port, '127.0.0.1'), 'the third connection from 127.0.0.1 is refused');
      assert.equal((await sendRaw(port, healthz, { localAddress: '127.0.0.2' })).status, 200);
      first.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal((await sendRaw(port, healthz, { localAddress: '127.0.0.1' })).status, 200, 'a closed connection frees its place');
      const { values } = await h.server.metrics.connectionsRefused.get();
      assert.equal(values.find((value) => value.labels.reason === 'max_connections_per_address')?.value, 1);
    } finally {
      await h.close();
    }
  });

  it('trusted proxies are not held to the per-address cap', async () => {
    const h = await startHarness({ ANTPEER_MAX_CONNECTIONS_PER_ADDRESS: '1', ANTPEER_TRUST_PROXY: '127.0.0.1' }, { listen: true });
    try {
      const port = portOf(h);
      await hold(port, '127.0.0.1');
      assert.equal((await sendRaw(port, healthz, { localAddress: '127.0.0.1' })).status, 200);
      await hold(port, '127.0.0.2');
      assert.ok(await refused(port, '127.0.0.2'));
    } finally {
      await h.close();
    }
  });

  it('the process holds at most ANTPEER_MAX_CONNECTIONS connections', async () => {
    const h = await startHarness({ ANTPEER_MAX_CONNECTIONS: '2' }, { listen: true });
    try {
      const port = portOf(h);
      await hold(port, '127.0.0.1');
      await hold(port, '127.0.0.2');
      assert.ok(await refused(port, '127.0.0.3'));
    } finally {
      await h.close();
    }
  });
});
