import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAuthService, type AuthService } from './auth-service.js';
import { bootstrapClientApplication, type BootstrapResult } from './bootstrap.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { Argon2Parameters } from './credentials/password-hasher.js';
import { buildApp } from './http/app.js';
import { startMetricsListener, type MetricsListener } from './http/metrics-listener.js';
import { createMetrics, storeObserver, watchState, type Metrics } from './http/metrics.js';
import { createLogger } from './logger.js';
import { observeStore } from './store/observed.js';
import { openStore } from './store/open.js';
import type { Store } from './store/port.js';
import { purgeStore } from './store/purge.js';
import { loadServerSecret } from './tokens/server-secret.js';

/**
 * How often an instance re-reads the signing keys (another instance or the CLI may rotate them):
 * this bounds how long it keeps signing with a retired key. Publishing does not wait for it: the
 * JWKS and the gateway re-read the store when they meet a key they do not know.
 */
const KEY_RELOAD_MS = 5_000;
/**
 * Rows of each kind per purge statement, and most statements of each kind per purge run. On SQLite a
 * batch runs on the event loop: 100 rows hold it for about 1–2 ms (`npm run bench -- purge`), and
 * a run of 10,000 batches (1,000,000 rows, far more than logins can create in one interval) lets
 * requests in between every two.
 */
export const PURGE_BATCH = 100;
export const PURGE_MAX_BATCHES = 10_000;
/**
 * How long a shutdown waits for requests under way (a slow upload, a long upstream answer) before
 * it cuts their connections; below the 30 s after which `serve --workers` kills a worker.
 */
const SHUTDOWN_DEADLINE_MS = 25_000;

export interface RunningServer {
  app: FastifyInstance;
  auth: AuthService;
  bootstrap: BootstrapResult;
  metrics: Metrics;
  /** The listener serving `/metrics`; null when it is off or the server does not listen. */
  metricsListener: MetricsListener | null;
  /**
   * Stops accepting connections (requests on open keep-alive connections get 503), finishes every
   * request under way and with it every pending rotation, waits for a purge run, then closes the
   * store.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
  store?: Store;
  argon2?: Argon2Parameters;
  /** Fault injection for tests: holds and counts hashes (see `src/test/hash-probe.ts`). */
  hashProbe?: SharedArrayBuffer;
  /** Listen on `config.host:config.port`; false builds the app for `inject()` only. */
  listen?: boolean;
  /** Migrate the store at start. Default `config.migrateOnStart`; without it a store that needs migrating is refused. */
  migrate?: boolean;
  /** Create the first client application if due. Default true; cluster workers leave it to the primary. */
  bootstrap?: boolean;
  /** Serve `/metrics` on `config.metricsHost:metricsPort` (unless that is off). Default `listen`; cluster workers leave it to the primary. */
  serveMetrics?: boolean;
}

/** The store needs migrations this server will not apply itself. */
export class PendingMigrationsError extends Error {
  constructor(pending: number, kind: string) {
    super(
      `the ${kind} store has ${pending} pending migration(s) and ANTPEER_MIGRATE_ON_START is false: ` +
        'run `antpeer-auth migrate` first',
    );
    this.name = 'PendingMigrationsError';
  }
}

/** Migrates, or checks that nothing is pending when migrating at start is off. */
async function prepareStore(store: Store, migrate: boolean): Promise<void> {
  if (migrate) {
    await store.migrate();
    return;
  }
  const pending = await store.pendingMigrations();
  if (pending > 0) throw new PendingMigrationsError(pending, store.kind);
}

/** Opens the store, prepares keys and the first client application, and serves the contract. */
export async function startServer(config: Readonly<Config>, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const secret = loadServerSecret(config);
  const metrics = createMetrics();
  const store = observeStore(options.store ?? (await openStore(config, 'server')), storeObserver(metrics));
  const timers: NodeJS.Timeout[] = [];
  const stoppers: (() => Promise<void>)[] = [];
  let metricsListener: MetricsListener | null = null;
  try {
    await prepareStore(store, options.migrate ?? config.migrateOnStart);
    const auth = await createAuthService({ config, store, clock, logger, secret, argon2: options.argon2, hashProbe: options.hashProbe });
    const bootstrap: BootstrapResult = options.bootstrap === false ? { created: false } : await bootstrapClientApplication(auth);
    watchState(metrics, { sessions: store.sessions, keys: auth.keys, clock });
    const app = await buildApp(auth, { metrics, isUnavailable: (error) => store.isUnavailableError?.(error) ?? false });
    if (options.listen !== false) await app.listen({ port: config.port, host: config.host });
    if ((options.serveMetrics ?? options.listen !== false) && config.metricsPort !== null) {
      metricsListener = await startMetricsListener(
        { host: config.metricsHost, port: config.metricsPort, limits: config },
        async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
        (error) => logger.error({ err: error }, 'rendering the metrics failed'),
      );
    }

    timers.push(
      setInterval(() => {
        auth.keys.reload().catch((error: unknown) => logger.warn({ err: error }, 'reloading signing keys failed'));
      }, KEY_RELOAD_MS),
    );
    timers.forEach((timer) => timer.unref());
    if (config.maintenance.purgeIntervalMs > 0) stoppers.push(schedulePurge(store, config, clock, logger));

    return {
      app,
      auth,
      bootstrap,
      metrics,
      metricsListener,
      async close() {
        timers.forEach(clearInterval);
        const deadline = setTimeout(() => {
          logger.warn('requests still under way after the shutdown deadline; closing their connections');
          app.server.closeAllConnections();
        }, SHUTDOWN_DEADLINE_MS);
        try {
          // Fastify's close resolves once every accepted request has been answered; each answer
          // waited for its rotation's commit, so nothing is pending in the store after it.
          await Promise.all([app.close(), metricsListener?.close(), ...stoppers.map((stop) => stop())]);
        } finally {
          clearTimeout(deadline);
          await Promise.all([store.close(), auth.hasher.close()]);
        }
      },
    };
  } catch (error) {
    timers.forEach(clearInterval);
    await metricsListener?.close();
    await store.close();
    throw error;
  }
}

/**
 * Runs {@link purgeStore} every `purgeInterval` seconds, the first run at a random point of the
 * first interval so that instances started together do not purge in step. A run never overlaps
 * the previous one. The returned stop function resolves once a run under way has finished, so the
 * store is not closed under it.
 */
function schedulePurge(store: Store, config: Readonly<Config>, clock: Clock, logger: Logger): () => Promise<void> {
  const intervalMs = config.maintenance.purgeIntervalMs;
  let running: Promise<void> | null = null;
  const run = async () => {
    if (running) return;
    running = purgeOnce();
    await running;
    running = null;
  };
  const purgeOnce = async () => {
    try {
      const result = await purgeStore(store, {
        now: clock.now(),
        auditRetentionMs: config.maintenance.auditRetentionMs,
        batchSize: PURGE_BATCH,
        maxBatches: PURGE_MAX_BATCHES,
      });
      if (result.expired + result.audit > 0) logger.info(result, 'purged expired rows');
    } catch (error) {
      logger.warn({ err: error }, 'purging expired rows failed');
    }
  };
  let timer = setTimeout(function first() {
    void run();
    timer = setInterval(() => void run(), intervalMs).unref();
  }, Math.floor(Math.random() * intervalMs) + 1).unref();
  return async () => {
    clearTimeout(timer);
    await running;
  };
}
