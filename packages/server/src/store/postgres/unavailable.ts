/**
 * Socket errors and SQLSTATEs that mean "PostgreSQL cannot be reached right now" (the request may
 * be retried once it is back), as opposed to a bug or a constraint. SQLSTATE class 08 is
 * "connection exception"; 57P01–57P03 are the server shutting down, crashed or still starting;
 * 53300 is "too many connections".
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  // statement_timeout and lock_timeout fired: the database is there but busy; retry later.
  '57014',
  '55P03',
]);

/**
 * node-postgres reports a dropped connection, a pool that cannot connect in time and a client
 * broken by an earlier socket error with plain `Error`s that carry no code: their messages are
 * all there is to go on.
 */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /is not queryable/,
  /^Query read timeout/,
];

/** How deep to follow `cause` and `AggregateError.errors` (Node wraps multi-address connect failures). */
const MAX_DEPTH = 4;

/**
 * Whether `error`, thrown by node-postgres (or wrapped around one), means the database is
 * unreachable for now: connection refused or reset, an administrator shutdown, a restart in
 * progress, any SQLSTATE of class 08, a pool connect timeout.
 */
export function isPostgresUnavailableError(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > MAX_DEPTH) return false;
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (typeof message === 'string' && typeof code !== 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) {
    return true;
  }
  if (Array.isArray(errors) && errors.some((inner) => isPostgresUnavailableError(inner, depth + 1))) return true;
  return isPostgresUnavailableError(cause, depth + 1);
}
