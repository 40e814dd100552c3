/**
 * A fake AntPeer token service on real node:http (127.0.0.1, port 0) that does what a real one
 * won't do on demand: lose a response, hang, answer 503 or 429, skew its clock. It follows the
 * contract of DESIGN.md §1–§2: password and refresh grants as JSON, rotation with a grace window,
 * reuse detection, logout, and application endpoints that answer 401 `invalid_token`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The contract's default base path (DESIGN §1), where the fake serves unless told otherwise. */
export const BASE_PATH = '/bankit-api/antPeer/v1';

/** What to do with one incoming token request instead of (or after) answering it normally. */
export type Fault =
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Never answer (the client's timeout must fire). */
  | { kind: 'hang' }
  /** Answer normally, but only once `release` settles. */
  | { kind: 'hold'; release: Promise<unknown> }
  /** Process the grant (rotating the refresh token), then drop the connection: a lost response. */
  | { kind: 'drop-after' }
  /** Drop the connection before processing anything. */
  | { kind: 'reset' };

export interface FakeServerOptions {
  /** The server's clock, epoch ms; default Date.now. Skew it to test clock skew. */
  now?: () => number;
  basePath?: string;
  users?: Record<string, string>;
  expiresIn?: number;
  refreshExpiresIn?: number;
  graceMs?: number;
  /** How the refresh token is named in answers; `none-on-refresh` omits it from refresh answers. */
  refreshTokenField?: 'refresh_token' | 'refreshToken' | 'none-on-refresh';
  /** Delay before answering each token request, real ms. */
  tokenDelayMs?: number;
}

interface Session {
  id: string;
  username: string;
  live: string;
  previous: { token: string; rotatedAt: number; successor: string } | undefined;
  refreshExpiresAt: number;
  active: boolean;
}

interface TokenRecord {
  exp: number;
  sequence: number;
  sessionId: string;
}

/** One token request as the server saw it. */
export interface SeenTokenRequest {
  grant: 'password' | 'refresh' | 'invalid';
  body: Record<string, unknown>;
  contentType: string | undefined;
  at: number;
}

export class FakeServer {
  readonly baseUrl: string;
  readonly counts = { token: 0, password: 0, refresh: 0, app: 0, logout: 0 };
  readonly tokenRequests: SeenTokenRequest[] = [];
  /** Applied, in order, to the next token requests. */
  readonly faults: Fault[] = [];
  /** When true, every application request gets 401 invalid_token, whatever the token. */
  rejectAllTokens = false;
  /** Echo the request body into error_description (a misbehaving server), to test redaction. */
  echoRequestInErrors = false;
  tokenDelayMs: number;

  readonly #server: Server;
  readonly #options: Required<Omit<FakeServerOptions, 'tokenDelayMs'>>;
  readonly #sessions = new Map<string, Session>();
  readonly #accessTokens = new Map<string, TokenRecord>();
  #notBefore = 0;
  #issued = 0;
  #notBeforeSequence = 0;

  private constructor(server: Server, baseUrl: string, options: Required<Omit<FakeServerOptions, 'tokenDelayMs'>>, tokenDelayMs: number) {
    this.#server = server;
    this.baseUrl = baseUrl;
    this.#options = options;
    this.tokenDelayMs = tokenDelayMs;
  }

  static async start(options: FakeServerOptions = {}): Promise<FakeServer> {
    const resolved = {
      now: options.now ?? (() => Date.now()),
      basePath: options.basePath ?? BASE_PATH,
      users: options.users ?? { app: 'correct horse battery staple' },
      expiresIn: options.expiresIn ?? 900,
      refreshExpiresIn: options.refreshExpiresIn ?? 1800,
      graceMs: options.graceMs ?? 10_000,
      refreshTokenField: options.refreshTokenField ?? 'refresh_token',
    };
    const server = createServer();
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const instance = new FakeServer(server, `http://127.0.0.1:${port}${resolved.basePath}`, resolved, options.tokenDelayMs ?? 0);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      instance.handle(req, res).catch(() => res.destroy());
    });
    return instance;
  }

  /** Sets the not-before policy to now: every access token issued so far is refused. */
  revokeAccessTokens(): void {
    this.#notBefore = this.#options.now();
    this.#notBeforeSequence = this.#issued;
  }

  /** Ends every session: refresh tokens get 400 invalid_grant "Session not active". */
  endSessions(): void {
    for (const session of this.#sessions.values()) session.active = false;
  }

  /** Changes a user's password (the client's credentials become wrong). */
  setPassword(username: string, password: string): void {
    this.#options.users[username] = password;
  }

  get activeSessions(): number {
    return [...this.#sessions.values()].filter((s) => s.active).length;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const base = this.#options.basePath;
    res.setHeader('Date', new Date(this.#options.now()).toUTCString());
    if (req.method === 'POST' && url.pathname === `${base}/auth/token`) return this.token(req, res);
    if (req.method === 'POST' && url.pathname === `${base}/auth/logout`) return this.logout(req, res);
    if (url.pathname.startsWith(`${base}/`)) return this.application(req, res);
    send(res, 404, { error: 'not_found' });
  }

  private async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counts.token++;
    const text = await readBody(req);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // counted as invalid below
    }
    const grant = body.grant_type === 'refresh_token' ? 'refresh' : typeof body.username === 'string' ? 'password' : 'invalid';
    this.tokenRequests.push({ grant, body, contentType: req.headers['content-type'], at: this.#options.now() });
    if (grant === 'password') this.counts.password++;
    if (grant === 'refresh') this.counts.refresh++;
    if (this.tokenDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.tokenDelayMs));

    const fault = this.faults.shift();
    if (fault?.kind === 'hang') return; // closeAllConnections cleans up
    if (fault?.kind === 'hold') await fault.release;
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      for (const [name, value] of Object.entries(fault.headers ?? {})) res.setHeader(name, value);
      send(res, fault.status, fault.body ?? { error: 'server_error' });
      return;
    }
    const [status, answer] = grant === 'password' ? this.passwordGrant(body) : grant === 'refresh' ? this.refreshGrant(body) : [400, oauthError('invalid_request', 'Missing parameter: username')];
    if (fault?.kind === 'drop-after') {
      req.socket.destroy();
      return;
    }
    if (status !== 200 && this.echoRequestInErrors) {
      (answer as Record<string, unknown>).error_description = `${String((answer as Record<string, unknown>).error_description)}: ${text}`;
    }
    send(res, status, answer);
  }

  private passwordGrant(body: Record<string, unknown>): [number, unknown] {
    const { username, password } = body;
    if (typeof username !== 'string' || typeof password !== 'string' || this.#options.users[username] !== password) {
      return [401, oauthError('invalid_grant', 'Invalid user credentials')];
    }
    const now = this.#options.now();
    const session: Session = {
      id: randomUUID(),
      username,
      live: opaque(),
      previous: undefined,
      refreshExpiresAt: now + this.#options.refreshExpiresIn * 1000,
      active: true,
    };
    this.#sessions.set(session.id, session);
    return [200, this.tokenAnswer(session, session.live, 'password')];
  }

  private refreshGrant(body: Record<string, unknown>): [number, unknown] {
    const presented = body.refresh_token;
    if (typeof presented !== 'string') return [400, oauthError('invalid_request', 'No refresh token')];
    const now = this.#options.now();
    for (const session of this.#sessions.values()) {
      if (session.live === presented) {
        if (!session.active) return [400, oauthError('invalid_grant', 'Session not active')];
        if (now >= session.refreshExpiresAt) return [400, oauthError('invalid_grant', 'Token is not active')];
        session.refreshExpiresAt = now + this.#options.refreshExpiresIn * 1000;
        // A server that sends no new refresh token keeps the old one alive (no rotation).
        if (this.#options.refreshTokenField === 'none-on-refresh') return [200, this.tokenAnswer(session, presented, 'refresh')];
        const successor = opaque();
        session.previous = { token: presented, rotatedAt: now, successor };
        session.live = successor;
        return [200, this.tokenAnswer(session, successor, 'refresh')];
      }
      if (session.previous?.token === presented) {
        const { rotatedAt, successor } = session.previous;
        if (session.active && now - rotatedAt <= this.#options.graceMs && session.live === successor) {
          return [200, this.tokenAnswer(session, successor, 'refresh')];
        }
        session.active = false;
        return [400, oauthError('invalid_grant', 'Refresh token reuse detected')];
      }
    }
    return [400, oauthError('invalid_grant', 'Invalid refresh token')];
  }

  private tokenAnswer(session: Session, refreshToken: string, grant: 'password' | 'refresh'): Record<string, unknown> {
    const now = this.#options.now();
    const iat = Math.floor(now / 1000);
    const exp = iat + this.#options.expiresIn;
    const accessToken = jwtLike({ sub: session.username, sid: session.id, iat, exp, jti: randomUUID() });
    this.#accessTokens.set(accessToken, { exp, sequence: ++this.#issued, sessionId: session.id });
    const answer: Record<string, unknown> = {
      access_token: accessToken,
      expires_in: this.#options.expiresIn,
      refresh_expires_in: Math.round((session.refreshExpiresAt - now) / 1000),
      token_type: 'bearer',
      id_token: null,
      'not-before-policy': Math.floor(this.#notBefore / 1000),
      session_state: session.id,
      scope: '',
    };
    const field = this.#options.refreshTokenField;
    if (field === 'refreshToken') answer.refreshToken = refreshToken;
    else if (field === 'refresh_token' || grant === 'password') answer.refresh_token = refreshToken;
    return answer;
  }

  private async logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counts.logout++;
    const body = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;
    for (const session of this.#sessions.values()) {
      if (session.live === body.refresh_token && session.active) {
        session.active = false;
        res.writeHead(204).end();
        return;
      }
    }
    send(res, 400, oauthError('invalid_grant', 'Invalid refresh token'));
  }

  private async application(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counts.app++;
    const body = await readBody(req);
    const header = req.headers.authorization ?? '';
    const token = /^Bearer (.+)$/.exec(header)?.[1];
    const record = token === undefined ? undefined : this.#accessTokens.get(token);
    const now = this.#options.now();
    const session = record ? this.#sessions.get(record.sessionId) : undefined;
    const valid = record && session?.active && now < record.exp * 1000 && record.sequence > this.#notBeforeSequence && !this.rejectAllTokens;
    if (!valid) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="antpeer", error="invalid_token", error_description="The access token is invalid"');
      send(res, 401, { error: 'invalid_token' });
      return;
    }
    send(res, 200, { ok: true, path: new URL(req.url ?? '/', 'http://x').pathname, method: req.method, body });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function oauthError(error: string, description: string): Record<string, unknown> {
  return { error, error_description: description };
}

function opaque(): string {
  return randomBytes(32).toString('base64url');
}

function jwtLike(claims: Record<string, unknown>): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'EdDSA', typ: 'at+jwt' })}.${encode(claims)}.${randomBytes(32).toString('base64url')}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  req.setEncoding('utf8');
  for await (const chunk of req) text += String(chunk);
  return text;
}
