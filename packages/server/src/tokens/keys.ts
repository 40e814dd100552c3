import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Clock } from '../clock.js';
import type { SigningAlgorithm } from '../config.js';
import type { KeyStore, StoredKey } from '../store/port.js';
import { encodeProtectedHeader } from './access-token.js';
import { jwsSigner, type JwsSigner } from './jws-signer.js';
import { open, seal } from './secret-box.js';

const SEAL_PURPOSE = 'antpeer signing key';
/** How long a retired key stays published beyond the lifetime of the last token it may have signed. */
const PUBLISH_MARGIN_MS = 5 * 60_000;

/** The key that signs new access tokens. */
export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  /** Signs a JWS signing input with the key's private half. */
  sign: JwsSigner;
  /** The protected header of the tokens it signs, in base64url. */
  encodedHeader: string;
  /** When it was created (ms): its age is what a rotation policy watches. */
  createdAt: number;
}

/** RFC 7517 JSON Web Key Set. */
export interface JsonWebKeySet {
  keys: JWK[];
}

function generate(alg: SigningAlgorithm): { publicKey: KeyObject; privateKey: KeyObject } {
  switch (alg) {
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
}

/**
 * The signing keys, kept sealed in the store so every instance signs with the same key and
 * publishes the same JWKS. Created at first start, rotated by command; a retired key stays in
 * the JWKS until every token it signed has expired.
 */
export class KeyRing {
  #active: SigningKey | null = null;
  #jwks: JsonWebKeySet = { keys: [] };
  #stored: StoredKey[] = [];
  /** When the last read from the store began (clock ms); a failed read counts, so an outage is not hammered. */
  #readAt = Number.NEGATIVE_INFINITY;
  #reading: Promise<void> | null = null;

  private constructor(
    private readonly store: KeyStore,
    private readonly secret: Buffer,
    private readonly clock: Clock,
    private readonly options: { accessTokenTtlMs: number },
  ) {}

  /** Loads the keys from the store; changes nothing (see {@link ensureSigningKey}). */
  static async open(store: KeyStore, secret: Buffer, clock: Clock, options: { accessTokenTtlMs: number }): Promise<KeyRing> {
    const ring = new KeyRing(store, secret, clock, options);
    await ring.reload();
    return ring;
  }

  /**
   * Makes a key of `algorithm` the signing key: creates the first key, or rotates when the
   * configured algorithm changed (the old key stays published). Only a server starting up calls
   * this; an admin command that merely reads never changes the keys.
   */
  async ensureSigningKey(algorithm: SigningAlgorithm): Promise<void> {
    if (!this.#active || this.#active.alg !== algorithm) await this.rotate(algorithm);
  }

  /** Re-reads the keys from the store (another instance or the CLI may have rotated them). */
  async reload(): Promise<void> {
    this.#readAt = this.clock.now();
    this.#stored = await this.store.list();
    const current = this.#stored.find((key) => key.retiredAt === null);
    if (current && current.kid !== this.#active?.kid) {
      const pem = open(this.secret, SEAL_PURPOSE, current.sealedPrivateKey);
      const alg = current.alg as SigningAlgorithm;
      this.#active = { kid: current.kid, alg, sign: jwsSigner(alg, createPrivateKey(pem)), encodedHeader: encodeProtectedHeader(alg, current.kid), createdAt: current.createdAt };
    }
    this.#refreshJwks();
  }

  /**
   * The published keys, re-read from the store first when the last read is older than `maxAgeMs`:
   * another instance (or the CLI) may have rotated, and a token it signed must verify here too.
   * Concurrent callers share one read; a read slower than `waitMs` (the store is down) or a failed
   * one leaves the keys already held, which is what access-token verification needs during an outage.
   */
  async fresh(maxAgeMs: number, waitMs = 1000): Promise<JsonWebKeySet> {
    if (this.clock.now() - this.#readAt >= maxAgeMs) {
      this.#reading ??= this.reload()
        .catch(() => undefined)
        .finally(() => {
          this.#reading = null;
        });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#reading, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    }
    return this.#jwks;
  }

  #refreshJwks(): void {
    const horizon = this.clock.now() - this.options.accessTokenTtlMs - PUBLISH_MARGIN_MS;
    this.#jwks = {
      keys: this.#stored
        .filter((key) => key.retiredAt === null || key.retiredAt > horizon)
        .map((key) => ({ ...key.publicJwk, kid: key.kid, alg: key.alg, use: 'sig' }) as JWK),
    };
  }

  /** Creates a new signing key of `alg`; the previous one stops signing and stays published. */
  async rotate(alg: SigningAlgorithm): Promise<string> {
    const { publicKey, privateKey } = generate(alg);
    const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await this.store.addRetiringOthers({
      kid,
      alg,
      publicJwk: publicJwk as Record<string, unknown>,
      sealedPrivateKey: seal(this.secret, SEAL_PURPOSE, pem),
      createdAt: this.clock.now(),
      retiredAt: null,
    });
    await this.reload();
    return kid;
  }

  /** The key that signs new tokens. */
  signingKey(): SigningKey {
    if (!this.#active) throw new Error('KeyRing has no active key');
    return this.#active;
  }

  /** The public keys to publish at `{base}/auth/certs` (RFC 7517). */
  jwks(): JsonWebKeySet {
    return this.#jwks;
  }
}
