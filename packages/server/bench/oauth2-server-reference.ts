// Child process of token.ts: the reference the refresh rate is compared with.
// @node-oauth/oauth2-server (v5) behind a plain node:http server, with a minimal model over the
// same kind of store as ours: one better-sqlite3 file, WAL + synchronous=FULL (every token it
// hands out is fsync'd before the response), prepared statements. Refresh rotates the token
// (the library's default, alwaysIssueNewRefreshToken). Tokens are opaque (the library default)
// and stored in clear, which is less work per request than ours (Ed25519 JWT, hashed tokens).
// Usage: PORT=… oauth2-server-reference.ts <dataDir>
import OAuth2Server from '@node-oauth/oauth2-server';
import Database from 'better-sqlite3';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { REFERENCE_CLIENT, REFERENCE_USER } from './reference-identity.js';

const dataDir = process.argv[2];
const port = Number(process.env.PORT);
if (!dataDir || !Number.isInteger(port)) throw new Error('usage: PORT=<port> oauth2-server-reference.ts <dataDir>');

const db = new Database(join(dataDir, 'oauth2-server.sqlite'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`
  CREATE TABLE IF NOT EXISTS clients (id TEXT PRIMARY KEY, secret TEXT NOT NULL, grants TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, password TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS tokens (
    refresh_token TEXT PRIMARY KEY,
    refresh_expires_at INTEGER NOT NULL,
    access_token TEXT NOT NULL UNIQUE,
    access_expires_at INTEGER NOT NULL,
    scope TEXT,
    client_id TEXT NOT NULL REFERENCES clients (id),
    user_id INTEGER NOT NULL REFERENCES users (id)
  );
`);
db.prepare('INSERT OR IGNORE INTO clients (id, secret, grants) VALUES (?, ?, ?)').run(
  REFERENCE_CLIENT.id,
  REFERENCE_CLIENT.secret,
  'password refresh_token',
);
db.prepare('INSERT OR IGNORE INTO users (username, password) VALUES (?, ?)').run(REFERENCE_USER.username, REFERENCE_USER.password);

interface ClientRow {
  id: string;
  secret: string;
  grants: string;
}
interface TokenRow {
  refresh_token: string;
  refresh_expires_at: number;
  scope: string | null;
  client_id: string;
  grants: string;
  user_id: number;
}

const selectClient = db.prepare('SELECT id, secret, grants FROM clients WHERE id = ?');
const selectUser = db.prepare('SELECT id, password FROM users WHERE username = ?');
const selectRefresh = db.prepare(`
  SELECT t.refresh_token, t.refresh_expires_at, t.scope, t.client_id, c.grants, t.user_id
  FROM tokens t JOIN clients c ON c.id = t.client_id WHERE t.refresh_token = ?`);
const deleteRefresh = db.prepare('DELETE FROM tokens WHERE refresh_token = ?');
const insertToken = db.prepare(`
  INSERT INTO tokens (refresh_token, refresh_expires_at, access_token, access_expires_at, scope, client_id, user_id)
  VALUES (?, ?, ?, ?, ?, ?, ?)`);

const toClient = (id: string, grants: string): OAuth2Server.Client => ({ id, grants: grants.split(' ') });

const model: OAuth2Server.PasswordModel & OAuth2Server.RefreshTokenModel = {
  async getClient(clientId, clientSecret) {
    const row = selectClient.get(clientId) as ClientRow | undefined;
    if (!row || (clientSecret !== null && clientSecret !== undefined && clientSecret !== row.secret)) return false;
    return toClient(row.id, row.grants);
  },
  // Only used to seed sessions (not measured): plain comparison.
  async getUser(username, password) {
    const row = selectUser.get(username) as { id: number; password: string } | undefined;
    return row && row.password === password ? { id: row.id } : false;
  },
  async getRefreshToken(refreshToken) {
    const row = selectRefresh.get(refreshToken) as TokenRow | undefined;
    if (!row) return false;
    return {
      refreshToken: row.refresh_token,
      refreshTokenExpiresAt: new Date(row.refresh_expires_at),
      scope: row.scope ? row.scope.split(' ') : undefined,
      client: toClient(row.client_id, row.grants),
      user: { id: row.user_id },
    };
  },
  async revokeToken(token) {
    return deleteRefresh.run(token.refreshToken).changes > 0;
  },
  async saveToken(token, client, user) {
    insertToken.run(
      token.refreshToken,
      token.refreshTokenExpiresAt?.getTime() ?? Date.now() + 1_209_600_000,
      token.accessToken,
      token.accessTokenExpiresAt?.getTime() ?? Date.now() + 3_600_000,
      token.scope?.join(' ') ?? null,
      client.id,
      (user as { id: number }).id,
    );
    return { ...token, client, user };
  },
  async verifyScope() {
    return true;
  },
  async getAccessToken() {
    return false;
  },
};

const oauth = new OAuth2Server({ model, accessTokenLifetime: 900, refreshTokenLifetime: 1800 });

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

const server = createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.method !== 'POST' || req.url !== '/oauth/token') {
      res.writeHead(404).end();
      return;
    }
    const body = Object.fromEntries(new URLSearchParams(await readBody(req)));
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
    const request = new OAuth2Server.Request({ method: req.method, headers, query: {}, body });
    const response = new OAuth2Server.Response({ headers: {} });
    try {
      await oauth.token(request, response);
    } catch (error) {
      const status = (error as { code?: number }).code ?? 500;
      const name = (error as { name?: string }).name ?? 'server_error';
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: name, error_description: (error as Error).message }));
      return;
    }
    res.writeHead(response.status ?? 200, { ...(response.headers as Record<string, string>), 'content-type': 'application/json' });
    res.end(JSON.stringify(response.body));
  } catch (error) {
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'server_error', error_description: String(error) }));
  }
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');

const stop = () => server.close(() => {
  db.close();
  process.exit(0);
});
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
