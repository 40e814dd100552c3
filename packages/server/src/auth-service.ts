import { createVerifier, type Verifier } from '@antpeer/guard';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { BruteForceGuard } from './credentials/brute-force.js';
import { PasswordHasher, type Argon2Parameters } from './credentials/password-hasher.js';
import { randomSecret } from './random.js';
import type { Store } from './store/port.js';
import { KeyRing } from './tokens/keys.js';
import { RefreshTokens } from './tokens/refresh-token.js';
import { open, seal } from './tokens/secret-box.js';

/** Everything a grant, a session operation or a route needs; no HTTP, no SQL. */
export interface AuthService {
  readonly config: Readonly<Config>;
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly hasher: PasswordHasher;
  readonly bruteForce: BruteForceGuard;
  readonly keys: KeyRing;
  readonly refreshTokens: RefreshTokens;
  /** Verifies access tokens' signatures and claims against this server's own keys (no store checks). */
  readonly accessTokens: Verifier;
}

export interface AuthServiceOptions {
  config: Readonly<Config>;
  store: Store;
  clock: Clock;
  logger: Logger;
  /** The server secret that seals key material in the store. */
  secret: Buffer;
  /** Overrides the OWASP argon2id parameters (tests use cheaper ones). */
  argon2?: Argon2Parameters;
  /** Fault injection for tests: holds and counts hashes (see `src/test/hash-probe.ts`). */
  hashProbe?: SharedArrayBuffer;
}

const REFRESH_KEY_PURPOSE = 'antpeer refresh-token key';
/** Least time between two reads of the signing keys caused by requests (unknown kids, JWKS fetches). */
export const KEY_REREAD_MS = 1000;

/** Wires the domain over an open, migrated store. */
export async function createAuthService(options: AuthServiceOptions): Promise<AuthService> {
  const { config, store, clock, logger, secret } = options;
  const sealedRefreshKey = await store.getOrCreateSecret(
    'refresh_token_key',
    seal(secret, REFRESH_KEY_PURPOSE, randomSecret()),
  );
  const refreshKey = Buffer.from(open(secret, REFRESH_KEY_PURPOSE, sealedRefreshKey), 'base64url');
  const keys = await KeyRing.open(store, secret, clock, {
    algorithm: config.signingAlgorithm,
    accessTokenTtl: config.accessTokenTtl,
  });
  return {
    config,
    store,
    clock,
    logger,
    hasher: new PasswordHasher(options.argon2, {
      concurrency: config.hashConcurrency,
      queueLimit: config.hashQueue,
      maxWaitMs: config.hashMaxWaitMs,
      now: () => clock.now(),
      probe: options.hashProbe,
    }),
    bruteForce: new BruteForceGuard(store, clock, {
      lockoutThreshold: config.lockoutThreshold,
      lockoutWindowMs: config.lockoutWindow * 1000,
      sourceFailureLimit: config.sourceFailureLimit,
      sourceWindowMs: config.sourceWindow * 1000,
    }),
    keys,
    refreshTokens: new RefreshTokens(refreshKey),
    accessTokens: createVerifier({
      issuer: config.issuer,
      audience: config.audience,
      // The keys are in this process; on an unknown kid (another instance may have rotated) they
      // are re-read from the store, at most once a second however many unknown kids arrive.
      jwks: () => keys.fresh(KEY_REREAD_MS),
      jwksCooldown: 0,
      jwksMaxAge: 30,
      // The not-before policy is checked against the store on every request instead.
      notBeforePolicy: false,
      clockTolerance: 0,
      clock: () => clock.now(),
    }),
  };
}
