import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createListener, type ConnectionLimits } from './listener.js';

/** The Prometheus text exposition and its content type. */
export interface Exposition {
  contentType: string;
  body: string;
}

export interface MetricsListener {
  /** The port it listens on (the bound one when asked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

function answer(response: ServerResponse, status: number, error: string, description: string, extra: Record<string, string> = {}): void {
  response
    .writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra })
    .end(JSON.stringify({ error, error_description: description }));
}

/**
 * Serves `GET /metrics` on a listener of its own (loopback by default), so the API port never
 * tells the world the process's internals; anything else there is a 404 (or 405) in the OAuth
 * error shape.
 */
export async function startMetricsListener(
  options: { host: string; port: number; limits: ConnectionLimits },
  render: () => Promise<Exposition>,
  onError: (error: unknown) => void,
): Promise<MetricsListener> {
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') return answer(response, 404, 'not_found', 'Only /metrics is served here');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return answer(response, 405, 'method_not_allowed', 'Use GET on this endpoint', { allow: 'GET, HEAD' });
    }
    render().then(
      ({ contentType, body }) => {
        response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        onError(error);
        answer(response, 500, 'server_error', 'Internal server error');
      },
    );
  };
  const server: Server = createListener(handle, { limits: options.limits, isTrustedProxy: () => false });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
