import { connect, type Socket } from 'node:net';

/** The first HTTP response read from a raw socket; `status` 0 when the server closed without one. */
export interface RawResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  /** Everything the server sent, for assertions on what must not appear. */
  raw: string;
}

/** Parses the first response out of `raw`, or returns null while it is incomplete. */
export function parseResponse(raw: string, complete: boolean): RawResponse | null {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd === -1) return complete ? { status: 0, headers: {}, body: '', raw } : null;
  const [statusLine = '', ...lines] = raw.slice(0, headEnd).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let rest = raw.slice(headEnd + 4);
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    // `raw` holds the bytes as latin1 characters, one per byte.
    if (rest.length < length) return complete ? { status, headers, body: Buffer.from(rest, 'latin1').toString(), raw } : null;
    return { status, headers, body: Buffer.from(rest.slice(0, length), 'latin1').toString(), raw };
  }
  if (headers['transfer-encoding'] === 'chunked') {
    let body = '';
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd === -1) return complete ? { status, headers, body, raw } : null;
      const size = parseInt(rest.slice(0, lineEnd), 16);
      if (size === 0) return { status, headers, body, raw };
      if (rest.length < lineEnd + 2 + size + 2) return complete ? { status, headers, body, raw } : null;
      body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
      rest = rest.slice(lineEnd + 2 + size + 2);
    }
  }
  return complete ? { status, headers, body: Buffer.from(rest, 'latin1').toString(), raw } : null;
}

export interface RawOptions {
  host?: string;
  /** The local address to connect from (e.g. 127.0.0.2, to be another client). */
  localAddress?: string;
  /** Give up after this long and return what arrived. Default 5000. */
  timeoutMs?: number;
}

/** Opens a TCP connection to a loopback server; resolves once connected. */
export function openSocket(port: number, options: RawOptions = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: options.host ?? '127.0.0.1', localAddress: options.localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with everything a socket receives until the server closes it or `timeoutMs` passes. */
export function readUntilClosed(socket: Socket, timeoutMs = 5000): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => resolve({ data, closed: false }), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ data, closed: true });
    });
  });
}

/**
 * Sends `request` byte for byte on a fresh connection and resolves with the first response, as
 * soon as it is complete (or the server closes, or the deadline passes). Nothing is normalised:
 * this is how the attack corpus talks to the server.
 */
export async function sendRaw(port: number, request: string | Buffer, options: RawOptions = {}): Promise<RawResponse> {
  const socket = await openSocket(port, options);
  return new Promise((resolve) => {
    let raw = '';
    let done = false;
    const finish = (complete: boolean) => {
      if (done) return;
      const parsed = parseResponse(raw, complete);
      if (parsed === null) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parsed);
    };
    const timer = setTimeout(() => finish(true), options.timeoutMs ?? 5000);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      raw += chunk;
      finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.write(request);
  });
}

/** A request head and body in HTTP/1.1 wire format; `lines` are header lines without CRLF. */
export function wire(requestLine: string, lines: string[], body = ''): string {
  return `${requestLine}\r\n${lines.map((line) => `${line}\r\n`).join('')}\r\n${body}`;
}
