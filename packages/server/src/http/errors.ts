import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import {
  InvalidRequestError,
  OAuthError,
  OverloadedError,
  TooManyRequestsError,
  TemporarilyUnavailableError,
  UseDpopNonceError,
} from '../errors.js';

/** Headers on every auth answer, success or error (RFC 6749 §5.1). */
export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/** How long a client should wait when the store is unreachable. */
const UNAVAILABLE_RETRY_AFTER = 5;

function fromFastifyError(error: FastifyError, bodyLimit: number): OAuthError | null {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new InvalidRequestError(`Request body is larger than ${bodyLimit} bytes`, 413);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new InvalidRequestError('Content-Type must be application/json or application/x-www-form-urlencoded');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidRequestError('Request body is empty');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidRequestError('Content-Length does not match the body');
    case 'FST_ERR_BAD_URL':
      return new InvalidRequestError('The request path is not validly percent-encoded');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new InvalidRequestError('The request path is too long', 414);
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new InvalidRequestError('Malformed request', error.statusCode === 413 ? 413 : 400);
  }
  return null;
}

/** Whether an error means the store cannot be reached right now (as opposed to a bug). */
export type UnavailabilityTest = (error: unknown) => boolean;

/**
 * The one error → response map: OAuth errors as RFC 6749 §5.2 JSON; framework errors about the
 * request as `invalid_request`; an unreachable store as 503 with Retry-After; anything else as
 * `server_error` with nothing internal in the body, logged with its cause.
 */
export function createErrorHandler(bodyLimit: number, isUnavailable: UnavailabilityTest) {
  return function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
    let oauth: OAuthError | null = error instanceof OAuthError ? error : fromFastifyError(error, bodyLimit);
    if (!oauth && isUnavailable(error)) oauth = new TemporarilyUnavailableError({ cause: error });
    if (!oauth) {
      request.log.error({ err: error }, 'unexpected error');
      oauth = new OAuthError('server_error', 500, 'Internal server error');
    } else if (oauth.status >= 500 && !(oauth instanceof OverloadedError)) {
      // (Overload refusals come by the hundred under attack: they are counted in /metrics, not logged.)
      request.log.warn({ err: oauth.cause ?? error }, oauth.description);
    }
    reply.code(oauth.status).headers(NO_STORE);
    if (oauth instanceof TooManyRequestsError || oauth instanceof OverloadedError) reply.header('retry-after', String(oauth.retryAfter));
    if (oauth instanceof TemporarilyUnavailableError) reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER));
    if (oauth instanceof UseDpopNonceError) reply.header('dpop-nonce', oauth.nonce);
    reply.send({ error: oauth.error, error_description: oauth.description });
  };
}

/** What the HTTP parser's errors mean for the client, by Node's error code. */
const CLIENT_ERRORS: Readonly<Record<string, readonly [status: number, description: string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'The request was not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'The request headers are too large'],
};

/** A complete HTTP/1.1 answer in the OAuth error shape, written on a raw socket. */
function rawErrorResponse(status: number, description: string): string {
  const body = JSON.stringify({ error: 'invalid_request', error_description: description });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nConnection: close\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/**
 * Node's `clientError`: a request the HTTP parser refused (malformed framing, an unknown method,
 * conflicting lengths, a timeout) gets an `invalid_request` answer, never Node's or Fastify's own
 * shape, and the connection is closed. Only the error code is logged: the parser's error carries
 * the raw bytes of the request, credentials included.
 */
export function createClientErrorHandler(logger: FastifyBaseLogger) {
  return function answerClientError(error: Error & { code?: string }, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    logger.debug({ clientError: error.code ?? 'unknown' }, 'refused a malformed request');
    const [status, description] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Malformed HTTP request'];
    // An answer already under way on this connection cannot be replaced by another.
    const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !answering) socket.end(rawErrorResponse(status, description), () => socket.destroy());
    else socket.destroy();
  };
}
