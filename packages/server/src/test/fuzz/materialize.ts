/**
 * Turns a generated {@link FuzzRequest} into the bytes of one request, with the real secrets its
 * references stand for, and records what it sent: the secrets (to look for in answers and logs)
 * and the canaries (random strings no answer may repeat).
 */
import { signProof, type ProofContext } from './dpop-shapes.js';
import type { Body, FuzzRequest, JsonNode, Mutation, Piece, ProofSpec, SecretRef, Text } from './model.js';

/** The tokens of one session, as the client holding them knows them. */
export interface SessionTokens {
  sessionId: string;
  access: string;
  refresh: string;
  /** The refresh token before the last rotation; null when it never rotated. */
  previous: string | null;
}

/** What the references of a request resolve against. */
export interface SecretSource {
  live: readonly SessionTokens[];
  ended: readonly SessionTokens[];
  /** Live sessions of the other server of the target. */
  foreign: readonly SessionTokens[];
  /** Live sessions bound to DPoP key A. */
  bound: readonly SessionTokens[];
  password: string;
  disabledPassword: string;
  adminPassword: string;
  /** The fixture administrator's console session (null: none, or the server has no console). */
  console: { cookie: string; csrf: string } | null;
  /** The server's clock, for the proofs. */
  now: number;
  /** The server's DPoP nonces, for the proofs (null: it asks for none). */
  nonce: ProofContext['nonce'];
}

/** A real secret a request carried (before any mutation), named without its value. */
export interface SentSecret {
  label: string;
  value: string;
  /** The session it belongs to, for tokens of this server. */
  sessionId: string | null;
}

export interface ConcreteRequest {
  method: string;
  url: string;
  /** A header given more than once has its values in order, as the parser would see them. */
  headers: Record<string, string | string[]>;
  payload: Buffer | undefined;
  remoteAddress: string;
  secrets: SentSecret[];
  canaries: string[];
  /** The DPoP proofs the request carried, with what they were made from. */
  proofs: { spec: ProofSpec; value: string }[];
  /**
   * Whether the request could pass as the fixture administrator's: it carries their console cookie
   * and CSRF token somewhere (a superset of what the console accepts; false when it has no console).
   */
  consoleAuthorized: boolean;
  /** The console cookie values the request carried, the fixture's or made up. */
  consoleCookies: string[];
}

/** The peer address the pool's own logins come from; requests never use it, so its counters stay clean. */
export const FIXTURE_SOURCE = '198.51.100.200';

/** What the HTTP parser lets through: a request target up to this many bytes, a header value up to this many (16 KiB in all). */
const MAX_TARGET_BYTES = 6000;
const MAX_HEADER_BYTES = 1500;

function swapCase(text: string): string {
  return [...text].map((char) => (char === char.toUpperCase() ? char.toLowerCase() : char.toUpperCase())).join('');
}

function decodeSegment(segment: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString());
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function mergeSegment(token: string, index: number, changes: Record<string, unknown>): string {
  const segments = token.split('.');
  while (segments.length <= index) segments.push('');
  segments[index] = Buffer.from(JSON.stringify({ ...decodeSegment(segments[index] as string), ...changes })).toString('base64url');
  return segments.join('.');
}

/** Applies a mutation; total on every input. */
export function mutate(token: string, mutation: Mutation): string {
  switch (mutation.op) {
    case 'none':
      return token;
    case 'flip': {
      if (token.length === 0) return mutation.to;
      const at = mutation.at % token.length;
      return token.slice(0, at) + mutation.to + token.slice(at + 1);
    }
    case 'truncate':
      return token.slice(0, mutation.at % (token.length + 1));
    case 'append':
      return token + mutation.text;
    case 'prepend':
      return mutation.text + token;
    case 'swapCase':
      return swapCase(token);
    case 'standardBase64': {
      const standard = token.replaceAll('-', '+').replaceAll('_', '/');
      return standard + '='.repeat((4 - (standard.length % 4)) % 4);
    }
    case 'replaceTail':
      return token.slice(0, mutation.keep % (token.length + 1)) + mutation.tail;
    case 'jwtClaims':
      return mergeSegment(token, 1, mutation.claims);
    case 'jwtHeader':
      return mergeSegment(token, 0, mutation.header);
    case 'jwtSegments': {
      const segments = token.split('.');
      return mutation.order.map((index) => segments[index % segments.length] ?? '').join('.');
    }
    case 'refreshGeneration': {
      const bytes = Buffer.from(token, 'base64url');
      if (bytes.length < 20) return token;
      bytes.writeUInt32BE(mutation.generation >>> 0, 16);
      return bytes.toString('base64url');
    }
  }
}

function pick<T>(list: readonly T[], index: number): T | undefined {
  return list.length === 0 ? undefined : list[index % list.length];
}

/**
 * Bytes as a server reads them: UTF-8 seen one byte per character, each one outside `accepted`
 * (what the HTTP parser lets through) replaced.
 */
function onTheWire(text: string, refused: RegExp, replacement: (char: string) => string, maxBytes: number): string {
  return Buffer.from(text, 'utf8').toString('latin1').replace(refused, replacement).slice(0, maxBytes);
}

/** Outside a request target: controls, space, DEL. Outside a header value: controls but tab, DEL. */
const NOT_IN_TARGET = /[^\x21-\x7e\x80-\xff]/g;
const NOT_IN_HEADER = /[^\t\x20-\x7e\x80-\xff]/g;

class Materializer {
  readonly secrets: SentSecret[] = [];
  readonly canaries: string[] = [];
  readonly proofs: { spec: ProofSpec; value: string }[] = [];
  /** What a proof is signed for; the access token is set once the Authorization header is known. */
  context: ProofContext = { method: 'GET', uri: '', query: '', accessToken: null, now: 0, nonce: null };

  constructor(private readonly source: SecretSource) {}

  #remember(label: string, value: string, sessionId: string | null): void {
    if (!this.secrets.some((secret) => secret.value === value)) this.secrets.push({ label, value, sessionId });
  }

  #secret(ref: SecretRef): string | null {
    const { source } = this;
    if (ref.kind === 'password') {
      this.#remember('the password', source.password, null);
      return source.password;
    }
    if (ref.kind === 'disabledPassword') {
      this.#remember('the disabled application’s password', source.disabledPassword, null);
      return source.disabledPassword;
    }
    if (ref.kind === 'adminPassword') {
      this.#remember('the administrator’s password', source.adminPassword, null);
      return source.adminPassword;
    }
    if (ref.kind === 'consoleCookie' || ref.kind === 'consoleCsrf') {
      if (source.console === null) return null;
      const value = ref.kind === 'consoleCookie' ? source.console.cookie : source.console.csrf;
      this.#remember(ref.kind === 'consoleCookie' ? 'the console cookie' : 'the console CSRF token', value, null);
      return value;
    }
    const index = 'slot' in ref ? ref.slot : ref.index;
    const list = ref.kind === 'foreignAccess' ? source.foreign : ref.kind.startsWith('bound') ? source.bound : ref.kind.startsWith('ended') ? source.ended : source.live;
    const session = pick(list, index);
    if (session === undefined) return null;
    const value = ref.kind.endsWith('Access') || ref.kind === 'access' ? session.access : ref.kind === 'previousRefresh' ? (session.previous ?? session.refresh) : session.refresh;
    this.#remember(`${ref.kind} token #${index}`, value, ref.kind === 'foreignAccess' ? null : session.sessionId);
    return value;
  }

  piece(piece: Piece): string {
    if (typeof piece === 'string') return piece;
    if ('repeat' in piece) return piece.repeat.repeat(piece.times);
    if ('canary' in piece) {
      this.canaries.push(piece.canary);
      return piece.canary;
    }
    if ('proof' in piece) {
      const value = signProof(piece.proof, this.context);
      const sent = mutate(value, piece.proof.mutation);
      this.proofs.push({ spec: piece.proof, value: sent });
      this.#remember('a DPoP proof', value, null);
      return sent;
    }
    if ('base64' in piece) {
      const known = this.secrets.length;
      const encoded = Buffer.from(this.text(piece.base64)).toString('base64');
      if (this.secrets.length > known || piece.base64.some((inner) => typeof inner === 'object' && 'secret' in inner)) {
        this.#remember('HTTP Basic credentials', encoded, null);
      }
      return encoded;
    }
    const value = this.#secret(piece.secret);
    // No such token yet (an empty graveyard): garbage of the same shape.
    return mutate(value ?? 'A'.repeat(70), piece.mutation);
  }

  text(text: Text): string {
    return text.map((piece) => this.piece(piece)).join('');
  }

  json(node: JsonNode): string {
    switch (node.t) {
      case 'lit':
        return JSON.stringify(node.v) ?? 'null';
      case 'text':
        return JSON.stringify(this.text(node.v));
      case 'arr':
        return `[${node.v.map((item) => this.json(item)).join(',')}]`;
      case 'obj':
        return `{${node.v.map(([key, value]) => `${JSON.stringify(this.text(key))}:${this.json(value)}`).join(',')}}`;
    }
  }

  body(body: Body): Buffer | undefined {
    switch (body.kind) {
      case 'none':
        return undefined;
      case 'json':
        return Buffer.from(body.prefix + this.json(body.root) + body.suffix);
      case 'form': {
        const pairs = body.fields.map(([key, value]) => {
          const [name, text] = [this.text(key), this.text(value)];
          return body.encode ? new URLSearchParams([[name, text]]).toString() : `${name}=${text}`;
        });
        return Buffer.from(pairs.join('&'));
      }
      case 'raw':
        return Buffer.from(this.text(body.text), body.encoding);
      case 'bytes':
        return Buffer.from(body.bytes);
    }
  }
}

/** The request `request` describes, with real secrets in place of its references. */
export function materialize(request: FuzzRequest, source: SecretSource): ConcreteRequest {
  const m = new Materializer(source);
  const url = onTheWire(m.text(request.target), NOT_IN_TARGET, (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`, MAX_TARGET_BYTES);
  const [path = '', query = ''] = /^([^?]*)(\?.*)?$/.exec(url)?.slice(1) ?? [];
  m.context = { method: request.method, uri: `http://localhost:80${path}`, query, accessToken: null, now: source.now, nonce: source.nonce };
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of request.headers) {
    const wire = onTheWire(m.text(value), NOT_IN_HEADER, () => '', MAX_HEADER_BYTES).replace(/^[ \t]+|[ \t]+$/g, '');
    const known = Object.keys(headers).find((header) => header.toLowerCase() === name.toLowerCase());
    if (known === undefined) headers[name] = wire;
    else headers[known] = [headers[known] ?? [], wire].flat();
    if (name.toLowerCase() === 'authorization') m.context.accessToken = /^(?:bearer|dpop)\s+(.*)$/i.exec(wire)?.[1] ?? null;
  }
  const payload = m.body(request.body);
  const remoteAddress = request.remote === FIXTURE_SOURCE ? '192.0.2.99' : request.remote;
  const cookieHeaders = Object.entries(headers).filter(([name]) => name.toLowerCase() === 'cookie').flatMap(([, value]) => value);
  const consoleCookies = cookieHeaders.flatMap((header) => [...header.matchAll(/antpeer_console=([^;]*)/g)].map((match) => (match[1] ?? '').trim()));
  const consoleAuthorized =
    source.console !== null && cookieHeaders.some((header) => header.includes(source.console?.cookie ?? '')) && (payload?.toString('latin1').includes(source.console.csrf) ?? false);
  return {
    method: request.method,
    url: url === '' ? '/' : url,
    headers,
    payload,
    remoteAddress,
    secrets: m.secrets,
    canaries: m.canaries,
    proofs: m.proofs,
    consoleAuthorized,
    consoleCookies,
  };
}
