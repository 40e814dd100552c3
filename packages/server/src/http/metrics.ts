import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, on a registry of its own. */
export interface Metrics {
  registry: Registry;
  grants: Counter<'grant' | 'outcome'>;
  grantDuration: Histogram<'grant'>;
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
  };
}
