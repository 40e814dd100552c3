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
import { loadServerSecret } from './tokens/server-secret.js';

/** How often an instance re-reads the signing keys (another instance or the CLI may rotate them). */
const KEY_RELOAD_MS = 30_000;
/** How often expired sessions, tokens and counters are purged, and how many rows at a time. */
const PURGE_EVERY_MS = 10 * 60_000;
const PURGE_BATCH = 1000;

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
  /** Listen on `config.host:config.port`; false builds the app for `inject()` only. */
  listen?: boolean;
}

/** Opens the store, prepares keys and the first client application, and serves the contract. */
export async function startServer(config: Readonly<Config>, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const secret = loadServerSecret(config);
  const store = options.store ?? (await openStore(config));
  const timers: NodeJS.Timeout[] = [];
  try {
    await store.migrate();
    const auth = await createAuthService({ config, store, clock, logger, secret, argon2: options.argon2 });
    const bootstrap = await bootstrapClientApplication(auth);
    const app = await buildApp(auth);
    if (options.listen !== false) await app.listen({ port: config.port, host: config.host });

    timers.push(
      setInterval(() => {
        auth.keys.reload().catch((error: unknown) => logger.warn({ err: error }, 'reloading signing keys failed'));
      }, KEY_RELOAD_MS),
      setInterval(() => {
        store
          .purgeExpired(clock.now(), PURGE_BATCH)
          .catch((error: unknown) => logger.warn({ err: error }, 'purging expired rows failed'));
      }, PURGE_EVERY_MS),
    );
    timers.forEach((timer) => timer.unref());

    return {
      app,
      auth,
      bootstrap,
      async close() {
        timers.forEach(clearInterval);
        await app.close();
        await store.close();
      },
    };
  } catch (error) {
    timers.forEach(clearInterval);
    await store.close();
    throw error;
  }
}
