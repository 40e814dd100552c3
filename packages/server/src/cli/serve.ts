import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import type { BootstrapResult } from '../bootstrap.js';
import { loadConfig, type Config } from '../config.js';
import { createLogger } from '../logger.js';
import { CliError } from './context.js';

/** `--workers`: a count, or 0 / `auto` for one per core. */
export function parseWorkers(value: string): number {
  if (value === 'auto' || value === '0') return availableParallelism();
  if (!/^\d+$/.test(value) || Number(value) > 1024) {
    throw new CliError(`--workers must be a whole number from 0 to 1024, or auto; got "${value}"`);
  }
  return Number(value);
}

/** Shows a generated first password exactly once, on standard output. */
function announceBootstrap(bootstrap: BootstrapResult): void {
  if (!bootstrap.created) return;
  const { username, generatedPassword } = bootstrap;
  const lines = [
    `Created the first client application "${username}".`,
    ...(generatedPassword ? [`Its password (shown once, stored only as a hash): ${generatedPassword}`] : []),
  ];
  process.stdout.write(`\n${lines.join('\n')}\n\n`);
}

/** One process serving until SIGINT or SIGTERM. */
async function serveSingle(config: Readonly<Config>): Promise<void> {
  const { startServer } = await import('../server.js');
  const server = await startServer(config);
  announceBootstrap(server.bootstrap);
  server.app.log.info({ issuer: config.issuer, store: server.auth.store.kind }, `token endpoint at ${config.issuer}/auth/token`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * The primary of several workers: prepares the store once (migrations, signing keys, the server
 * secret check, the first client application, whose password is printed here and only here),
 * then forks the workers and supervises them.
 */
async function serveCluster(config: Readonly<Config>, workers: number): Promise<void> {
  const logger = createLogger(config.logLevel);
  const [{ startServer }, { runPrimary }] = await Promise.all([import('../server.js'), import('../cluster.js')]);
  const prepared = await startServer(config, { listen: false, logger });
  const { bootstrap } = prepared;
  await prepared.close();
  announceBootstrap(bootstrap);
  logger.info(
    { issuer: config.issuer, workers, pid: process.pid },
    `token endpoint at ${config.issuer}/auth/token, served by ${workers} workers`,
  );
  await runPrimary(workers, logger, config);
  process.exit(0);
}

/** `antpeer-auth serve [--workers N]`: the token service, until SIGINT or SIGTERM. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the token endpoint, the JWKS and the gateway')
    .option('--workers <n>', 'worker processes sharing the port (node:cluster); 0 or auto = one per core', '1')
    .action(async (options: { workers: string }) => {
      const config = loadConfig();
      // The server (Fastify, metrics, the gateway) loads only here: the admin commands stay quick.
      const { isClusterWorker, runWorker } = await import('../cluster.js');
      if (isClusterWorker()) {
        await runWorker(config);
        return;
      }
      const workers = parseWorkers(options.workers);
      if (workers <= 1) await serveSingle(config);
      else await serveCluster(config, workers);
    });
}
