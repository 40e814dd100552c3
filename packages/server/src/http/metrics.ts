import type { GuardError, InvalidTokenError, InvalidTokenReason } from '@antpeer/guard';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AUDIT_KINDS, isAuditKind } from '../audit/kinds.js';
import type { Clock } from '../clock.js';
import type { StoreObserver } from '../store/observed.js';
import type { SessionStore } from '../store/port.js';
import type { KeyRing } from '../tokens/keys.js';

/**
 * The server's Prometheus metrics, on a registry of their own. Every one is listed, with its labels
 * and the alerts worth setting on it, in the README ("Metrics and alerts").
 */
export interface Metrics {
  registry: Registry;
  grants: Counter<'grant' | 'outcome'>;
  grantDuration: Histogram<'grant'>;
  /** Every answer, by route pattern and status (429s, 503s, 5xx ratios). */
  responses: Counter<'route' | 'status'>;
  /** Requests to application endpoints by what became of them (see {@link GATEWAY_OUTCOMES}). */
  gatewayRequests: Counter<'outcome' | 'reason'>;
  /** Forward-authentication (`auth/verify`) answers by outcome (see {@link FORWARD_AUTH_OUTCOMES}). */
  forwardAuth: Counter<'outcome' | 'reason'>;
  /** Gateway requests at the upstream (`active`) and waiting for a connection (`waiting`), read from the watched queues when scraped. */
  gatewayQueue: Gauge<'state'>;
  /** Has {@link Metrics.gatewayQueue} count `queue` from now on; the function returned stops it. */
  watchGatewayQueue(queue: QueueCounts): () => void;
  /** Connections closed before a request was read, by the cap that closed them. */
  connectionsRefused: Counter<'reason'>;
  /** Audit events recorded by this process, by kind: reuse detections, lockouts, session-limit refusals, … */
  auditEvents: Counter<'kind'>;
  /** How long store calls took, by port method (see `observeStore`). */
  storeDuration: Histogram<'operation'>;
  /** Failed store calls, by port method and kind: `unavailable` (503) or `other` (500). */
  storeErrors: Counter<'operation' | 'kind'>;
}

/** What the gateway's upstream queue holds now. */
export interface QueueCounts {
  readonly active: number;
  readonly waiting: number;
}

/** One series of a counter, incremented on every request: see {@link hotSeries}. */
export interface HotSeries {
  inc(): void;
}

/** The series {@link hotSeries} bound on each counter, with what they counted since the counter was last read. */
const hotSeriesOf = new WeakMap<Counter<string>, Array<{ labels: Record<string, string>; pending: number }>>();

/** A counter's `collect` (prom-client calls it before every read): adds what its hot series counted since the last read. */
function addHotCounts(this: Counter<string>): void {
  for (const series of hotSeriesOf.get(this) ?? []) {
    if (series.pending === 0) continue;
    this.inc(series.labels, series.pending);
    series.pending = 0;
  }
}

/**
 * One series of `counter` for the hot path: an increment adds to a plain number, which the counter
 * takes in when it is read (scrape, `get()`), so every read sees every increment. prom-client's own
 * `inc`, even on `labels()`, hashes and checks the labels each time. `counter` must have been
 * created with `collect: addHotCounts`.
 */
export function hotSeries<L extends string>(counter: Counter<L>, labels: Partial<Record<L, string>>): HotSeries {
  const series = { labels: labels as Record<string, string>, pending: 0 };
  let all = hotSeriesOf.get(counter as Counter<string>);
  if (all === undefined) hotSeriesOf.set(counter as Counter<string>, (all = []));
  all.push(series);
  return {
    inc() {
      series.pending += 1;
    },
  };
}

/** Why a bearer token was refused, as the gateway and forward authentication count it. */
const TOKEN_REFUSALS = [
  'missing_token',
  'malformed_authorization',
  'invalid_token',
  'invalid_dpop_proof',
  'session_inactive',
  'verifier_unavailable',
] as const;

/** Every reason the guard gives for an invalid token (a record, so that a new one fails to compile here). */
const INVALID_TOKEN_REASONS: Readonly<Record<InvalidTokenReason, true>> = {
  malformed: true,
  unsigned: true,
  algorithm: true,
  key_unknown: true,
  signature: true,
  type: true,
  issuer: true,
  audience: true,
  expired: true,
  not_yet_valid: true,
  claims: true,
  revoked: true,
  dpop_bound: true,
  dpop_unbound: true,
};

/**
 * What became of a request to an application endpoint: `forwarded` to the upstream, or why not.
 * `error` is a check that failed itself (the store could not be read: 503).
 */
export const GATEWAY_OUTCOMES = [
  'forwarded',
  ...TOKEN_REFUSALS,
  'error',
  'method_not_allowed',
  'bad_path',
  'no_upstream',
  'body_too_large',
  'queue_full',
  'queue_timeout',
  'client_gone',
  'upstream_error',
  'upstream_timeout',
  'response_too_large',
] as const;

/** What forward authentication answered: `allowed` (200), or why not. */
export const FORWARD_AUTH_OUTCOMES = ['allowed', ...TOKEN_REFUSALS, 'error', 'bad_forwarded_header'] as const;

/** The labels of a refused bearer token: the guard's error, or null for a session that is no longer active. */
export function tokenRefusal(error: GuardError | null): { outcome: (typeof TOKEN_REFUSALS)[number]; reason?: InvalidTokenReason } {
  if (error === null) return { outcome: 'session_inactive' };
  switch (error.code) {
    case 'ERR_GUARD_TOKEN_MISSING':
      return { outcome: 'missing_token' };
    case 'ERR_GUARD_INVALID_REQUEST':
      return { outcome: 'malformed_authorization' };
    case 'ERR_GUARD_INVALID_TOKEN':
      return { outcome: 'invalid_token', reason: (error as InvalidTokenError).reason };
    case 'ERR_GUARD_INVALID_DPOP_PROOF':
      return { outcome: 'invalid_dpop_proof' };
    case 'ERR_GUARD_UNAVAILABLE':
      return { outcome: 'verifier_unavailable' };
  }
}

/** Zero for every outcome, so that an alert's `increase()` sees the first one (a series that starts at 1 shows no increase). */
function initialiseOutcomes(counter: Counter<'outcome' | 'reason'>, outcomes: readonly string[]): void {
  for (const outcome of outcomes) {
    if (outcome !== 'invalid_token') counter.inc({ outcome }, 0);
  }
  for (const reason of Object.keys(INVALID_TOKEN_REASONS)) counter.inc({ outcome: 'invalid_token', reason }, 0);
}

/** Creates the metrics on a fresh registry, with the process's default metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const queues = new Set<QueueCounts>();
  const metrics: Metrics = {
    registry,
    grants: new Counter({
      name: 'antpeer_token_grants_total',
      help: 'Token endpoint requests by grant and outcome (ok or the OAuth error code)',
      labelNames: ['grant', 'outcome'],
      registers,
    }),
    grantDuration: new Histogram({
      name: 'antpeer_token_grant_duration_seconds',
      help: 'Time to answer a token request, by grant',
      labelNames: ['grant'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    responses: new Counter({
      name: 'antpeer_http_responses_total',
      help: 'Answers on the API port by route pattern (under the base path; "unmatched" when no route matched) and HTTP status',
      labelNames: ['route', 'status'],
      registers,
      collect: addHotCounts,
    }),
    gatewayRequests: new Counter({
      name: 'antpeer_gateway_requests_total',
      help: `Requests to application endpoints by outcome (${GATEWAY_OUTCOMES.join(', ')}); reason: the guard's reason for an invalid_token`,
      labelNames: ['outcome', 'reason'],
      registers,
      collect: addHotCounts,
    }),
    forwardAuth: new Counter({
      name: 'antpeer_forward_auth_requests_total',
      help: `Forward-authentication (auth/verify) answers by outcome (${FORWARD_AUTH_OUTCOMES.join(', ')}); reason: the guard's reason for an invalid_token`,
      labelNames: ['outcome', 'reason'],
      registers,
    }),
    gatewayQueue: new Gauge({
      name: 'antpeer_gateway_upstream_requests',
      help: 'Gateway requests at the upstream (state="active") and waiting for an upstream connection (state="waiting")',
      labelNames: ['state'],
      registers,
      // Read when scraped: a gauge set on every request would cost each request two label lookups.
      collect() {
        let active = 0;
        let waiting = 0;
        for (const queue of queues) {
          active += queue.active;
          waiting += queue.waiting;
        }
        this.set({ state: 'active' }, active);
        this.set({ state: 'waiting' }, waiting);
      },
    }),
    connectionsRefused: new Counter({
      name: 'antpeer_connections_refused_total',
      help: 'Connections closed before a request was read, by reason: max_connections, max_connections_per_address',
      labelNames: ['reason'],
      registers,
    }),
    auditEvents: new Counter({
      name: 'antpeer_audit_events_total',
      help: 'Audit events recorded by the serving processes, by kind (refresh_token_reuse, lockout_started, login_locked, session_limit_reached, …)',
      labelNames: ['kind'],
      registers,
    }),
    storeDuration: new Histogram({
      name: 'antpeer_store_operation_duration_seconds',
      help: 'Time a store call took (failed ones included), by operation (the store port method: sessions.getContext, sessions.apply, counters.update, audit.record, …)',
      labelNames: ['operation'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    storeErrors: new Counter({
      name: 'antpeer_store_errors_total',
      help: 'Store calls that failed, by operation and kind: unavailable (the database could not be reached: 503) or other (500)',
      labelNames: ['operation', 'kind'],
      registers,
    }),
    watchGatewayQueue(queue) {
      queues.add(queue);
      return () => queues.delete(queue);
    },
  };
  initialiseOutcomes(metrics.gatewayRequests, GATEWAY_OUTCOMES);
  initialiseOutcomes(metrics.forwardAuth, FORWARD_AUTH_OUTCOMES);
  for (const kind of Object.keys(AUDIT_KINDS)) metrics.auditEvents.inc({ kind }, 0);
  return metrics;
}

/** The store's calls and audit events, counted into `metrics` (see `observeStore`). */
export function storeObserver(metrics: Metrics): StoreObserver {
  return {
    operation(operation) {
      const duration = metrics.storeDuration.labels({ operation });
      metrics.storeErrors.inc({ operation, kind: 'unavailable' }, 0);
      metrics.storeErrors.inc({ operation, kind: 'other' }, 0);
      return (seconds, failure) => {
        duration.observe(seconds);
        if (failure !== null) metrics.storeErrors.inc({ operation, kind: failure });
      };
    },
    recorded(event) {
      // Only the domain's kinds are ever written; anything else would be a bug, not a new label.
      metrics.auditEvents.inc({ kind: isAuditKind(event.type) ? event.type : 'unknown' });
    },
  };
}

/**
 * Counts an answer by route pattern and status (see `ResponseCountingLogController`). Routes under
 * the base path are named without it (`/auth/token`; the gateway's catch-all is `/*`), so that the
 * labels do not change with `ANTPEER_BASE_PATH`.
 */
export function responseCounter(metrics: Metrics, basePath: string): (request: FastifyRequest, reply: FastifyReply) => void {
  // Each (route pattern, status) pair's series, bound on first use: both sets are small and fixed.
  const counters = new Map<string, HotSeries>();
  return (request, reply) => {
    const url = request.routeOptions.url;
    const key = `${reply.statusCode} ${url ?? ''}`;
    let counter = counters.get(key);
    if (counter === undefined) {
      const route = url === undefined ? 'unmatched' : url.startsWith(`${basePath}/`) ? url.slice(basePath.length) : url;
      counters.set(key, (counter = hotSeries(metrics.responses, { route, status: String(reply.statusCode) })));
    }
    counter.inc();
  };
}

/** How long a count of the active sessions is reused: scrapes in between cost the store nothing. */
export const ACTIVE_SESSIONS_MAX_AGE_MS = 30_000;
/**
 * How far the count goes, and how many sessions the busiest client is looked for in (see
 * `SessionStore.countActive`): measured on SQLite with 1,000,000 sessions, about 20 ms and 10 ms
 * of one core, at most once per {@link ACTIVE_SESSIONS_MAX_AGE_MS}; unbounded, 0.1 s and 0.5 s or
 * more, which on SQLite stall the serving process.
 */
export const ACTIVE_SESSIONS_BOUNDS = Object.freeze({ total: 100_000, sample: 10_000 });

/**
 * What `read` last answered, read again (at the clock's now) once the last read is `maxAgeMs` old;
 * concurrent callers share one read. A failed read keeps the last answer (undefined before the
 * first) and is not retried before `maxAgeMs` either: a scrape must still answer, and quickly,
 * while the store is down, and the store's observer has already counted the failure.
 */
function cachedRead<T>(read: (now: number) => Promise<T>, maxAgeMs: number, clock: Clock): () => Promise<T | undefined> {
  let last: { at: number; value: T | undefined } | null = null;
  let reading: Promise<void> | null = null;
  return async () => {
    const now = clock.now();
    if (last === null || now - last.at >= maxAgeMs) {
      reading ??= read(now)
        .then(
          (value) => {
            last = { at: now, value };
          },
          () => {
            last = { at: now, value: last?.value };
          },
        )
        .finally(() => {
          reading = null;
        });
      await reading;
    }
    return last?.value;
  };
}

/**
 * Gauges read from the state when scraped: active sessions (counted in the store, reused for
 * {@link ACTIVE_SESSIONS_MAX_AGE_MS}) and the signing key's age. Every worker of `serve --workers`
 * sees the same store, so the primary reports the largest of their values, not their sum.
 */
export function watchState(
  metrics: Pick<Metrics, 'registry'>,
  sources: { sessions: Pick<SessionStore, 'countActive'>; keys: Pick<KeyRing, 'signingKey'>; clock: Clock },
): void {
  const { sessions, keys, clock } = sources;
  const count = cachedRead((now) => sessions.countActive(now, ACTIVE_SESSIONS_BOUNDS), ACTIVE_SESSIONS_MAX_AGE_MS, clock);
  const registers = [metrics.registry];
  new Gauge({
    name: 'antpeer_sessions_active',
    help: `Sessions active now (counted at most every ${ACTIVE_SESSIONS_MAX_AGE_MS / 1000} s, up to ${ACTIVE_SESSIONS_BOUNDS.total})`,
    aggregator: 'max',
    registers,
    async collect() {
      const current = await count();
      if (current) this.set(current.total);
    },
  });
  new Gauge({
    name: 'antpeer_sessions_active_busiest_client',
    help: `Active sessions of the client application that has the most (among the ${ACTIVE_SESSIONS_BOUNDS.sample} that expire last); compare with ANTPEER_MAX_SESSIONS_PER_CLIENT`,
    aggregator: 'max',
    registers,
    async collect() {
      const current = await count();
      if (current) this.set(current.busiestUser);
    },
  });
  new Gauge({
    name: 'antpeer_signing_key_age_seconds',
    help: 'Age of the key that signs new access tokens (since it was created; `antpeer-auth keys rotate` makes a new one)',
    aggregator: 'max',
    registers,
    collect() {
      this.set((clock.now() - keys.signingKey().createdAt) / 1000);
    },
  });
}
