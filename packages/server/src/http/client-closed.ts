import type { FastifyReply } from 'fastify';
import { OAuthError } from '../errors.js';

/**
 * The caller closed its connection before its answer was sent, so the work for it was dropped
 * (nginx's 499). Nobody receives this answer; it names the outcome in metrics and is not logged.
 */
export class ClientClosedError extends OAuthError {
  constructor() {
    super('client_closed_request', 499, 'The client closed the connection before the answer');
  }
}

/**
 * A signal that aborts, with {@link ClientClosedError}, when the connection of `reply` closes before
 * the answer is complete: expensive work such as a password hash is then not started for a caller
 * that is gone.
 */
export function abortWhenClientCloses(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  const closed = () => {
    if (!response.writableFinished) controller.abort(new ClientClosedError());
  };
  // The connection may have closed while the body was read, before this listener existed.
  if (response.destroyed || response.socket?.destroyed) closed();
  else response.once('close', closed);
  return controller.signal;
}
