// Makes DPoP proofs with jose, as a client nobody here wrote would, with any part overridable so
// tests can break each check of RFC 9449 §4.3 on purpose.
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface ProofKey {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  jkt: string;
}

export async function makeProofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
}

export interface ProofOptions {
  method?: string;
  url?: string;
  accessToken?: string;
  /** Epoch seconds. */
  iat?: number;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  omit?: string[];
  /** Sign with this key while the header carries `key`'s public JWK. */
  signWith?: CryptoKey;
}

export function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export async function makeProof(key: ProofKey, options: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: randomUUID(),
    htm: options.method ?? 'GET',
    htu: options.url ?? 'http://localhost/user/accounts',
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    ...(options.accessToken === undefined ? {} : { ath: ath(options.accessToken) }),
    ...options.claims,
  };
  for (const name of options.omit ?? []) delete claims[name];
  return new SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...options.header } as { alg: string })
    .sign(options.signWith ?? key.privateKey);
}
