import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAuthService, type AuthService } from './auth-service.js';
import { bootstrapClientApplication, type BootstrapResult } from './bootstrap.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { Argon2Parameters } from './credentials/password-hasher.js';
import { buildApp } from './http/app.js';
import { createLogger } from './logger.js';
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
/** Rows of each kind per purge statement, and most statements of each kind per purge run. */
export const PURGE_BATCH = 1000;
export const PURGE_MAX_BATCHES = 100;

export interface RunningServer {
  app: FastifyInstance;
  auth: AuthService;
  bootstrap: BootstrapResult;
  /** Stops accepting requests, finishes those under way, closes the store. */
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
  const store = options.store ?? (await openStore(config));
  const timers: NodeJS.Timeout[] = [];
  const stoppers: (() => void)[] = [];
  try {
    await prepareStore(store, options.migrate ?? config.migrateOnStart);
    const auth = await createAuthService({ config, store, clock, logger, secret, argon2: options.argon2, hashProbe: options.hashProbe });
    const bootstrap: BootstrapResult = options.bootstrap === false ? { created: false } : await bootstrapClientApplication(auth);
    const app = await buildApp(auth, { isUnavailable: (error) => store.isUnavailableError?.(error) ?? false });
    if (options.listen !== false) await app.listen({ port: config.port, host: config.host });

    timers.push(
      setInterval(() => {
        auth.keys.reload().catch((error: unknown) => logger.warn({ err: error }, 'reloading signing keys failed'));
      }, KEY_RELOAD_MS),
    );
    timers.forEach((timer) => timer.unref());
    if (config.purgeInterval > 0) stoppers.push(schedulePurge(store, config, clock, logger));

    return {
      app,
      auth,
      bootstrap,
      async close() {
        timers.forEach(clearInterval);
        stoppers.forEach((stop) => stop());
        await app.close();
        await Promise.all([store.close(), auth.hasher.close()]);
      },
    };
  } catch (error) {
    timers.forEach(clearInterval);
    await store.close();
    throw error;
  }
}

/**
 * Runs {@link purgeStore} every `purgeInterval` seconds, the first run at a random point of the
 * first interval so that instances started together do not purge in step. A run never overlaps
 * the previous one.
 */
function schedulePurge(store: Store, config: Readonly<Config>, clock: Clock, logger: Logger): () => void {
  const intervalMs = config.purgeInterval * 1000;
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      const result = await purgeStore(store, {
        now: clock.now(),
        auditRetentionDays: config.auditRetention,
        batchSize: PURGE_BATCH,
        maxBatches: PURGE_MAX_BATCHES,
      });
      if (result.expired + result.audit > 0) logger.info(result, 'purged expired rows');
    } catch (error) {
      logger.warn({ err: error }, 'purging expired rows failed');
    } finally {
      running = false;
    }
  };
  let timer = setTimeout(function first() {
    void run();
    timer = setInterval(() => void run(), intervalMs).unref();
  }, Math.floor(Math.random() * intervalMs) + 1).unref();
  return () => clearTimeout(timer);
}
