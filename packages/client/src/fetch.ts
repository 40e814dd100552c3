import { isInvalidTokenChallenge, isNonceChallenge } from './lib/www-authenticate.js';

/** What the authorized fetch needs from the token manager. */
export interface AccessTokenSource {
  fetch: typeof globalThis.fetch;
  /** Resolves the request target; throws a TypeError for an origin that must not get the token. */
  resolve(input: string | URL | Request): URL;
  accessToken(signal: AbortSignal | undefined): Promise<string>;
  /**
   * The headers that present `token` for a request: `Authorization: Bearer …`, or for a DPoP-bound
   * token `Authorization: DPoP …` with a fresh `DPoP` proof of this method and URI (RFC 9449 §7).
   */
  credentials(token: string, method: string, url: URL): Promise<Record<string, string>>;
  /** Sees every answer, to keep a resource server's `DPoP-Nonce`. */
  onResponse(url: URL, response: Response): void;
  /** A replacement for a token the resource server refused, or undefined when there is none to try. */
  replaceRejected(token: string, signal: AbortSignal | undefined): Promise<string | undefined>;
  onRetry(status: number): void;
}

/**
 * Builds `fetch` with `Authorization: Bearer <token>` (RFC 6750 §2.1), or `DPoP <token>` with a
 * proof for a DPoP-bound token (RFC 9449 §7; a `use_dpop_nonce` challenge gets one retry with the
 * server's nonce). A 401 whose challenge says
 * `error="invalid_token"` (RFC 6750 §3.1) gets one replaced token and one retry; a second 401 is the
 * caller's answer. A body that cannot be sent twice (a stream) is never retried, but the token is
 * still replaced for the next call.
 */
export function createAuthorizedFetch(
  source: AccessTokenSource,
): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  return async function authorizedFetch(input, init) {
    const target = source.resolve(input);
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const send = async (token: string): Promise<Response> => {
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
      for (const [name, value] of Object.entries(await source.credentials(token, method, target))) headers.set(name, value);
      const response = await source.fetch(input instanceof Request ? input : target.href, { ...init, headers });
      source.onResponse(target, response);
      return response;
    };

    const token = await source.accessToken(signal);
    let response = await send(token);
    // RFC 9449 §9: a resource server that wants a nonce in the proof says so once; retry once with it.
    if (response.status === 401 && isNonceChallenge(response.headers.get('www-authenticate')) && response.headers.has('dpop-nonce') && isReplayable(input, init)) {
      await response.body?.cancel().catch(() => undefined);
      response = await send(token);
    }
    if (response.status !== 401 || !isInvalidTokenChallenge(response.headers.get('www-authenticate'))) {
      return response;
    }
    if (!isReplayable(input, init)) {
      void source.replaceRejected(token, undefined);
      return response;
    }
    const replacement = await source.replaceRejected(token, signal);
    if (replacement === undefined) return response;
    await response.body?.cancel().catch(() => undefined);
    source.onRetry(response.status);
    return send(replacement);
  };
}

/** Whether the request body can be sent a second time (not a one-shot stream). */
export function isReplayable(input: string | URL | Request, init: RequestInit | undefined): boolean {
  if (init?.body === undefined || init.body === null) {
    return !(input instanceof Request && input.body !== null);
  }
  const body: unknown = init.body;
  return (
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    (typeof FormData !== 'undefined' && body instanceof FormData)
  );
}
