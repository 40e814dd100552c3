/**
 * DPoP proofs (RFC 9449) signed with WebCrypto: no dependency and no `node:` import, so they work
 * wherever `crypto.subtle` does (Node 20, browsers, Deno, workers).
 *
 * @module
 */

/** A JSON Web Key (RFC 7517), as WebCrypto exports it. */
export interface Jwk {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
  [member: string]: unknown;
}

/** WebCrypto's key object, named without the DOM library (the package must not depend on it). */
type CryptoKeyObject = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
type KeyPair = { privateKey: CryptoKeyObject; publicKey: CryptoKeyObject };
type SubtleAlgorithm = Parameters<typeof crypto.subtle.sign>[0];

/** The proof algorithms the client can sign with: Ed25519 (`EdDSA`) or P-256 (`ES256`). */
export type DpopAlgorithm = 'EdDSA' | 'ES256';

/**
 * A DPoP key as a token store keeps it (a private JWK, with its public members): only when the
 * store must carry the key to another process or a restart. Holds a secret: a store keeps it like
 * the refresh token beside it (the file store: mode 0600).
 */
export interface DpopKeyRecord {
  alg: DpopAlgorithm;
  privateJwk: Jwk;
}

const PARAMS: Readonly<Record<DpopAlgorithm, { generate: SubtleAlgorithm & { namedCurve?: string }; sign: SubtleAlgorithm }>> = {
  EdDSA: { generate: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  ES256: { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
};

const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] };

const encoder = new TextEncoder();

/** base64url without padding (RFC 7515 §2). */
export function base64url(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = '';
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function encodeJson(value: unknown): string {
  return base64url(encoder.encode(JSON.stringify(value)));
}

async function sha256(text: string): Promise<string> {
  return base64url(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

function publicMembers(jwk: Jwk): Jwk {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''] ?? [];
  const result: Record<string, unknown> = {};
  for (const name of members) result[name] = (jwk as Record<string, unknown>)[name];
  return result as Jwk;
}

/** What a proof states about the request it accompanies (RFC 9449 §4.2). */
export interface ProofClaims {
  /** The request method. */
  htm: string;
  /** The request URI; its query and fragment are dropped. */
  htu: string | URL;
  /** The access token the request carries (`ath`). */
  accessToken?: string;
  /** The server's latest `DPoP-Nonce`. */
  nonce?: string;
  /** Epoch milliseconds. */
  now: number;
}

/**
 * A key that signs DPoP proofs; its private half is a non-extractable `CryptoKey`: the code that
 * holds a `DpopKey` can sign with it but never read it.
 */
export class DpopKey {
  readonly alg: DpopAlgorithm;
  /** The public key, as proofs carry it in their `jwk` header. */
  readonly publicJwk: Jwk;
  /** Its JWK SHA-256 thumbprint (RFC 7638): what the server binds tokens to (`cnf.jkt`). */
  readonly jkt: string;
  readonly #privateKey: CryptoKeyObject;
  readonly #header: string;

  private constructor(alg: DpopAlgorithm, privateKey: CryptoKeyObject, publicJwk: Jwk, jkt: string) {
    this.alg = alg;
    this.#privateKey = privateKey;
    this.publicJwk = publicJwk;
    this.jkt = jkt;
    this.#header = encodeJson({ typ: 'dpop+jwt', alg, jwk: publicJwk });
  }

  static async #create(alg: DpopAlgorithm, privateKey: CryptoKeyObject, jwk: Jwk): Promise<DpopKey> {
    const publicJwk = publicMembers(jwk);
    return new DpopKey(alg, privateKey, publicJwk, await sha256(JSON.stringify(publicJwk)));
  }

  /**
   * Generates a key. With `exportable`, also returns its {@link DpopKeyRecord} for a store that must
   * keep it; the key used to sign is imported again as non-extractable either way.
   */
  static async generate(alg: DpopAlgorithm, exportable = false): Promise<{ key: DpopKey; record?: DpopKeyRecord }> {
    const params = PARAMS[alg];
    if (params === undefined) throw new TypeError('dpop.algorithm must be EdDSA or ES256');
    const pair = (await crypto.subtle.generateKey(params.generate, exportable, ['sign', 'verify'])) as KeyPair;
    const jwk = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as Jwk;
    if (!exportable) return { key: await DpopKey.#create(alg, pair.privateKey, jwk) };
    const record: DpopKeyRecord = { alg, privateJwk: (await crypto.subtle.exportKey('jwk', pair.privateKey)) as Jwk };
    return { key: await DpopKey.fromRecord(record), record };
  }

  /** The key a store kept, imported as non-extractable. */
  static async fromRecord(record: DpopKeyRecord): Promise<DpopKey> {
    const params = PARAMS[record.alg];
    if (params === undefined) throw new TypeError('unknown DPoP key algorithm');
    // Typed by hand: the package names no DOM or node: types (its JWK type is structural).
    const importJwk = crypto.subtle.importKey.bind(crypto.subtle) as unknown as (
      format: 'jwk',
      jwk: Jwk,
      algorithm: SubtleAlgorithm,
      extractable: boolean,
      usages: string[],
    ) => Promise<CryptoKeyObject>;
    const privateKey = await importJwk('jwk', record.privateJwk, params.generate, false, ['sign']);
    return DpopKey.#create(record.alg, privateKey, record.privateJwk);
  }

  /** Signs a proof for one request (RFC 9449 §4.2), with a fresh `jti`. */
  async proof(claims: ProofClaims): Promise<string> {
    const htu = new URL(String(claims.htu));
    const payload: Record<string, unknown> = {
      jti: crypto.randomUUID(),
      htm: claims.htm,
      htu: `${htu.origin}${htu.pathname}`,
      iat: Math.floor(claims.now / 1000),
    };
    if (claims.accessToken !== undefined) payload.ath = await sha256(claims.accessToken);
    if (claims.nonce !== undefined) payload.nonce = claims.nonce;
    const input = `${this.#header}.${encodeJson(payload)}`;
    // WebCrypto's ECDSA signature is already R || S, the JWS form (RFC 7518 §3.4).
    const signature = await crypto.subtle.sign(PARAMS[this.alg].sign, this.#privateKey, encoder.encode(input));
    return `${input}.${base64url(signature)}`;
  }
}

/** Whether `value` is a well-formed {@link DpopKeyRecord}. */
export function isDpopKeyRecord(value: unknown): value is DpopKeyRecord {
  if (!value || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return (record.alg === 'EdDSA' || record.alg === 'ES256') && typeof record.privateJwk === 'object' && record.privateJwk !== null;
}
