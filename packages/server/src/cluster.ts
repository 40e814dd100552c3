import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from './config.js';
import type { ConnectionLimits } from './http/listener.js';
import { startMetricsListener, type MetricsListener } from './http/metrics-listener.js';
import { startServer, type RunningServer } from './server.js';

/** The first restart of a crashed worker waits this long; each further crash in a row doubles it. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 30_000;
/** A worker that served this long before it died counts as healthy: its replacement starts at once. */
const STABLE_MS = 30_000;
/** How long a graceful shutdown may take before the remaining workers are killed. */
const SHUTDOWN_DEADLINE_MS = 30_000;

/** What a worker tells the primary once it listens. */
const READY = 'antpeer-auth:ready';

interface Slot {
  index: number;
  worker: Worker | null;
  readyAt: number | null;
  crashes: number;
  restart: NodeJS.Timeout | null;
}

/** Where the primary serves the workers' metrics. */
export type PrimaryMetricsConfig = Pick<Config, 'metricsHost' | 'metricsPort'> & ConnectionLimits;

/**
 * The workers' metrics summed by metric (prom-client's cluster aggregation), served by the
 * primary on the metrics listener: the workers share the API port, and a scrape of one port must
 * see all of them, not whichever worker took the connection.
 */
function serveClusterMetrics(config: PrimaryMetricsConfig, logger: Logger): Promise<MetricsListener | null> {
  if (config.metricsPort === null) return Promise.resolve(null);
  const aggregator = new AggregatorRegistry();
  return startMetricsListener(
    { host: config.metricsHost, port: config.metricsPort, limits: config },
    async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }),
    (error) => logger.error({ err: error }, 'collecting the workers’ metrics failed'),
  );
}

/**
 * The primary of `serve --workers N`: forks N workers that share the listening socket (node:cluster
 * hands connections to them in turn), serves their metrics together, restarts a worker that dies
 * with an exponential backoff, and on SIGTERM or SIGINT forwards SIGTERM to every worker and exits
 * once they have finished. The caller has already prepared the store (migrations, keys, first
 * client application), so workers only open it.
 */
export async function runPrimary(count: number, logger: Logger, config: PrimaryMetricsConfig): Promise<void> {
  const metrics = await serveClusterMetrics(config, logger);
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, worker: null, readyAt: null, crashes: 0, restart: null }));
  let stopping = false;

  const fork = (slot: Slot) => {
    slot.restart = null;
    slot.readyAt = null;
    const worker = cluster.fork();
    slot.worker = worker;
    worker.on('message', (message: unknown) => {
      if (message !== READY) return;
      slot.readyAt = Date.now();
      logger.info({ worker: slot.index, pid: worker.process.pid }, 'worker ready');
    });
    worker.on('exit', (code, signal) => {
      slot.worker = null;
      if (stopping) return;
      const lived = slot.readyAt === null ? 0 : Date.now() - slot.readyAt;
      slot.crashes = lived >= STABLE_MS ? 0 : slot.crashes + 1;
      const delay = slot.crashes === 0 ? 0 : Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (slot.crashes - 1));
      logger.error({ worker: slot.index, pid: worker.process.pid, code, signal, restartInMs: delay }, 'worker exited; restarting it');
      slot.restart = setTimeout(() => fork(slot), delay);
    });
  };

  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down the workers');
      for (const slot of slots) if (slot.restart) clearTimeout(slot.restart);
      const running = slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
      const deadline = setTimeout(() => {
        for (const worker of running) if (!worker.isDead()) worker.process.kill('SIGKILL');
      }, SHUTDOWN_DEADLINE_MS);
      deadline.unref();
      let left = running.length;
      const done = () => {
        clearTimeout(deadline);
        void (metrics?.close() ?? Promise.resolve()).then(resolve);
      };
      if (left === 0) done();
      for (const worker of running) {
        worker.once('exit', () => {
          left -= 1;
          if (left === 0) done();
        });
        worker.process.kill('SIGTERM');
      }
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    for (const slot of slots) fork(slot);
  });
}

/**
 * A worker of `serve --workers N`: serves over the store the primary prepared (no migrations, no
 * first client application), tells the primary when it listens, and shuts down gracefully on
 * SIGTERM, SIGINT, or when the primary goes away.
 */
export async function runWorker(config: Readonly<Config>): Promise<RunningServer> {
  const server = await startServer(config, { migrate: false, bootstrap: false, serveMetrics: false });
  // The primary asks every worker for its metrics; this answers with the worker's own registry
  // (prom-client installs the answering listener when an AggregatorRegistry is made).
  AggregatorRegistry.setRegistries([server.metrics.registry]);
  new AggregatorRegistry();
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ why }, 'worker shutting down');
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.once('disconnect', () => void stop('primary gone'));
  process.send?.(READY);
  return server;
}

/** Whether this process is a worker forked by {@link runPrimary}. */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}
