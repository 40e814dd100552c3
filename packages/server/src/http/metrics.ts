import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, on a registry of its own. */
export interface Metrics {
  registry: Registry;
  grants: Counter<'grant' | 'outcome'>;
  grantDuration: Histogram<'grant'>;
  /** Authenticated gateway requests by what became of them. */
  gatewayRequests: Counter<'outcome'>;
  /** Gateway requests at the upstream (`active`) and waiting for a connection (`waiting`). */
  gatewayQueue: Gauge<'state'>;
  /** Connections closed before a request was read, by the cap that closed them. */
  connectionsRefused: Counter<'reason'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    grants: new Counter({
      name: 'antpeer_token_grants_total',
      help: 'Token endpoint requests by grant and outcome (ok or the OAuth error code)',
      labelNames: ['grant', 'outcome'],
      registers: [registry],
    }),
    grantDuration: new Histogram({
      name: 'antpeer_token_grant_duration_seconds',
      help: 'Time to answer a token request, by grant',
      labelNames: ['grant'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    gatewayRequests: new Counter({
      name: 'antpeer_gateway_requests_total',
      help: 'Authenticated gateway requests by outcome: forwarded, queue_full, queue_timeout, client_gone, body_too_large, upstream_error, upstream_timeout, response_too_large',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    gatewayQueue: new Gauge({
      name: 'antpeer_gateway_upstream_requests',
      help: 'Gateway requests at the upstream (state="active") and waiting for an upstream connection (state="waiting")',
      labelNames: ['state'],
      registers: [registry],
    }),
    connectionsRefused: new Counter({
      name: 'antpeer_connections_refused_total',
      help: 'Connections closed before a request was read, by reason: max_connections, max_connections_per_address',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
