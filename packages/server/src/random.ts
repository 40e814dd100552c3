import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';

/** 256 bits from the CSPRNG, base64url: the body of every opaque token and secret. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** A random UUID (v4) for users, sessions and token ids. */
export function randomId(): string {
  return randomUUID();
}

/** SHA-256 of a high-entropy token, base64url: what the store keeps instead of the token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** HMAC-SHA256 of `data` under `key`, base64url. */
export function hmac(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('base64url');
}
