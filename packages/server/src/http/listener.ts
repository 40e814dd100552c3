import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BlockList, isIPv4, type Socket } from 'node:net';
import type { Config, TrustProxy } from '../config.js';

/** The connection settings of a listener (see the `ANTPEER_*_TIMEOUT` and `ANTPEER_MAX_CONNECTIONS*` variables). */
export type ConnectionLimits = Pick<
  Config,
  'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'idleTimeoutMs' | 'maxConnections' | 'maxConnectionsPerAddress'
>;

/** Why a connection was closed before a request was read. */
export type RefusalReason = 'max_connections' | 'max_connections_per_address';

/**
 * How often Node checks the headers and request timeouts. Its default, 30 s, would let a slow
 * client hold a connection that much longer than the timeout says.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) as the IPv4 address it is. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * Whether a peer is a trusted proxy: with a hop count every peer is (that is what the count
 * says); with a list, the peers it names; with `false`, none.
 */
export function trustedProxyTest(trustProxy: TrustProxy): (address: string) => boolean {
  if (trustProxy === false) return () => false;
  if (typeof trustProxy === 'number') return () => true;
  const list = new BlockList();
  for (const entry of trustProxy) {
    const [address = '', prefix] = entry.split('/');
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return (address) => {
    const plain = plainAddress(address);
    return list.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
  };
}

/**
 * Closes a new connection at once when its address already holds `cap` open ones. Addresses the
 * `exempt` test accepts (trusted proxies, which carry many clients) are not counted.
 */
function capConnectionsPerAddress(server: Server, cap: number, exempt: (address: string) => boolean, onRefused: (reason: RefusalReason) => void): void {
  if (cap === 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress === undefined ? undefined : plainAddress(socket.remoteAddress);
    if (address === undefined || exempt(address)) return;
    const count = (open.get(address) ?? 0) + 1;
    if (count > cap) {
      onRefused('max_connections_per_address');
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** Each listener's open connections and the request each is answering, if any. */
const inFlight = new WeakMap<Server, Map<Socket, IncomingMessage | null>>();

function trackRequests(server: Server): void {
  const connections = new Map<Socket, IncomingMessage | null>();
  inFlight.set(server, connections);
  server.on('connection', (socket: Socket) => {
    connections.set(socket, null);
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    connections.set(request.socket, request);
    response.once('close', () => {
      if (connections.has(request.socket)) connections.set(request.socket, null);
    });
  });
}

/** How long, at shutdown, a request whose body is still arriving may take to finish it. */
export const SHUTDOWN_BODY_GRACE_MS = 1000;

/**
 * For a graceful close: closes at once every connection that has no request under way (idle, or
 * still sending headers), and gives a request whose body is still arriving a short grace (the
 * request timeout, at most {@link SHUTDOWN_BODY_GRACE_MS}) to finish it: it was accepted, and an
 * honest client's answer is owed, but a slow-body client must not hold the shutdown. Node stops
 * enforcing its header and request timeouts once a server closes, so without this a slow client
 * would hold the shutdown until the idle timeout.
 */
export function closeUnfinishedConnections(server: Server, requestTimeoutMs: number): void {
  const graceMs = Math.min(requestTimeoutMs, SHUTDOWN_BODY_GRACE_MS);
  for (const [socket, request] of inFlight.get(server) ?? []) {
    if (request === null) socket.destroy();
    else if (!request.complete) {
      const timer = setTimeout(() => {
        if (!request.complete) socket.destroy();
      }, graceMs);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    }
  }
}

/**
 * What is wrong with a request's `Host` (RFC 9112 §3.2: an HTTP/1.1 request must carry exactly
 * one), or null when nothing is.
 */
export function hostHeaderProblem(request: IncomingMessage): string | null {
  let count = 0;
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i] as string;
    // The length first: most names are not four characters long, and lowering each costs a string.
    if (name.length === 4 && name.toLowerCase() === 'host') count += 1;
  }
  if (count > 1) return 'The request has more than one Host header';
  if (count === 0 && request.httpVersion === '1.1') return 'The request has no Host header';
  return null;
}

export interface ListenerOptions {
  limits: ConnectionLimits;
  /** Peers exempt from the per-address cap. */
  isTrustedProxy: (address: string) => boolean;
  onRefused?: (reason: RefusalReason) => void;
}

/**
 * An HTTP/1.1 server that does not wait forever: headers must arrive within `headersTimeoutMs`,
 * the whole request within `requestTimeoutMs`, the next request on a kept-alive connection within
 * `keepAliveTimeoutMs`, and a connection silent both ways for `idleTimeoutMs` is closed (a client
 * that stops reading its answer included). At most `maxConnections` are open, and at most
 * `maxConnectionsPerAddress` from one address; further ones are closed before a byte is read.
 *
 * @see https://owasp.org/www-community/attacks/Slow_Read_DoS_Attack
 */
export function createListener(handler: (request: IncomingMessage, response: ServerResponse) => void, options: ListenerOptions): Server {
  const { limits } = options;
  const onRefused = options.onRefused ?? (() => undefined);
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, limits.headersTimeoutMs),
      // Node's own refusal has no body; `hostHeaderProblem` answers in the OAuth shape instead.
      requireHostHeader: false,
    },
    handler,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.timeout = limits.idleTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => onRefused('max_connections'));
  // Node's own 417 has no body; ours has the shape of every other error.
  server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify({ error: 'invalid_request', error_description: 'Only the expectation 100-continue is supported' });
    response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', connection: 'close' }).end(body);
  });
  capConnectionsPerAddress(server, limits.maxConnectionsPerAddress, options.isTrustedProxy, onRefused);
  trackRequests(server);
  return server;
}
