import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM sealing of key material under the server secret, so that a copy of the database
 * alone holds nothing that can sign a token or derive a refresh token. `purpose` is bound as
 * associated data: a value sealed for one use cannot be opened as another.
 */
export function seal(secret: Buffer, purpose: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', secret, iv);
  cipher.setAAD(Buffer.from(purpose));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** Opens a value sealed by {@link seal}; throws {@link SealedWithOtherSecretError} when it cannot. */
export function open(secret: Buffer, purpose: string, sealed: string): string {
  const [version, iv, body, tag] = sealed.split('.');
  if (version !== 'v1' || !iv || body === undefined || !tag) throw new SealedWithOtherSecretError();
  try {
    const decipher = createDecipheriv('aes-256-gcm', secret, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new SealedWithOtherSecretError();
  }
}

/** The store holds key material sealed under a different server secret. */
export class SealedWithOtherSecretError extends Error {
  constructor() {
    super(
      'the store holds keys sealed with a different server secret: every instance must use the same ' +
        'ANTPEER_SECRET (or the same secret.key file in ANTPEER_DATA_DIR)',
    );
    this.name = 'SealedWithOtherSecretError';
  }
}
