import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  InvalidDpopProofError as RefusedProof,
  verifyDpopProof,
  type DpopProof,
  type DpopReplayCache,
  type InvalidDpopProofReason,
} from '@antpeer/guard';
import type { Clock } from '../clock.js';
import type { DpopPolicy } from '../config.js';
import { InvalidDpopProofError, UseDpopNonceError } from '../errors.js';
import type { CounterStore } from '../store/port.js';

/** What a proof at the token endpoint is checked against. */
export interface TokenRequestTarget {
  method: string;
  /** The URIs this endpoint is addressed by: as configured (the issuer's) and as the request saw it. */
  urls: readonly string[];
}

const NONCE_MAC_BYTES = 16;

/**
 * What the answer says about a refused proof. Unlike a resource server's deliberately vague
 * answer, it names the check: a proof is the client's own statement, and its developer needs to
 * know which part the server disagrees with (RFC 9449 §4.3).
 */
const DESCRIPTIONS: Readonly<Record<InvalidDpopProofReason, string>> = {
  malformed: 'DPoP header missing, repeated, or not a compact JWS',
  type: 'DPoP proof typ is not dpop+jwt',
  algorithm: 'DPoP proof alg is not supported',
  key: 'DPoP proof jwk is not a public key for its alg',
  signature: 'DPoP proof signature does not verify',
  claims: 'DPoP proof lacks jti, htm, htu or iat',
  method: 'DPoP proof htm does not match the request',
  uri: 'DPoP proof htu does not match the request',
  stale: 'DPoP proof iat is outside the acceptance window',
  token_hash: 'DPoP proof ath does not match the access token',
  key_mismatch: 'DPoP proof key does not match',
  replay: 'DPoP proof replayed',
  nonce: 'DPoP proof lacks the current nonce',
};

/**
 * The token endpoint's side of DPoP (RFC 9449 §4.3, §5, §8): checks a proof, refuses a `jti` seen
 * before on any instance (remembered in the shared counter store until the proof is too old to be
 * accepted, so the purge deletes it afterwards), and issues nonces that need no shared state: an
 * HMAC of the current time window under a server key, valid for that window and the next.
 */
export class DpopProofs {
  readonly #policy: DpopPolicy;
  readonly #counters: Pick<CounterStore, 'update'>;
  readonly #key: Buffer;
  readonly #clock: Clock;

  constructor(policy: DpopPolicy, counters: Pick<CounterStore, 'update'>, key: Buffer, clock: Clock) {
    this.#policy = policy;
    this.#counters = counters;
    this.#key = key;
    this.#clock = clock;
  }

  /** Whether proofs must carry a server nonce. */
  get nonceRequired(): boolean {
    return this.#policy.nonce;
  }

  /** The proof algorithms accepted. */
  get algorithms(): readonly string[] {
    return this.#policy.algorithms;
  }

  #nonceMac(window: number): string {
    return createHmac('sha256', this.#key).update(`dpop nonce ${window}`).digest().subarray(0, NONCE_MAC_BYTES).toString('base64url');
  }

  #window(now: number): number {
    return Math.floor(now / this.#policy.proofMaxAgeMs);
  }

  /** The nonce to hand out now (`DPoP-Nonce`). */
  nonce(): string {
    const window = this.#window(this.#clock.now());
    return `${window.toString(36)}.${this.#nonceMac(window)}`;
  }

  #isCurrentNonce(nonce: string | undefined): boolean {
    if (nonce === undefined) return false;
    const match = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/.exec(nonce);
    if (match === null) return false;
    const window = parseInt(match[1] as string, 36);
    const current = this.#window(this.#clock.now());
    if (window !== current && window !== current - 1) return false;
    return timingSafeEqual(Buffer.from(match[2] as string), Buffer.from(this.#nonceMac(window)));
  }

  /**
   * Checks the `DPoP` header of a token request and records its `jti`.
   * @throws {InvalidDpopProofError} for a bad or replayed proof (400 `invalid_dpop_proof`).
   * @throws {UseDpopNonceError} when nonces are on and the proof lacks the current one (400 `use_dpop_nonce`).
   */
  async check(header: string | readonly string[] | undefined, target: TokenRequestTarget): Promise<DpopProof> {
    const now = this.#clock.now();
    let proof: DpopProof | undefined;
    let refusal: unknown;
    for (const url of target.urls) {
      try {
        proof = await verifyDpopProof(header, {
          method: target.method,
          url,
          algorithms: this.#policy.algorithms,
          now,
          maxAge: this.#policy.proofMaxAgeMs / 1000,
          clockTolerance: this.#policy.clockSkewMs / 1000,
          nonce: this.#policy.nonce ? (nonce) => this.#isCurrentNonce(nonce) : undefined,
        });
        break;
      } catch (error) {
        refusal = error;
        if (!(error instanceof RefusedProof && error.reason === 'uri')) break;
      }
    }
    if (proof === undefined) {
      if (refusal instanceof RefusedProof) {
        if (refusal.reason === 'nonce') throw new UseDpopNonceError(this.nonce());
        throw new InvalidDpopProofError(DESCRIPTIONS[refusal.reason], { cause: refusal });
      }
      throw refusal;
    }
    await this.#rememberJti(proof, now);
    return proof;
  }

  async #rememberJti(proof: DpopProof, now: number): Promise<void> {
    if (!(await this.#remember(`${proof.jkt}\0${proof.jti}`, proof.acceptableUntil, now))) {
      throw new InvalidDpopProofError(DESCRIPTIONS.replay, { cause: new Error('jti replayed') });
    }
  }

  /** Records `name` until `until` in the shared counter store; false when it is already there (a replay). */
  #remember(name: string, until: number, now: number): Promise<boolean> {
    // A keyed hash, like every counter key: the store never holds what a client sent.
    const key = `dpop:${createHmac('sha256', this.#key).update(`dpop jti\0${name}`).digest('base64url')}`;
    return this.#counters.update([key], (current) => {
      const seen = current.get(key);
      if (seen !== undefined && seen.resetAt > now) return { result: false, writes: new Map() };
      return { result: true, writes: new Map([[key, { count: 1, resetAt: until }]]) };
    });
  }

  /**
   * The replay cache of the gateway and forward authentication: proofs sent to application
   * endpoints are remembered in the same shared store, so a replay is refused by every instance.
   */
  replayCache(): DpopReplayCache {
    return { remember: (name, until, now) => this.#remember(`resource\0${name}`, until, now) };
  }
}
