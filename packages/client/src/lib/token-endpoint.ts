import {
  AntPeerClientError,
  AuthenticationError,
  InvalidResponseError,
  NetworkError,
  RateLimitedError,
  RefreshTokenRejectedError,
  ServerError,
  TimeoutError,
  TokenRequestError,
  type ClientErrorDetails,
} from '../errors.js';
import type { DpopKey } from './dpop.js';
import { redact } from './redact.js';
import { parseRetryAfter } from './retry-after.js';

/** What the HTTP calls to the token service need from the manager. */
export interface EndpointContext {
  fetch: typeof globalThis.fetch;
  now: () => number;
  /** Every secret that must not appear in an error (password, tokens). */
  secrets: () => Iterable<string | undefined>;
}

/** What ends one request early: the manager closing, and a deadline for the answer, body included. */
export interface RequestLimits {
  signal: AbortSignal;
  timeoutMs: number;
}

/** How a token request proves a DPoP key (RFC 9449 §5), and where the server's nonces are kept. */
export interface TokenRequestDpop {
  key: DpopKey;
  /** The latest `DPoP-Nonce` of each origin; updated from every answer. */
  nonces: Map<string, string>;
}

/** A grant request body, exactly as the contract shows it (raw JSON). */
export type GrantBody =
  | { username: string; password: string }
  | { refresh_token: string; grant_type: 'refresh_token' };

/** A successful token answer, parsed; camelCase from here on. */
export interface TokenResponse {
  accessToken: string;
  tokenType: string;
  expiresIn: number | undefined;
  refreshExpiresIn: number | undefined;
  refreshToken: string | undefined;
  sessionState: string | undefined;
  scope: string | undefined;
  notBeforePolicy: number | undefined;
  /** Local time when the request was sent: the server answered after it. */
  sentAt: number;
  /** Local time when the answer arrived. */
  receivedAt: number;
  /** The server's `Date` header, epoch ms (whole seconds), when it had a valid one. */
  serverDate: number | undefined;
}

/**
 * Sends one grant to the token endpoint (RFC 6749 §4.3 password, §6 refresh; JSON body as the
 * AntPeer page shows) and returns the parsed answer, or throws a typed error that says whether
 * sending it again could help.
 */
export async function requestToken(
  context: EndpointContext,
  url: string,
  body: GrantBody,
  limits: RequestLimits,
  dpop?: TokenRequestDpop,
): Promise<TokenResponse> {
  const kind = 'refresh_token' in body ? 'refresh' : 'login';
  let answer = await postJson(context, url, body, limits, await proofHeaders(context, url, dpop));
  // RFC 9449 §8: a server that wants a nonce says so once, with the nonce; retry once with it.
  if (dpop !== undefined && saveNonce(dpop, url, answer.headers) && answer.status === 400 && parseErrorBody(context, answer.text).error === 'use_dpop_nonce') {
    answer = await postJson(context, url, body, limits, await proofHeaders(context, url, dpop));
    saveNonce(dpop, url, answer.headers);
  }
  if (answer.status !== 200) throw errorFromAnswer(context, answer, kind);
  return parseTokenResponse(context, answer, dpop !== undefined);
}

async function proofHeaders(context: EndpointContext, url: string, dpop: TokenRequestDpop | undefined): Promise<Record<string, string>> {
  if (dpop === undefined) return {};
  const nonce = dpop.nonces.get(new URL(url).origin);
  return { dpop: await dpop.key.proof({ htm: 'POST', htu: url, now: context.now(), ...(nonce === undefined ? {} : { nonce }) }) };
}

/** Keeps the answer's `DPoP-Nonce` for the origin; returns whether there was one. */
function saveNonce(dpop: TokenRequestDpop, url: string, headers: Headers): boolean {
  const nonce = headers.get('dpop-nonce');
  if (nonce === null || nonce === '') return false;
  dpop.nonces.set(new URL(url).origin, nonce);
  return true;
}

/**
 * Ends the session on the server (`POST {base}/auth/logout` with the refresh token). A refresh token
 * the server no longer knows (`invalid_grant`) means the session is already over: that is success.
 */
export async function requestLogout(
  context: EndpointContext,
  url: string,
  refreshToken: string,
  limits: RequestLimits,
): Promise<void> {
  const answer = await postJson(context, url, { refresh_token: refreshToken }, limits);
  if (answer.status >= 200 && answer.status < 300) return;
  const error = errorFromAnswer(context, answer, 'logout');
  if (error instanceof RefreshTokenRejectedError) return;
  throw error;
}

interface Answer {
  status: number;
  redirected: boolean;
  headers: Headers;
  text: string;
  sentAt: number;
  receivedAt: number;
}

const TIMED_OUT = Symbol('timed out');

async function postJson(
  context: EndpointContext,
  url: string,
  body: object,
  { signal, timeoutMs }: RequestLimits,
  extraHeaders: Record<string, string> = {},
): Promise<Answer> {
  signal.throwIfAborted();
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(TIMED_OUT), timeoutMs);
  (timer as { unref?: () => void }).unref?.();
  const sentAt = context.now();
  try {
    const response = await context.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...extraHeaders },
      body: JSON.stringify(body),
      // A redirect could carry the password elsewhere (307/308 keep the body): never follow one.
      redirect: 'manual',
      signal: controller.signal,
    });
    // The body is read under the same deadline: a server may stall half-way through it.
    const text = await response.text();
    return {
      status: response.status,
      redirected: response.type === 'opaqueredirect',
      headers: response.headers,
      text,
      sentAt,
      receivedAt: context.now(),
    };
  } catch (error) {
    if (controller.signal.aborted) {
      if (controller.signal.reason === TIMED_OUT) {
        throw new TimeoutError(`No answer from the token service within ${timeoutMs} ms`);
      }
      throw signal.reason;
    }
    throw new NetworkError(`Could not reach the token service: ${describeNetworkError(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

function describeNetworkError(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : 'unknown error';
}

function errorFromAnswer(context: EndpointContext, answer: Answer, kind: 'login' | 'refresh' | 'logout'): AntPeerClientError {
  const what = kind === 'login' ? 'Login' : kind === 'refresh' ? 'Token refresh' : 'Logout';
  const status = answer.status;
  if (answer.redirected || (status >= 300 && status < 400)) {
    return new TokenRequestError(
      `${what} failed: the token service answered with a redirect (${status || 'opaque'}); set baseUrl to the final URL`,
      { status },
    );
  }
  const { error, errorDescription } = parseErrorBody(context, answer.text);
  const details: ClientErrorDetails = {
    status,
    error,
    errorDescription,
    retryAfterMs: parseRetryAfter(answer.headers, answer.receivedAt),
  };
  const message = `${what} failed: ${status}${error ? ` ${error}` : ''}${errorDescription ? ` (${errorDescription})` : ''}`;
  if (status === 429) return new RateLimitedError(message, details);
  if (status >= 500 || status === 408) return new ServerError(message, details);
  if (kind === 'login' && (error === 'invalid_grant' || status === 401)) return new AuthenticationError(message, details);
  if (kind !== 'login' && (error === 'invalid_grant' || status === 401)) return new RefreshTokenRejectedError(message, details);
  return new TokenRequestError(message, details);
}

function parseErrorBody(
  context: EndpointContext,
  text: string,
): { error: string | undefined; errorDescription: string | undefined } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { error: undefined, errorDescription: undefined };
  }
  if (!body || typeof body !== 'object') return { error: undefined, errorDescription: undefined };
  const { error, error_description: description } = body as Record<string, unknown>;
  return {
    // RFC 6749 §5.2: `error` is ASCII without quotes or backslashes; anything else is not a code.
    error: typeof error === 'string' && /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(error) ? redact(error, context.secrets()) : undefined,
    errorDescription: typeof description === 'string' ? redact(description, context.secrets()) : undefined,
  };
}

function parseTokenResponse(context: EndpointContext, answer: Answer, dpopSent: boolean): TokenResponse {
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw new InvalidResponseError('The token service answered 200 with a body that is not JSON', { status: 200 });
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidResponseError('The token service answered 200 with a body that is not a JSON object', { status: 200 });
  }
  const fields = body as Record<string, unknown>;
  const accessToken = fields.access_token;
  if (typeof accessToken !== 'string' || accessToken.length === 0) {
    throw new InvalidResponseError('The token response has no access_token', { status: 200 });
  }
  const tokenType = fields.token_type === undefined ? 'bearer' : fields.token_type;
  // RFC 6749 §5.1: token_type is case-insensitive. Bearer (RFC 6750), or DPoP when a proof was sent (RFC 9449 §5).
  const type = typeof tokenType === 'string' ? tokenType.toLowerCase() : '';
  if (type !== 'bearer' && !(type === 'dpop' && dpopSent)) {
    throw new InvalidResponseError(`The token response has a token_type other than bearer${dpopSent ? ' or DPoP' : ''}`, { status: 200 });
  }
  // The page's table spells it refreshToken, its sample and RFC 6749 refresh_token: accept both.
  const refreshToken = [fields.refresh_token, fields.refreshToken].find(
    (value): value is string => typeof value === 'string' && value.length > 0,
  );
  const serverDate = Date.parse(answer.headers.get('date') ?? '');
  const refreshExpiresIn = seconds(fields.refresh_expires_in);
  return {
    accessToken,
    tokenType: type,
    expiresIn: seconds(fields.expires_in),
    // Keycloak's convention: 0 means the refresh token has no expiry of its own.
    refreshExpiresIn: refreshExpiresIn === 0 ? undefined : refreshExpiresIn,
    refreshToken,
    sessionState: typeof fields.session_state === 'string' ? fields.session_state : undefined,
    scope: typeof fields.scope === 'string' ? fields.scope : undefined,
    notBeforePolicy: seconds(fields['not-before-policy']),
    sentAt: answer.sentAt,
    receivedAt: answer.receivedAt,
    serverDate: Number.isNaN(serverDate) ? undefined : serverDate,
  };
}

/** A non-negative number of seconds, given as a number or a numeric string. */
function seconds(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) && number >= 0 ? number : undefined;
}
