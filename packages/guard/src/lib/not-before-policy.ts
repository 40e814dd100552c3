import { GuardError, VerifierUnavailableError } from '../errors.js';
import { fetchJsonObject, type FetchJsonOptions } from './fetch-json.js';

/** Where the not-before policy comes from: the issuer's RFC 8414 metadata, a function, or nowhere. */
export type PolicySource =
  | { readonly kind: 'metadata'; readonly url: URL; readonly issuer: string; readonly http: FetchJsonOptions }
  | { readonly kind: 'function'; readonly get: () => number | Promise<number> }
  | { readonly kind: 'none' };

/**
 * The issuer's realm-wide not-before policy (epoch seconds; 0 = never set), re-read at most once per
 * interval and only when a verification needs it: no timer is involved, the injected clock decides.
 * Once known, a failed refresh keeps the last value and is retried after `retryInterval`; before it
 * is known, nothing can be verified.
 */
export class NotBeforePolicy {
  /** The policy in force: tokens with `iat` below it are revoked. */
  value = 0;
  /** Whether {@link value} ever came from the source. */
  known: boolean;
  /** Epoch milliseconds at which the value must be refreshed before it is relied upon again. */
  dueAt: number;
  readonly #source: PolicySource;
  readonly #clock: () => number;
  readonly #intervalMs: number;
  readonly #retryMs: number;
  #inflight: Promise<void> | undefined;

  constructor(source: PolicySource, clock: () => number, intervalSeconds: number, retrySeconds: number) {
    this.#source = source;
    this.#clock = clock;
    this.#intervalMs = intervalSeconds * 1000;
    this.#retryMs = Math.min(intervalSeconds, retrySeconds) * 1000;
    this.known = source.kind === 'none';
    this.dueAt = source.kind === 'none' ? Number.POSITIVE_INFINITY : 0;
  }

  /** Refreshes the policy if it is due (one request however many callers), then requires it known. */
  async ensureFresh(): Promise<void> {
    if (this.#clock() >= this.dueAt) await (this.#inflight ??= this.#refresh());
    if (!this.known) throw new VerifierUnavailableError('the not-before policy is not known yet');
  }

  /** Re-reads the policy now, whether due or not. */
  refreshNow(): Promise<void> {
    return (this.#inflight ??= this.#refresh());
  }

  async #refresh(): Promise<void> {
    try {
      const value = await this.#read();
      this.value = value;
      this.known = true;
      this.dueAt = this.#clock() + this.#intervalMs;
    } catch (error) {
      this.dueAt = this.#clock() + this.#retryMs;
      if (!this.known) throw error instanceof GuardError ? error : new VerifierUnavailableError('reading the not-before policy failed', { cause: error });
    } finally {
      this.#inflight = undefined;
    }
  }

  async #read(): Promise<number> {
    const source = this.#source;
    if (source.kind === 'none') return 0;
    const value = source.kind === 'function' ? await source.get() : await readMetadataPolicy(source);
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new VerifierUnavailableError('the not-before policy is not a non-negative integer');
    }
    return value;
  }
}

/**
 * Reads `not_before_policy` from the issuer's RFC 8414 metadata, after checking that the document is
 * the issuer's own (RFC 8414 §3.3). A server that publishes no policy has none (0).
 */
async function readMetadataPolicy(source: Extract<PolicySource, { kind: 'metadata' }>): Promise<number> {
  const metadata = await fetchJsonObject(source.url, source.http);
  if (metadata.issuer !== source.issuer) {
    throw new VerifierUnavailableError(`${source.url.href} describes another issuer`);
  }
  const policy = metadata.not_before_policy;
  return policy === undefined ? 0 : (policy as number);
}
