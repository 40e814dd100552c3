import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../errors.js';
import type { Source } from '../store/port.js';

/** The parameters the auth endpoints read (RFC 6749, 7009, 7662); only these are ever named in an error. */
const KNOWN_PARAMETERS = new Set(['grant_type', 'username', 'password', 'refresh_token', 'token', 'token_type_hint', 'client_id', 'client_secret', 'scope']);

/** The request parameters of the auth endpoints, as strings or absent; anything else was refused. */
export type Parameters = Record<string, unknown>;

const FORM = 'application/x-www-form-urlencoded';

/**
 * Body parsers for the auth endpoints: raw JSON (the contract) and form encoding (RFC 6749 §4.3,
 * §6). Every other content type, a body that is not a JSON object and a repeated form field are
 * `invalid_request` (RFC 6749 §3.2: "Request and response parameters MUST NOT be included more
 * than once").
 */
export function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body as string);
    } catch {
      done(new InvalidRequestError('Request body is not valid JSON'));
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      done(new InvalidRequestError('Request body must be a JSON object'));
      return;
    }
    done(null, parsed);
  });
  app.addContentTypeParser(FORM, { parseAs: 'string' }, (_request, body, done) => {
    const parsed: Parameters = Object.create(null) as Parameters;
    for (const [name, value] of new URLSearchParams(body as string)) {
      if (Object.hasOwn(parsed, name)) {
        // Named back only when it is one of ours: a field name is client text, and could be a token.
        done(new InvalidRequestError(KNOWN_PARAMETERS.has(name) ? `Duplicated parameter: ${name}` : 'Duplicated parameter'));
        return;
      }
      parsed[name] = value;
    }
    done(null, parsed);
  });
  app.addContentTypeParser('*', (_request, _payload, done) => {
    done(new InvalidRequestError('Content-Type must be application/json or application/x-www-form-urlencoded'));
  });
}

/** The parsed body of an auth request; refuses a request that has none. */
export function readParameters(request: FastifyRequest): Parameters {
  const body = request.body;
  if (body === undefined || body === null || typeof body !== 'object') {
    throw new InvalidRequestError('Content-Type must be application/json or application/x-www-form-urlencoded');
  }
  return body as Parameters;
}

/** Whether the request was form-encoded (answers then follow RFC 6749 strictly). */
export function isFormRequest(request: FastifyRequest): boolean {
  return (request.headers['content-type'] ?? '').toLowerCase().startsWith(FORM);
}

/**
 * A parameter that must be a non-empty string when present. Returns undefined when absent.
 * @throws {InvalidRequestError} when present with another type.
 */
export function optionalString(parameters: Parameters, name: string): string | undefined {
  if (!Object.hasOwn(parameters, name)) return undefined;
  const value = parameters[name];
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new InvalidRequestError(`Invalid parameter: ${name} must be a string`);
  return value;
}

/** Where the request came from, for sessions and audit events. */
export function requestSource(request: FastifyRequest): Source {
  const userAgent = request.headers['user-agent'];
  return { address: request.ip, userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 256) : '' };
}
