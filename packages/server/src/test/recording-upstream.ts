import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as it reached the upstream. */
export interface Arrival {
  method: string;
  /** The request target exactly as the upstream received it. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Header names exactly as sent on the wire, in order. */
  rawHeaderNames: string[];
  body: string;
  /** Whether the gateway went away before the upstream answered. */
  aborted: boolean;
}

/**
 * What the upstream does with a request: answer (after a delay), hold it until released, drop the
 * connection, or answer at once and then drip one byte of body every 200 ms for 20 s.
 */
export type UpstreamBehaviour =
  | { status: number; body?: string; headers?: Record<string, string | string[]>; delayMs?: number }
  | 'hold'
  | 'reset'
  | 'drip';

export interface RecordingUpstream {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every request whose head reached the upstream, in arrival order. */
  arrivals: Arrival[];
  /** Answers every held request with 200 and forgets it. */
  releaseAll(): void;
  /** Resolves once `count` requests have arrived (bounded by `timeoutMs`). */
  waitForArrivals(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real upstream on loopback that records what reached it, including requests the gateway
 * abandoned, so tests can assert on what the gateway forwarded (and what it did not).
 */
export async function startRecordingUpstream(behave: (arrival: Arrival) => UpstreamBehaviour = () => ({ status: 200 })): Promise<RecordingUpstream> {
  const arrivals: Arrival[] = [];
  const held: ServerResponse[] = [];
  const waiters: (() => void)[] = [];
  const notify = () => waiters.splice(0).forEach((wake) => wake());

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const arrival: Arrival = {
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
      rawHeaderNames: request.rawHeaders.filter((_, index) => index % 2 === 0),
      body: '',
      aborted: false,
    };
    arrivals.push(arrival);
    notify();
    const chunks: Buffer[] = [];
    response.on('close', () => {
      if (!response.writableFinished) arrival.aborted = true;
    });
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('error', () => undefined);
    request.on('end', () => {
      arrival.body = Buffer.concat(chunks).toString();
      const behaviour = behave(arrival);
      if (behaviour === 'hold') {
        held.push(response);
        return;
      }
      if (behaviour === 'reset') {
        request.socket.destroy();
        return;
      }
      if (behaviour === 'drip') {
        response.writeHead(200, { 'content-type': 'text/plain' });
        let drops = 0;
        const timer = setInterval(() => {
          drops += 1;
          if (drops >= 100) response.end();
          else response.write('.');
        }, 200);
        response.once('close', () => clearInterval(timer));
        return;
      }
      const answer = () => {
        if (response.destroyed) return;
        response
          .writeHead(behaviour.status, { 'content-type': 'application/json', 'x-upstream': 'yes', ...behaviour.headers })
          .end(behaviour.body ?? JSON.stringify({ ok: true }));
      };
      if (behaviour.delayMs) setTimeout(answer, behaviour.delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    releaseAll() {
      for (const response of held.splice(0)) if (!response.destroyed) response.writeHead(200).end('{}');
    },
    async waitForArrivals(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (arrivals.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`only ${arrivals.length} of ${count} requests reached the upstream`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async close() {
      for (const response of held.splice(0)) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
