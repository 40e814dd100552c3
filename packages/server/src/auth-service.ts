import { createHmac } from 'node:crypto';
import { createVerifier, type Verifier } from '@antpeer/guard';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { BruteForceGuard } from './credentials/brute-force.js';
import { PasswordHasher, type Argon2Parameters } from './credentials/password-hasher.js';
import { randomSecret } from './random.js';
import type { SettingsStore, Store } from './store/port.js';
import { KeyRing } from './tokens/keys.js';
import { DpopProofs } from './tokens/dpop-proofs.js';
import { RefreshTokens } from './tokens/refresh-token.js';
import { open, seal } from './tokens/secret-box.js';

/**
 * The composition root: every part of the domain, wired over one store. Functions never take it
 * whole; each names the members it uses (`Pick<AuthService, …>`), so what a function can touch is
 * written in its signature.
 */
export interface AuthService {
  readonly config: Readonly<Config>;
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly hasher: PasswordHasher;
  readonly bruteForce: BruteForceGuard;
  readonly keys: KeyRing;
  readonly refreshTokens: RefreshTokens;
  /** Checks DPoP proofs of token requests and issues DPoP nonces (RFC 9449). */
  readonly dpopProofs: DpopProofs;
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

/** The server-side key behind refresh-token MACs and counter keys, sealed in the store (created on first use). */
export async function openServerKey(settings: SettingsStore, secret: Buffer): Promise<Buffer> {
  const sealed = await settings.getOrCreateSecret('refresh_token_key', seal(secret, REFRESH_KEY_PURPOSE, randomSecret()));
  return Buffer.from(open(secret, REFRESH_KEY_PURPOSE, sealed), 'base64url');
}

/** A key for one purpose, derived from the server key, so no two uses share a key. */
export function deriveKey(serverKey: Buffer, purpose: string): Buffer {
  return createHmac('sha256', serverKey).update(purpose).digest();
}

/** The brute-force accounting over `store`, as configured. */
export function createBruteForceGuard(
  store: Pick<Store, 'counters'>,
  clock: Clock,
  config: Pick<Config, 'bruteForce'>,
  serverKey: Buffer,
  /** Separates one set of counters from another (the web console's sign-ins keep their own). */
  purpose = 'antpeer counter keys',
): BruteForceGuard {
  return new BruteForceGuard(store.counters, clock, config.bruteForce, deriveKey(serverKey, purpose));
}

/** Wires the domain over an open, migrated store; makes the configured algorithm's key the signing key. */
export async function createAuthService(options: AuthServiceOptions): Promise<AuthService> {
  const { config, store, clock, logger, secret } = options;
  const serverKey = await openServerKey(store.settings, secret);
  const keys = await KeyRing.open(store.keys, secret, clock, { accessTokenTtlMs: config.accessTokenTtlMs });
  await keys.ensureSigningKey(config.signingAlgorithm);
  const dpopProofs = new DpopProofs(config.dpop, store.counters, deriveKey(serverKey, 'antpeer dpop'), clock);
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
    bruteForce: createBruteForceGuard(store, clock, config, serverKey),
    keys,
    refreshTokens: new RefreshTokens(serverKey),
    dpopProofs,
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
      // A token issued right after a not-before policy carries the policy's whole second as its
      // `iat`, up to a second ahead of the clock (see sessions/not-before.ts).
      iatTolerance: 1,
      clock: () => clock.now(),
      dpop: {
        algorithms: config.dpop.algorithms,
        proofMaxAge: config.dpop.proofMaxAgeMs / 1000,
        clockTolerance: config.dpop.clockSkewMs / 1000,
        replayCache: dpopProofs.replayCache(),
      },
    }),
  };
}
