import { randomBytes, randomUUID } from 'node:crypto';

/** What a 32-byte secret looks like in base64url without padding (as {@link randomSecret} makes it). */
export const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** 256 bits from the CSPRNG, base64url: the body of every opaque token and secret. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** A random UUID (v4) for users, sessions and token ids. */
export function randomId(): string {
  return randomUUID();
}
