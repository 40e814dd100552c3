/**
 * What the fuzzer generates: requests described as data, with every secret a *reference* (which
 * token of the pool, mutated how) rather than its value. The values exist only while a case runs
 * (see `materialize.ts`), so a printed counterexample never carries a password or a token.
 */

/** The two servers of a fuzz target: one without an upstream, one whose gateway proxies to a recording upstream. */
export type ServerName = 'plain' | 'gateway';

/** Which real secret a piece of a request stands for. Slots and indexes wrap around the pool. */
export type SecretRef =
  /** The password of the enabled client application. */
  | { kind: 'password' }
  /** The password of the disabled client application. */
  | { kind: 'disabledPassword' }
  /** The access token of a live session of the pool. */
  | { kind: 'access'; slot: number }
  /** The live refresh token of a session of the pool. */
  | { kind: 'refresh'; slot: number }
  /** The refresh token before the last rotation of a pool session (the live one if it never rotated). */
  | { kind: 'previousRefresh'; slot: number }
  /** Tokens of a session that has ended (logout, revocation, reuse, expiry). */
  | { kind: 'endedAccess'; index: number }
  | { kind: 'endedRefresh'; index: number }
  /** A live access token of the *other* server: signed by keys this one does not know. */
  | { kind: 'foreignAccess'; slot: number }
  /** Tokens of a live session of the pool bound to the fuzzer's DPoP key A (RFC 9449). */
  | { kind: 'boundAccess'; slot: number }
  | { kind: 'boundRefresh'; slot: number }
  /** The console cookie of the fixture administrator's live session, and its CSRF token. */
  | { kind: 'consoleCookie' }
  | { kind: 'consoleCsrf' }
  /** The fixture administrator's password. */
  | { kind: 'adminPassword' };

/** How a real secret is changed before it is sent. Every mutation is total: it never throws. */
export type Mutation =
  | { op: 'none' }
  /** Replaces the character at `at` (modulo the length) with `to`. */
  | { op: 'flip'; at: number; to: string }
  /** Keeps the first `at` characters (modulo the length + 1). */
  | { op: 'truncate'; at: number }
  | { op: 'append'; text: string }
  | { op: 'prepend'; text: string }
  | { op: 'swapCase' }
  /** base64url → base64 with `+`, `/` and padding. */
  | { op: 'standardBase64' }
  /** Keeps the first `keep` characters and puts `tail` after them (a forged MAC or signature). */
  | { op: 'replaceTail'; keep: number; tail: string }
  /** Re-encodes a JWT's claims with these merged in, keeping the signature. */
  | { op: 'jwtClaims'; claims: Record<string, unknown> }
  /** Re-encodes a JWT's protected header with these merged in, keeping the signature. */
  | { op: 'jwtHeader'; header: Record<string, unknown> }
  /** Rebuilds a JWT from its segments in this order (dropping, repeating, swapping). */
  | { op: 'jwtSegments'; order: number[] }
  /** Rewrites the generation inside a refresh token, keeping its MAC. */
  | { op: 'refreshGeneration'; generation: number };

export interface Secret {
  secret: SecretRef;
  mutation: Mutation;
}

/** `text` repeated `times` times: a huge string that prints small. */
export interface Repeat {
  repeat: string;
  times: number;
}

/** A random string that must never be repeated back to the client (a path segment, a header value). */
export interface Canary {
  canary: string;
}

/** The standard base64 of the text it holds (HTTP Basic credentials). */
export interface Base64 {
  base64: Text;
}

/**
 * A DPoP proof (RFC 9449 §4.2), signed while the case runs: which key signs it and how each of its
 * parts relates to the request it comes with. `request` means as the request has it.
 */
export interface ProofSpec {
  /** A and B: the fuzzer's two EC keys; `private`: A with its private part in the jwk; `symmetric`: HS256 with an oct jwk; `unsigned`: alg none. */
  key: 'A' | 'B' | 'private' | 'symmetric' | 'unsigned';
  typ: string | null;
  /** The alg the header names (null: the key's own). */
  alg: string | null;
  htm: string;
  /** `request`: the URI the request is addressed by; `query`: the same with its query; else as given. */
  htu: string;
  /** Seconds from the server's clock. */
  iatOffset: number;
  /** `fresh`: random; `repeat`: one fixed value (a replay from its second use); else as given. */
  jti: string | null;
  /** `request`: the hash of the access token the request carries; null: none. */
  ath: 'request' | 'other' | null;
  /** Public members the thumbprint ignores. */
  extraJwk: Record<string, unknown>;
  /**
   * The `nonce` claim: the server's nonce of this time window (`current`), of the one before it
   * (`previous`: still accepted) or of two before (`expired`); a literal value; or none (null).
   * A server that asks for no nonce gets a made-up one for the first three.
   */
  nonce: 'current' | 'previous' | 'expired' | { literal: unknown } | null;
  /** What happens to the compact JWS once signed. */
  mutation: Mutation;
}

export interface Proof {
  proof: ProofSpec;
}

export type Piece = string | Secret | Repeat | Canary | Base64 | Proof;
/** Pieces concatenated. */
export type Text = readonly Piece[];

/** A JSON document written by hand, so that keys can repeat and strings can hold secrets. */
export type JsonNode =
  | { t: 'lit'; v: null | boolean | number | string }
  | { t: 'text'; v: Text }
  | { t: 'arr'; v: JsonNode[] }
  | { t: 'obj'; v: [Text, JsonNode][] };

export type Body =
  | { kind: 'none' }
  /** A JSON document between `prefix` and `suffix` (a BOM, whitespace, trailing garbage). */
  | { kind: 'json'; root: JsonNode; prefix: string; suffix: string }
  /** Form fields, percent-encoded as a client would (`encode`) or written raw. */
  | { kind: 'form'; fields: [Text, Text][]; encode: boolean }
  /** Text in an encoding of its own. */
  | { kind: 'raw'; text: Text; encoding: 'utf8' | 'latin1' | 'utf16le' }
  | { kind: 'bytes'; bytes: Uint8Array };

/** The route a request was generated for (what it is about; its path may lead elsewhere). */
export type RouteName =
  | 'token'
  | 'logout'
  | 'revoke'
  | 'introspect'
  | 'certs'
  | 'verify'
  | 'metadata'
  | 'health'
  | 'openapi'
  | 'gateway'
  | 'console'
  | 'anything';

export interface FuzzRequest {
  route: RouteName;
  server: ServerName;
  method: string;
  /** The request target exactly as it would be on the request line. */
  target: Text;
  /** Header names as sent; a later entry with the same name (any case) replaces an earlier one. */
  headers: [string, Text][];
  body: Body;
  /** The peer address of the connection. */
  remote: string;
  /** How far the server's clock moves before the request. */
  advanceMs: number;
}
