import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { PresentedToken } from '../sessions/rotation.js';

const SESSION_ID_BYTES = 16;
const GENERATION_BYTES = 4;
const MAC_BYTES = 32;
const BODY_BYTES = SESSION_ID_BYTES + GENERATION_BYTES;
/** A SHA-256 JWK thumbprint (RFC 7638), raw. */
const JKT_BYTES = 32;
/** 52 bytes in base64url without padding; 84 for a DPoP-bound token. */
const TOKEN_SHAPE = /^(?:[A-Za-z0-9_-]{70}|[A-Za-z0-9_-]{112})$/;
const JKT_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_GENERATION = 2 ** 32 - 1;
/** Binds the MAC to this use, so no other MAC under the same key can pass as a refresh token. */
const MAC_CONTEXT = Buffer.from('antpeer refresh token v1\0');
/** A bound token's MAC covers the key thumbprint too, under a context of its own (RFC 9449 §5). */
const BOUND_MAC_CONTEXT = Buffer.from('antpeer refresh token v1 dpop\0');

/** A refresh token as its MAC proved it, with the DPoP key it is bound to (`null`: a bearer token). */
export interface PresentedRefreshToken extends PresentedToken {
  /** The JWK SHA-256 thumbprint of the key every refresh of the session must prove (RFC 9449 §5). */
  jkt: string | null;
}

/**
 * Self-describing refresh tokens (DESIGN §2): the session id, the token's generation in the
 * session's chain, and an HMAC-SHA256 of both under a server key sealed in the store. The store
 * keeps one row per session, whatever the number of rotations; a retry of a rotation mints the same
 * token again; and a forged or garbled token is refused by the MAC before the store is touched.
 * The MAC gives the token its 256 unguessable bits; without the key, knowing one token of a chain
 * tells nothing about the next. A token of a session bound to a DPoP key also carries the key's
 * thumbprint under the MAC: the binding needs no storage, and cannot be removed or changed.
 */
export class RefreshTokens {
  /** A KeyObject rather than the bytes: each MAC then skips copying the key in (a microsecond of the two a grant makes). */
  readonly #key: KeyObject;

  constructor(key: Buffer) {
    if (key.length < 32) throw new TypeError('the refresh-token key must be at least 32 bytes');
    this.#key = createSecretKey(key);
  }

  #mac(body: Buffer): Buffer {
    return createHmac('sha256', this.#key)
      .update(body.length === BODY_BYTES ? MAC_CONTEXT : BOUND_MAC_CONTEXT)
      .update(body)
      .digest();
  }

  /**
   * The token of generation `generation` of session `sessionId` (a UUID), bound to the DPoP key of
   * thumbprint `jkt` when one is given; the same every time.
   */
  mint(sessionId: string, generation: number, jkt: string | null = null): string {
    if (!UUID_SHAPE.test(sessionId)) throw new TypeError('a session id must be a lower-case UUID');
    if (!Number.isInteger(generation) || generation < 0 || generation > MAX_GENERATION) {
      throw new TypeError('a generation must be an integer from 0 to 2^32-1');
    }
    if (jkt !== null && !JKT_SHAPE.test(jkt)) throw new TypeError('a jkt must be a base64url SHA-256 thumbprint');
    const body = Buffer.alloc(jkt === null ? BODY_BYTES : BODY_BYTES + JKT_BYTES);
    body.write(sessionId.replaceAll('-', ''), 0, 'hex');
    body.writeUInt32BE(generation, SESSION_ID_BYTES);
    if (jkt !== null) Buffer.from(jkt, 'base64url').copy(body, BODY_BYTES);
    return Buffer.concat([body, this.#mac(body)]).toString('base64url');
  }

  /** What `token` names, or null when it is not a token this server minted. */
  read(token: string): PresentedRefreshToken | null {
    if (!TOKEN_SHAPE.test(token)) return null;
    const bytes = Buffer.from(token, 'base64url');
    const bodyBytes = bytes.length - MAC_BYTES;
    // base64url has more than one spelling of the last character's spare bits: accept only ours.
    if ((bodyBytes !== BODY_BYTES && bodyBytes !== BODY_BYTES + JKT_BYTES) || bytes.toString('base64url') !== token) return null;
    const body = bytes.subarray(0, bodyBytes);
    if (!timingSafeEqual(bytes.subarray(bodyBytes), this.#mac(body))) return null;
    const hex = body.toString('hex', 0, SESSION_ID_BYTES);
    return {
      sessionId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
      generation: body.readUInt32BE(SESSION_ID_BYTES),
      jkt: bodyBytes === BODY_BYTES ? null : body.subarray(BODY_BYTES).toString('base64url'),
    };
  }
}
