import { VerifierUnavailableError } from '../errors.js';

/** How the verifier talks to the issuer. */
export interface FetchJsonOptions {
  readonly fetch: typeof globalThis.fetch;
  /** Seconds before a request is abandoned. */
  readonly timeout: number;
}

/** Documents from the issuer are small; anything bigger is not what we asked for. */
const MAX_DOCUMENT_BYTES = 512 * 1024;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

let insecureHttpWarned = false;

/**
 * Validates a URL the verifier will fetch keys or metadata from: `https:`, or `http:` on loopback,
 * or `http:` anywhere only with the unsafe switch, which warns once per process.
 */
export function checkIssuerUrl(value: string | URL, option: string, dangerouslyAllowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${option} must be an absolute URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol !== 'http:') throw new TypeError(`${option} must be an https: URL`);
  if (LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith('127.')) return url;
  if (!dangerouslyAllowInsecureHttp) {
    throw new TypeError(`${option} must be an https: URL (http: is only allowed on loopback; see dangerouslyAllowInsecureHttp)`);
  }
  if (!insecureHttpWarned) {
    insecureHttpWarned = true;
    process.emitWarning(
      `@antpeer/guard fetches ${option} over plain http (${url.origin}); keys and revocation policy can be forged in transit`,
      { code: 'ANTPEER_GUARD_INSECURE_HTTP' },
    );
  }
  return url;
}

/**
 * GETs a JSON object from the issuer, bounded in time and size. Every failure becomes a
 * {@link VerifierUnavailableError}; the verifier decides whether to keep what it had.
 */
export async function fetchJsonObject(url: URL, options: FetchJsonOptions): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const response = await options.fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeout * 1000),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > MAX_DOCUMENT_BYTES) {
      await response.body?.cancel();
      throw new Error('response too large');
    }
    text = await response.text();
    if (text.length > MAX_DOCUMENT_BYTES) throw new Error('response too large');
  } catch (cause) {
    throw new VerifierUnavailableError(`fetching ${url.href} failed`, { cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new VerifierUnavailableError(`${url.href} did not answer JSON`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VerifierUnavailableError(`${url.href} did not answer a JSON object`);
  }
  return value as Record<string, unknown>;
}
