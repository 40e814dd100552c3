import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { hashPoolDefaults } from './credentials/hash-pool.js';

/** Signing algorithms the server can issue access tokens with. */
export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256';

/** The server's configuration: parsed once at start, validated, then frozen. */
export interface Config {
  port: number;
  host: string;
  basePath: string;
  issuer: string;
  audience: string;
  dataDir: string;
  databaseUrl: string | null;
  /** The PostgreSQL schema holding the tables: `ANTPEER_DATABASE_SCHEMA`, else `?schema=` in the URL, else `public`. */
  databaseSchema: string;
  /** Most connections each server process opens to PostgreSQL. */
  databasePoolSize: number;
  /** Apply pending store migrations at start; when false, start refuses a store that needs them. */
  migrateOnStart: boolean;
  /** Days an audit event is kept before the purge deletes it; 0 keeps them forever. */
  auditRetention: number;
  /** Seconds between two runs of the background purge; 0 turns it off (run `antpeer-auth purge` instead). */
  purgeInterval: number;
  /** Server secret (base64url, 32 bytes) given by the operator; null means `dataDir/secret.key`. */
  secret: string | null;
  accessTokenTtl: number;
  sessionIdle: number;
  sessionMax: number;
  refreshGrace: number;
  signingAlgorithm: SigningAlgorithm;
  bootstrapUsername: string | null;
  bootstrapPassword: string | null;
  upstream: string | null;
  upstreamTimeout: number;
  bodyLimit: number;
  /** Failed logins per username within `lockoutWindow` before the account is locked for the rest of it. */
  lockoutThreshold: number;
  lockoutWindow: number;
  /** Failed grants per source address within `sourceWindow` before it gets 429. */
  sourceFailureLimit: number;
  sourceWindow: number;
  trustProxy: boolean;
  logLevel: string;
  /** Password hashes computed at once, each on its own thread (per process). */
  hashConcurrency: number;
  /** Password checks that may wait for a hashing thread; more are refused with 503. */
  hashQueue: number;
  /** A password check that waited longer than this for a thread is refused with 503 instead of run. */
  hashMaxWaitMs: number;
}

/** A configuration value that is not what it must be; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function integer(source: Source, name: string, fallback: number, min: number, max: number): number {
  const raw = source[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function text(source: Source, name: string): string | null {
  const raw = source[name];
  return raw === undefined || raw === '' ? null : raw;
}

function url(source: Source, name: string, protocols: string[]): string | null {
  const raw = text(source, name);
  if (raw === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL (${protocols.join(' or ')}), got an unparsable value`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  }
  return raw;
}

function flag(source: Source, name: string, fallback: boolean): boolean {
  const raw = text(source, name);
  if (raw === null) return fallback;
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  return raw === 'true';
}

/** What a PostgreSQL schema name must look like (it is quoted into every statement). */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** The schema from ANTPEER_DATABASE_SCHEMA or the URL's `?schema=`; both set means they must agree. */
function databaseSchema(source: Source, databaseUrl: string | null): string {
  const fromEnv = text(source, 'ANTPEER_DATABASE_SCHEMA');
  const fromUrl = databaseUrl === null ? null : new URL(databaseUrl).searchParams.get('schema') || null;
  if (fromEnv !== null && fromUrl !== null && fromEnv !== fromUrl) {
    throw new ConfigError(
      `ANTPEER_DATABASE_SCHEMA ("${fromEnv}") and the schema in DATABASE_URL ("${fromUrl}") differ; set only one`,
    );
  }
  const schema = fromEnv ?? fromUrl ?? 'public';
  if (!SCHEMA_NAME.test(schema)) {
    const name = fromEnv !== null ? 'ANTPEER_DATABASE_SCHEMA' : 'DATABASE_URL ?schema=';
    throw new ConfigError(`${name} must be a plain SQL identifier (letters, digits, _; at most 63), got "${schema}"`);
  }
  return schema;
}

function basePath(source: Source): string {
  const raw = text(source, 'ANTPEER_BASE_PATH') ?? '/bankit-api/antPeer/v1';
  if (!/^(\/[A-Za-z0-9._~-]+)*\/?$/.test(raw)) {
    throw new ConfigError(`ANTPEER_BASE_PATH must be a path like /bankit-api/antPeer/v1, got "${raw}"`);
  }
  return raw.replace(/\/$/, '');
}

function readConfigFile(path: string): Source {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`ANTPEER_CONFIG_FILE: cannot read ${path} as JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('ANTPEER_CONFIG_FILE must hold a JSON object of variable names to values');
  }
  const result: Source = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new ConfigError(`ANTPEER_CONFIG_FILE: ${key} must be a string, number or boolean`);
    }
    result[key] = String(value);
  }
  return result;
}

/**
 * Reads the configuration from environment variables, over an optional JSON file named by
 * `ANTPEER_CONFIG_FILE` (keys are the variable names). Throws a {@link ConfigError} naming the
 * first bad variable.
 */
export function loadConfig(env: Source = process.env): Readonly<Config> {
  const file = text(env, 'ANTPEER_CONFIG_FILE');
  // An empty variable counts as unset, so it does not hide the file's value.
  const setInEnv = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const source: Source = { ...(file ? readConfigFile(file) : {}), ...setInEnv };

  const port = integer(source, 'PORT', 8080, 0, 65535);
  const host = text(source, 'HOST') ?? '127.0.0.1';
  if (isIP(host) === 0 && !/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(host)) {
    throw new ConfigError(`HOST must be an IP address or a host name, got "${host}"`);
  }
  const base = basePath(source);
  const configuredIssuer = url(source, 'ANTPEER_ISSUER', ['http:', 'https:']);
  // RFC 8414 §2; a bare '#' or '?' leaves URL's hash and search empty, hence the text test.
  if (configuredIssuer !== null && /[?#]/.test(configuredIssuer)) {
    throw new ConfigError('ANTPEER_ISSUER must have no query or fragment (RFC 8414 §2)');
  }
  const issuer = (configuredIssuer ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}${base}`).replace(/\/$/, '');
  const accessTokenTtl = integer(source, 'ANTPEER_ACCESS_TOKEN_TTL', 900, 1, 86_400);
  const sessionIdle = integer(source, 'ANTPEER_SESSION_IDLE', 1800, 1, 31_536_000);
  const sessionMax = integer(source, 'ANTPEER_SESSION_MAX', 36_000, 1, 31_536_000);
  if (sessionMax < sessionIdle) {
    throw new ConfigError(`ANTPEER_SESSION_MAX (${sessionMax}) must be at least ANTPEER_SESSION_IDLE (${sessionIdle})`);
  }
  const secret = text(source, 'ANTPEER_SECRET');
  if (secret !== null && !/^[A-Za-z0-9_-]{43}$/.test(secret)) {
    throw new ConfigError('ANTPEER_SECRET must be 32 bytes in base64url (43 characters), e.g. from `openssl rand 32 | basenc --base64url`');
  }
  const signingAlgorithm = text(source, 'ANTPEER_SIGNING_ALG') ?? 'EdDSA';
  if (!['EdDSA', 'ES256', 'RS256'].includes(signingAlgorithm)) {
    throw new ConfigError(`ANTPEER_SIGNING_ALG must be EdDSA, ES256 or RS256, got "${signingAlgorithm}"`);
  }
  const bootstrapUsername = text(source, 'ANTPEER_BOOTSTRAP_USERNAME');
  const bootstrapPassword = text(source, 'ANTPEER_BOOTSTRAP_PASSWORD');
  if (bootstrapPassword !== null && bootstrapUsername === null) {
    throw new ConfigError('ANTPEER_BOOTSTRAP_PASSWORD is set but ANTPEER_BOOTSTRAP_USERNAME is not');
  }
  if (bootstrapUsername !== null && !isValidUsername(bootstrapUsername)) {
    throw new ConfigError(`ANTPEER_BOOTSTRAP_USERNAME ${USERNAME_RULE}`);
  }
  if (bootstrapPassword !== null && !isValidPassword(bootstrapPassword)) {
    throw new ConfigError(`ANTPEER_BOOTSTRAP_PASSWORD ${PASSWORD_RULE}`);
  }
  const logLevel = text(source, 'ANTPEER_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`ANTPEER_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const trustProxy = text(source, 'ANTPEER_TRUST_PROXY') ?? 'false';
  if (trustProxy !== 'true' && trustProxy !== 'false') {
    throw new ConfigError(`ANTPEER_TRUST_PROXY must be true or false, got "${trustProxy}"`);
  }

  const databaseUrl = url(source, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const hashDefaults = hashPoolDefaults(integer(source, 'ANTPEER_HASH_CONCURRENCY', hashPoolDefaults().concurrency, 1, 256));

  return Object.freeze({
    port,
    host,
    basePath: base,
    issuer,
    audience: text(source, 'ANTPEER_AUDIENCE') ?? issuer,
    dataDir: resolve(text(source, 'ANTPEER_DATA_DIR') ?? './data'),
    databaseUrl,
    databaseSchema: databaseSchema(source, databaseUrl),
    databasePoolSize: integer(source, 'ANTPEER_DATABASE_POOL_SIZE', 10, 1, 1000),
    migrateOnStart: flag(source, 'ANTPEER_MIGRATE_ON_START', true),
    auditRetention: integer(source, 'ANTPEER_AUDIT_RETENTION', 90, 0, 36_500),
    purgeInterval: integer(source, 'ANTPEER_PURGE_INTERVAL', 600, 0, 86_400),
    secret,
    accessTokenTtl,
    sessionIdle,
    sessionMax,
    refreshGrace: integer(source, 'ANTPEER_REFRESH_GRACE', 10, 0, 300),
    signingAlgorithm: signingAlgorithm as SigningAlgorithm,
    bootstrapUsername,
    bootstrapPassword,
    upstream: url(source, 'ANTPEER_UPSTREAM', ['http:', 'https:']),
    upstreamTimeout: integer(source, 'ANTPEER_UPSTREAM_TIMEOUT', 30, 1, 3600),
    bodyLimit: integer(source, 'ANTPEER_BODY_LIMIT', 16_384, 256, 1_048_576),
    lockoutThreshold: integer(source, 'ANTPEER_LOCKOUT_THRESHOLD', 10, 1, 1_000_000),
    lockoutWindow: integer(source, 'ANTPEER_LOCKOUT_WINDOW', 900, 1, 86_400),
    sourceFailureLimit: integer(source, 'ANTPEER_SOURCE_FAILURE_LIMIT', 50, 1, 1_000_000),
    sourceWindow: integer(source, 'ANTPEER_SOURCE_WINDOW', 300, 1, 86_400),
    trustProxy: trustProxy === 'true',
    logLevel,
    hashConcurrency: hashDefaults.concurrency,
    hashQueue: integer(source, 'ANTPEER_HASH_QUEUE', hashDefaults.queueLimit, 0, 100_000),
    hashMaxWaitMs: integer(source, 'ANTPEER_HASH_MAX_WAIT_MS', hashDefaults.maxWaitMs, 1, 600_000),
  });
}

/** What a username must look like; said in errors. */
export const USERNAME_RULE = 'must be 1 to 128 printable characters without spaces';
/** What a password must look like; said in errors. */
export const PASSWORD_RULE = 'must be 12 to 1024 characters';

/** Whether `name` is acceptable as a client application's username. */
export function isValidUsername(name: string): boolean {
  return /^[\x21-\x7e\u00a1-\uffff]{1,128}$/u.test(name);
}

/** Whether `password` is acceptable for a new client application. */
export function isValidPassword(password: string): boolean {
  return password.length >= 12 && password.length <= 1024;
}
