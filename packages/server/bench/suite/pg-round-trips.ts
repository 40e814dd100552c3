// A TCP relay in front of PostgreSQL that counts the statements a server sends: every Sync (the end
// of an extended-protocol query, how `pg` sends a parameterised statement) and every simple Query.
// `pg` never pipelines, so each is one round trip. Used for a short phase of its own, so the relay's
// cost never touches a throughput figure.
import { createServer, connect, type Server, type Socket } from 'node:net';

/** PostgreSQL's SSLRequest and GSSENCRequest codes: a startup-phase message the real startup follows. */
const NEGOTIATION_CODES = new Set([80877103, 80877104]);

export interface RoundTripCounter {
  port: number;
  /** Statements sent through the relay so far, by every connection. */
  count(): number;
  close(): Promise<void>;
}

/** Counts the messages of one client→server stream. */
function counter(onStatement: () => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  let startup = true;
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      if (startup) {
        if (pending.length < 8) return;
        const length = pending.readInt32BE(0);
        if (pending.length < length) return;
        startup = NEGOTIATION_CODES.has(pending.readInt32BE(4));
        pending = pending.subarray(length);
        continue;
      }
      if (pending.length < 5) return;
      const length = pending.readInt32BE(1) + 1;
      if (pending.length < length) return;
      const type = String.fromCharCode(pending[0] as number);
      if (type === 'S' || type === 'Q') onStatement();
      pending = pending.subarray(length);
    }
  };
}

export async function startRoundTripCounter(target: { host: string; port: number }): Promise<RoundTripCounter> {
  let statements = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const count = counter(() => statements++);
    client.on('data', (chunk: Buffer) => {
      count(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    count: () => statements,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
