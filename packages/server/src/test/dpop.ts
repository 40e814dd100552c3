// DPoP proofs made with jose, as a client nobody here wrote would make them (RFC 9449 §4.2).
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface ProofKey {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  jkt: string;
}

export async function makeProofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
}

export interface ProofClaims {
  htm?: string;
  htu: string;
  /** Epoch milliseconds. */
  now: number;
  accessToken?: string;
  nonce?: string;
  jti?: string;
}

export function makeProof(key: ProofKey, claims: ProofClaims): Promise<string> {
  return new SignJWT({
    jti: claims.jti ?? randomUUID(),
    htm: claims.htm ?? 'POST',
    htu: claims.htu,
    iat: Math.floor(claims.now / 1000),
    ...(claims.accessToken === undefined ? {} : { ath: createHash('sha256').update(claims.accessToken).digest('base64url') }),
    ...(claims.nonce === undefined ? {} : { nonce: claims.nonce }),
  })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk })
    .sign(key.privateKey);
}
