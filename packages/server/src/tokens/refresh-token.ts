import { hashToken, hmac, randomSecret } from '../random.js';

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Opaque refresh tokens: 256 random bits for a session's first token; every successor is the
 * HMAC of its predecessor under a server key, so a retry of the same refresh derives the same
 * successor while the store keeps only SHA-256 hashes (DESIGN §2).
 */
export class RefreshTokens {
  constructor(private readonly key: Buffer) {}

  /** A new session's first token. */
  issue(): string {
    return randomSecret();
  }

  /** The token that replaces `token` when it is rotated; the same every time for the same token. */
  successorOf(token: string): string {
    return hmac(this.key, token);
  }

  /** What the store keeps. */
  hash(token: string): string {
    return hashToken(token);
  }

  /** Whether `token` could have been issued by this server at all (checked before any lookup). */
  isWellFormed(token: string): boolean {
    return TOKEN_SHAPE.test(token);
  }
}
