import { InvalidTokenError } from '../errors.js';

/** The protected header members the guard reads (RFC 7515 §4.1). */
export interface JoseHeader {
  readonly alg: string;
  readonly kid?: string;
  readonly typ?: string;
  readonly [member: string]: unknown;
}

/** A compact JWS split into what verification needs; nothing in it is trusted yet. */
export interface CompactJws {
  readonly header: JoseHeader;
  readonly signingInput: Buffer;
  readonly payload: string;
  readonly signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodeJsonObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new InvalidTokenError('malformed', `${what} is not base64url-encoded JSON`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidTokenError('malformed', `${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Splits a JWS in compact serialization and decodes its protected header, refusing anything the
 * guard does not implement: other serializations, `alg: none`, an empty signature, and every `crit`
 * extension (RFC 7515 §4.1.11 says a recipient that does not understand one must reject the JWS).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7515#section-7.1 RFC 7515 §7.1}
 */
export function parseCompactJws(token: string): CompactJws {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1 || token.indexOf('.', second + 1) !== -1) {
    throw new InvalidTokenError('malformed', 'not a compact JWS');
  }
  const headerSegment = token.slice(0, first);
  const payload = token.slice(first + 1, second);
  const signatureSegment = token.slice(second + 1);
  if (
    headerSegment.length === 0 ||
    payload.length === 0 ||
    !BASE64URL.test(headerSegment) ||
    !BASE64URL.test(payload) ||
    !BASE64URL.test(signatureSegment)
  ) {
    throw new InvalidTokenError('malformed', 'a JWS segment is empty or not base64url');
  }
  const header = decodeJsonObject(headerSegment, 'the JWS header');
  if (typeof header.alg !== 'string') throw new InvalidTokenError('malformed', 'the JWS header has no alg');
  if (header.alg.toLowerCase() === 'none') throw new InvalidTokenError('unsigned', 'alg none');
  if (signatureSegment.length === 0) throw new InvalidTokenError('unsigned', 'empty signature');
  if (header.crit !== undefined) throw new InvalidTokenError('malformed', 'unsupported crit header');
  if (header.kid !== undefined && typeof header.kid !== 'string') {
    throw new InvalidTokenError('malformed', 'kid is not a string');
  }
  return {
    header: header as JoseHeader,
    signingInput: Buffer.from(token.slice(0, second), 'latin1'),
    payload,
    signature: Buffer.from(signatureSegment, 'base64url'),
  };
}

/** Decodes the (already verified) JWS payload as the JWT claims set (RFC 7519 §7.2 step 10). */
export function decodeClaimsSet(payload: string): Record<string, unknown> {
  return decodeJsonObject(payload, 'the JWT claims set');
}
