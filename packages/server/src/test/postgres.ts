/**
 * The real PostgreSQL for tests (TEST_DATABASE_URL): a schema of its own per test file, plain SQL to
 * look at what servers wrote, what every instance of one deployment shares, and a TCP proxy that
 * can cut the database away.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { BASE_PATH } from './http.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
export const SKIP_WITHOUT_DATABASE = TEST_DATABASE_URL
  ? false
  : 'TEST_DATABASE_URL is not set: point it at a PostgreSQL database (e.g. postgres://postgres@127.0.0.1:5432/test) to run the tests that need one';

/** One public issuer for every instance, as behind a load balancer (each listens on its own port). */
export const ISSUER = `http://auth.scale-out.test${BASE_PATH}`;

/** The client application the tests' PostgreSQL deployments are bootstrapped with. */
export const OWNER = Object.freeze({ username: 'merchant-app', password: 'merchant password 1' });

/**
 * The environment of every instance of one deployment: same database and schema, same secret,
 * same public issuer, one trusted proxy hop (tests name their source with X-Forwarded-For), and
 * the {@link OWNER} client application; `extra` adds to it or overrides it.
 */
export function deploymentEnv(schema: string, secret: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: TEST_DATABASE_URL as string,
    ANTPEER_DATABASE_SCHEMA: schema,
    ANTPEER_DATABASE_POOL_SIZE: '4',
    ANTPEER_SECRET: secret,
    ANTPEER_ISSUER: ISSUER,
    ANTPEER_TRUST_PROXY: '1',
    ANTPEER_BOOTSTRAP_USERNAME: OWNER.username,
    ANTPEER_BOOTSTRAP_PASSWORD: OWNER.password,
    ...extra,
  };
}

/** A fresh server secret (32 bytes, base64url), as an operator would generate one. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A schema name of its own, so test files and runs never collide. */
export function uniqueSchema(): string {
  return `antpeer_scale_${randomBytes(6).toString('hex')}`;
}

/** Runs `sql` on the test database with a short-lived client. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** A TCP proxy in front of PostgreSQL that a test can cut (drop every connection) and restore. */
export interface DatabaseProxy {
  port: number;
  /** `TEST_DATABASE_URL` pointed at the proxy. */
  url: string;
  /**
   * Drops every open connection; new ones are then reset at once (`reset`), refused because
   * nothing listens (`refuse`), or accepted and never answered (`hang`).
   */
  cut(mode?: 'reset' | 'refuse' | 'hang'): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startDatabaseProxy(): Promise<DatabaseProxy> {
  const target = new URL(TEST_DATABASE_URL as string);
  const targetPort = Number(target.port || 5432);
  const targetHost = target.hostname;
  const sockets = new Set<Socket>();
  let mode: 'open' | 'reset' | 'refuse' | 'hang' = 'open';
  let server: Server;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((client) => {
        track(client);
        if (mode === 'reset') {
          client.resetAndDestroy();
          return;
        }
        if (mode === 'hang') return;
        const upstream = connect(targetPort, targetHost);
        track(upstream);
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  const port = await listen(0);
  const url = new URL(TEST_DATABASE_URL as string);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  const closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    port,
    url: url.toString(),
    async cut(newMode = 'reset') {
      mode = newMode;
      dropAll();
      if (newMode === 'refuse') await closeServer();
    },
    async restore() {
      if (mode === 'refuse') await listen(port);
      mode = 'open';
      dropAll();
    },
    async close() {
      dropAll();
      if (mode !== 'refuse') await closeServer();
    },
  };
}
