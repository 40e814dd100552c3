// A stand-in for the AntPeer token service in tests: a real node:http server on 127.0.0.1:0 that
// publishes a JWKS and RFC 8414 metadata (with not_before_policy), and mints tokens with jose.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const BASE_PATH = '/bankit-api/antPeer/v1';
export const AUDIENCE = 'antpeer-api';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeSigningKey(kid: string, alg = 'EdDSA', options: { publishAlg?: boolean } = {}): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig' };
  if (options.publishAlg !== false) publicJwk.alg = alg;
  return { kid, alg, privateKey, publicJwk };
}

export interface MintOptions {
  key?: SigningKey;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  /** Claims to delete from the default set. */
  omit?: string[];
}

export class FakeIssuer {
  readonly server: Server;
  issuer = '';
  keys: SigningKey[] = [];
  /** What the JWKS endpoint publishes; defaults to every key in `keys`. */
  published: JWK[] | undefined;
  notBeforePolicy = 0;
  metadataIssuer: string | undefined;
  down = false;
  jwksRequests = 0;
  metadataRequests = 0;
  #serial = 0;

  constructor(readonly clock: () => number) {
    this.server = createServer((request, response) => {
      if (this.down) {
        response.writeHead(503).end();
        return;
      }
      if (request.url === `${BASE_PATH}/auth/certs`) {
        this.jwksRequests += 1;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ keys: this.published ?? this.keys.map((key) => key.publicJwk) }));
      } else if (request.url === `${BASE_PATH}/.well-known/oauth-authorization-server`) {
        this.metadataRequests += 1;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            issuer: this.metadataIssuer ?? this.issuer,
            jwks_uri: `${this.issuer}/auth/certs`,
            not_before_policy: this.notBeforePolicy,
          }),
        );
      } else {
        response.writeHead(404).end();
      }
    });
  }

  static async start(clock: () => number): Promise<FakeIssuer> {
    const fake = new FakeIssuer(clock);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.issuer = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}${BASE_PATH}`;
    fake.keys.push(await makeSigningKey('key-1'));
    return fake;
  }

  nowSeconds(): number {
    return Math.floor(this.clock() / 1000);
  }

  async mint(options: MintOptions = {}): Promise<string> {
    const key = options.key ?? this.keys[0]!;
    const now = this.nowSeconds();
    this.#serial += 1;
    const claims: Record<string, unknown> = {
      iss: this.issuer,
      sub: 'user-42',
      aud: AUDIENCE,
      exp: now + 900,
      iat: now,
      jti: `jti-${this.#serial}`,
      client_id: 'fintech-app',
      sid: 'session-7',
      ...options.claims,
    };
    for (const name of options.omit ?? []) delete claims[name];
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid, ...options.header } as { alg: string })
      .sign(key.privateKey);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.UTC(2025, 0, 1)): { now: () => number; advance: (seconds: number) => void } {
  let current = start;
  return { now: () => current, advance: (seconds) => (current += seconds * 1000) };
}
