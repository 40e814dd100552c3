import type { FastifyReply, FastifyRequest } from 'fastify';
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { Config } from '../config.js';
import { InvalidRequestError, OAuthError, TemporarilyUnavailableError } from '../errors.js';
import { hotSeries, type HotSeries, type Metrics } from '../http/metrics.js';
import { clientResponseHeaders, upstreamRequestHeaders, type GatewayIdentity } from './forwarded-headers.js';
import { UpstreamAbort, type AbortSignalLike } from './upstream-abort.js';
import { QueueFullError, UpstreamQueue, type Release } from './upstream-queue.js';

/** Passes bytes through until more than `limit` have passed, then fails with `tooMuch()`. */
class ByteLimit extends Transform {
  exceeded = false;
  #seen = 0;

  constructor(
    private readonly limit: number,
    private readonly tooMuch: () => Error,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.limit) {
      this.exceeded = true;
      callback(this.tooMuch());
      return;
    }
    callback(null, chunk);
  }
}

/** Why the gateway gave up an upstream request itself. */
const CLIENT_GONE = Symbol('the client went away');
const TOO_LONG = Symbol('the upstream exchange took longer than allowed');

/** undici's codes for an upstream that did not answer in time. */
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function badGateway(): OAuthError {
  return new OAuthError('bad_gateway', 502, 'The upstream service could not be reached');
}

function gatewayTimeout(): OAuthError {
  return new OAuthError('gateway_timeout', 504, 'The upstream service did not answer in time');
}

function bodyTooLarge(reply: FastifyReply, limit: number): OAuthError {
  // The rest of the body is not read: closing is cheaper than draining it.
  reply.header('connection', 'close');
  return new InvalidRequestError(`Request body is larger than ${limit} bytes`, 413);
}

/** The declared body length, or null when there is none (or it is not a number). */
function declaredLength(value: string | string[] | undefined): number | null {
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : null;
}

export type GatewayConfig = Pick<
  Config,
  | 'upstreamTimeout'
  | 'gatewayBodyLimitBytes'
  | 'upstreamForwardAuthorization'
  | 'upstreamForwardCookies'
  | 'upstreamConnections'
  | 'upstreamQueueLimit'
  | 'upstreamQueueTimeoutMs'
  | 'upstreamMaxResponseBytes'
  | 'upstreamMaxDurationMs'
>;

/** Forwards authenticated requests to one upstream service. */
export interface UpstreamProxy {
  /**
   * Sends the request to `path` (already checked, with its query) at the upstream and starts
   * streaming the answer back; rejects with the OAuth error to answer instead.
   */
  forward(request: FastifyRequest, reply: FastifyReply, identity: GatewayIdentity, path: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The gateway's reverse proxy over an undici pool of `upstreamConnections` connections, behind an
 * {@link UpstreamQueue}: a request waits for a connection at most `upstreamQueueTimeoutMs`, behind
 * at most `upstreamQueueLimit` others, else 503; a request whose client goes away leaves the queue
 * or is aborted at the upstream. Bodies stream both ways, the request's capped at
 * `gatewayBodyLimitBytes` (413), the answer's at `upstreamMaxResponseBytes` when set; the whole
 * exchange at `upstreamMaxDurationMs` when set. Nothing of the path or query is logged.
 */
export function createUpstreamProxy(upstream: URL, config: GatewayConfig, metrics: Metrics): UpstreamProxy {
  const timeoutMs = config.upstreamTimeout * 1000;
  const pool = new Pool(upstream.origin, {
    connections: config.upstreamConnections,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    // An https upstream must prove who it is before it is sent the caller's identity.
    connect: { rejectUnauthorized: true },
  });
  const queue = new UpstreamQueue({
    slots: config.upstreamConnections,
    maxWaiting: config.upstreamQueueLimit,
    maxWaitMs: config.upstreamQueueTimeoutMs,
  });
  const unwatchQueue = metrics.watchGatewayQueue(queue);
  const bodyLimit = config.gatewayBodyLimitBytes;
  const forwarding = { forwardAuthorization: config.upstreamForwardAuthorization, forwardCookies: config.upstreamForwardCookies };
  const outcomes = new Map<string, HotSeries>();
  const outcome = (name: string) => {
    let counter = outcomes.get(name);
    if (counter === undefined) outcomes.set(name, (counter = hotSeries(metrics.gatewayRequests, { outcome: name })));
    counter.inc();
  };

  async function forward(request: FastifyRequest, reply: FastifyReply, identity: GatewayIdentity, path: string): Promise<void> {
    const length = declaredLength(request.headers['content-length']);
    if (length !== null && length > bodyLimit) {
      outcome('body_too_large');
      throw bodyTooLarge(reply, bodyLimit);
    }
    const controller = new UpstreamAbort();
    let release: Release = () => undefined;
    let deadline: NodeJS.Timeout | undefined;
    reply.raw.once('close', () => {
      release();
      clearTimeout(deadline);
      if (!reply.raw.writableFinished) controller.abort(CLIENT_GONE);
    });
    const clientGone = () => {
      outcome('client_gone');
      reply.hijack();
    };

    // A free connection is taken at once; only a request that has to wait awaits one.
    const free = queue.tryAcquire();
    if (free !== null) release = free;
    else {
      try {
        release = await queue.acquire(controller);
      } catch (error) {
        if (controller.aborted) return clientGone();
        outcome(error instanceof QueueFullError ? 'queue_full' : 'queue_timeout');
        throw new TemporarilyUnavailableError({ cause: error });
      }
      if (controller.aborted) {
        release();
        return clientGone();
      }
    }

    const hasBody = request.headers['transfer-encoding'] !== undefined || (length !== null && length > 0);
    const body = hasBody ? request.raw.pipe(new ByteLimit(bodyLimit, () => new Error('request body over the limit'))) : null;
    const headers = upstreamRequestHeaders(request, identity, forwarding);
    if (length !== null && hasBody) headers['content-length'] = String(length);
    if (config.upstreamMaxDurationMs > 0) deadline = setTimeout(() => controller.abort(TOO_LONG), config.upstreamMaxDurationMs);

    let answer: Dispatcher.ResponseData;
    try {
      // undici types its signal as an AbortSignal or EventEmitter; it reads what AbortSignalLike has.
      const signal = controller satisfies AbortSignalLike as unknown as AbortSignal;
      answer = await pool.request({ path, method: request.method as Dispatcher.HttpMethod, headers, body, signal });
    } catch (error) {
      if (controller.reason === CLIENT_GONE) return clientGone();
      if (body?.exceeded) {
        outcome('body_too_large');
        throw bodyTooLarge(reply, bodyLimit);
      }
      const code = (error as { code?: string }).code;
      const timedOut = controller.reason === TOO_LONG || (code !== undefined && TIMEOUTS.has(code));
      outcome(timedOut ? 'upstream_timeout' : 'upstream_error');
      request.log.warn({ upstreamError: code ?? (error as Error).name }, 'upstream request failed');
      throw timedOut ? gatewayTimeout() : badGateway();
    }

    const responseLimit = config.upstreamMaxResponseBytes;
    let stream: Readable = answer.body;
    if (responseLimit > 0) {
      if ((declaredLength(answer.headers['content-length']) ?? 0) > responseLimit) {
        answer.body.on('error', () => undefined).destroy();
        outcome('response_too_large');
        request.log.warn({ upstreamError: 'response_too_large' }, 'upstream response over the limit');
        throw badGateway();
      }
      // Over the cap before the answer has started, it is a 502; after, the connection is cut.
      stream = pipeline(answer.body, new ByteLimit(responseLimit, badGateway), () => undefined);
    }
    outcome('forwarded');
    reply.code(answer.statusCode).headers(clientResponseHeaders(answer.headers)).send(stream);
  }

  return {
    forward,
    close: () => {
      unwatchQueue();
      return pool.close();
    },
  };
}
