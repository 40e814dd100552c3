import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { SECRET_SHAPE } from './random.js';
import { SCHEMA_NAME } from './store/schema-name.js';
import type { BruteForcePolicy } from './credentials/brute-force.js';
import { PASSWORD_RULE, USERNAME_RULE, isValidPassword, isValidUsername } from './credentials/rules.js';
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
  /** Longest a PostgreSQL statement may run, and wait for a lock, before it fails (answered 503 with Retry-After). */
  databaseStatementTimeoutMs: number;
  databaseLockTimeoutMs: number;
  /** Apply pending store migrations at start; when false, start refuses a store that needs them. */
  migrateOnStart: boolean;
  /** Housekeeping. */
  maintenance: MaintenancePolicy;
  /** Server secret (base64url, 32 bytes) given by the operator; null means `dataDir/secret.key`. */
  secret: string | null;
  /** Access tokens' lifetime (ms); a JWT's `exp` is whole seconds, so it is a whole number of seconds. */
  accessTokenTtlMs: number;
  sessions: SessionPolicy;
  signingAlgorithm: SigningAlgorithm;
  bootstrapUsername: string | null;
  bootstrapPassword: string | null;
  upstream: string | null;
  upstreamTimeout: number;
  bodyLimit: number;
  bruteForce: BruteForcePolicy;
  /** Who may state the client's address in `X-Forwarded-For`: nobody, the nearest N proxies, or these addresses and CIDRs. */
  trustProxy: TrustProxy;
  logLevel: string;

  // The HTTP edge: connection timeouts and caps (per process), and the metrics listener.
  /** Most time to receive a request's headers. */
  headersTimeoutMs: number;
  /** Most time to receive a whole request, headers and body. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection waits for the next request. */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic either way for this long is closed. */
  idleTimeoutMs: number;
  /** Most open connections; further ones are closed at once. */
  maxConnections: number;
  /** Most open connections from one address (trusted proxies excepted); 0 = no cap. */
  maxConnectionsPerAddress: number;
  /** Where `/metrics` is served; `metricsPort` null = not at all, 0 = an ephemeral port. */
  metricsHost: string;
  metricsPort: number | null;

  // The gateway to the upstream.
  /** Largest request body forwarded to the upstream. */
  gatewayBodyLimitBytes: number;
  /** Forward the caller's `Authorization` header (the upstream could replay the token). */
  upstreamForwardAuthorization: boolean;
  /** Forward the caller's `Cookie` header. */
  upstreamForwardCookies: boolean;
  /** Most concurrent requests to the upstream (its connection pool). */
  upstreamConnections: number;
  /** Most requests waiting for an upstream connection; more get 503 at once. */
  upstreamQueueLimit: number;
  /** Longest wait for an upstream connection before 503. */
  upstreamQueueTimeoutMs: number;
  /** Largest upstream response passed on; 0 = no cap. */
  upstreamMaxResponseBytes: number;
  /** Longest whole upstream exchange, response body included; 0 = no cap. */
  upstreamMaxDurationMs: number;
  /** Password hashes computed at once, each on its own thread (per process). */
  hashConcurrency: number;
  /** Password checks that may wait for a hashing thread; more are refused with 503. */
  hashQueue: number;
  /** A password check that waited longer than this for a thread is refused with 503 instead of run. */
  hashMaxWaitMs: number;
  /** The web console; null when it is off (the default). */
  adminConsole: AdminConsoleSettings | null;
  /** Sender-constrained tokens (RFC 9449). */
  dpop: DpopPolicy;
}

/** Where the web console is served and how long its sign-ins last; durations in milliseconds. */
export interface AdminConsoleSettings {
  /** The path it is served under, outside the base path, e.g. `/admin`. */
  path: string;
  /** A console session unused this long ends. */
  idleMs: number;
  /** A console session ends this long after sign-in, however busy. */
  absoluteMs: number;
}

/** How DPoP proofs are checked (RFC 9449); durations in milliseconds. */
export interface DpopPolicy {
  /** The proof `alg`s accepted (and advertised as `dpop_signing_alg_values_supported`). */
  algorithms: readonly string[];
  /** How old a proof's `iat` may be. */
  proofMaxAgeMs: number;
  /** Leeway for a proof's `iat` against clock skew, either way. */
  clockSkewMs: number;
  /** Require a server nonce (`DPoP-Nonce`, RFC 9449 §8) in every proof. */
  nonce: boolean;
}

/** The proof algorithms the server can check; `none` and symmetric ones never. */
const DPOP_ALGORITHMS = ['EdDSA', 'Ed25519', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'];

/** `ANTPEER_DPOP_*`. */
function dpopPolicy(source: Source): DpopPolicy {
  const algorithms = (text(source, 'ANTPEER_DPOP_ALGS') ?? 'EdDSA Ed25519 ES256 PS256 RS256').split(/[\s,]+/).filter((alg) => alg !== '');
  const unknown = algorithms.find((alg) => !DPOP_ALGORITHMS.includes(alg));
  if (algorithms.length === 0 || unknown !== undefined) {
    throw new ConfigError(`ANTPEER_DPOP_ALGS must list algorithms among ${DPOP_ALGORITHMS.join(' ')}, got "${unknown ?? ''}"`);
  }
  const nonce = text(source, 'ANTPEER_DPOP_NONCE') ?? 'off';
  if (nonce !== 'on' && nonce !== 'off') throw new ConfigError(`ANTPEER_DPOP_NONCE must be on or off, got "${nonce}"`);
  return Object.freeze({
    algorithms: Object.freeze([...new Set(algorithms)]),
    proofMaxAgeMs: integer(source, 'ANTPEER_DPOP_PROOF_MAX_AGE', 60, 1, 600) * SECOND_MS,
    clockSkewMs: integer(source, 'ANTPEER_DPOP_CLOCK_SKEW', 5, 0, 300) * SECOND_MS,
    nonce: nonce === 'on',
  });
}

/** How sessions live (DESIGN §2); durations in milliseconds. */
export interface SessionPolicy {
  /** A refresh token's lifetime; the session's idle timeout slides by it on every refresh. */
  idleMs: number;
  /** A session's max lifetime; never slides. */
  maxMs: number;
  /** How long after a rotation the previous refresh token converges on the same successor; 0 is strict single use. */
  graceMs: number;
  /** Most sessions a client application may have active at once; a login beyond it is refused. */
  maxActivePerUser: number;
  /** Most refreshes of one session within `refreshWindowMs`; more are answered 429. */
  refreshLimit: number;
  refreshWindowMs: number;
}

/** Housekeeping; durations in milliseconds. */
export interface MaintenancePolicy {
  /** How long an audit event is kept before the purge deletes it; 0 keeps them forever. */
  auditRetentionMs: number;
  /** Between two runs of the background purge; 0 turns it off (run `antpeer-auth purge` instead). */
  purgeIntervalMs: number;
}

const SECOND_MS = 1000;
const DAY_MS = 86_400_000;

/**
 * Who may state the client's address in `X-Forwarded-For` (Fastify's `trustProxy`): `false` for
 * nobody, a number for the nearest N hops, or a list of proxy addresses and CIDRs.
 */
export type TrustProxy = false | number | readonly string[];

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

/** Paths the server answers outside the base path, which the console must not shadow. */
const RESERVED_PATHS = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/.well-known'];

/** `ANTPEER_ADMIN_*`: the web console, off unless `ANTPEER_ADMIN_CONSOLE=true`. */
function adminConsole(source: Source, base: string): AdminConsoleSettings | null {
  if (!flag(source, 'ANTPEER_ADMIN_CONSOLE', false)) return null;
  const raw = text(source, 'ANTPEER_ADMIN_PATH') ?? '/admin';
  if (!/^(\/[A-Za-z0-9._~-]+)+\/?$/.test(raw)) {
    throw new ConfigError(`ANTPEER_ADMIN_PATH must be a path like /admin (not /), got "${raw}"`);
  }
  const path = raw.replace(/\/$/, '');
  const within = (outer: string, inner: string) => inner === outer || inner.startsWith(`${outer}/`);
  if (base === '' || within(base, path) || within(path, base)) {
    throw new ConfigError(`ANTPEER_ADMIN_PATH (${path}) must be outside ANTPEER_BASE_PATH (${base || '/'}): that is the application namespace`);
  }
  const reserved = RESERVED_PATHS.find((taken) => within(taken, path) || within(path, taken));
  if (reserved !== undefined) throw new ConfigError(`ANTPEER_ADMIN_PATH (${path}) overlaps ${reserved}, which the server already answers`);
  const idle = integer(source, 'ANTPEER_ADMIN_SESSION_IDLE', 900, 60, 86_400);
  const absolute = integer(source, 'ANTPEER_ADMIN_SESSION_MAX', 28_800, 60, 604_800);
  if (absolute < idle) {
    throw new ConfigError(`ANTPEER_ADMIN_SESSION_MAX (${absolute}) must be at least ANTPEER_ADMIN_SESSION_IDLE (${idle})`);
  }
  return Object.freeze({ path, idleMs: idle * SECOND_MS, absoluteMs: absolute * SECOND_MS });
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
  if (secret !== null && !SECRET_SHAPE.test(secret)) {
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
  const upstreamTimeout = integer(source, 'ANTPEER_UPSTREAM_TIMEOUT', 30, 1, 3600);
  const edge = edgeSettings(source);
  const upstream = url(source, 'ANTPEER_UPSTREAM', ['http:', 'https:']);
  if (upstream !== null && edge.idleTimeoutMs <= upstreamTimeout * 1000) {
    throw new ConfigError(
      `ANTPEER_IDLE_TIMEOUT (${edge.idleTimeoutMs / 1000}) must be more than ANTPEER_UPSTREAM_TIMEOUT (${upstreamTimeout}): ` +
        'a connection waiting for the upstream sends nothing and would be closed first',
    );
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
    databaseStatementTimeoutMs: integer(source, 'ANTPEER_DATABASE_STATEMENT_TIMEOUT', 5, 1, 3600) * SECOND_MS,
    databaseLockTimeoutMs: integer(source, 'ANTPEER_DATABASE_LOCK_TIMEOUT', 2, 1, 3600) * SECOND_MS,
    migrateOnStart: flag(source, 'ANTPEER_MIGRATE_ON_START', true),
    maintenance: Object.freeze({
      auditRetentionMs: integer(source, 'ANTPEER_AUDIT_RETENTION', 90, 0, 36_500) * DAY_MS,
      purgeIntervalMs: integer(source, 'ANTPEER_PURGE_INTERVAL', 600, 0, 86_400) * SECOND_MS,
    }),
    secret,
    accessTokenTtlMs: accessTokenTtl * SECOND_MS,
    sessions: Object.freeze({
      idleMs: sessionIdle * SECOND_MS,
      maxMs: sessionMax * SECOND_MS,
      graceMs: integer(source, 'ANTPEER_REFRESH_GRACE', 10, 0, 300) * SECOND_MS,
      maxActivePerUser: integer(source, 'ANTPEER_MAX_SESSIONS_PER_CLIENT', 1000, 1, 10_000_000),
      refreshLimit: integer(source, 'ANTPEER_SESSION_REFRESH_LIMIT', 60, 1, 1_000_000),
      refreshWindowMs: integer(source, 'ANTPEER_SESSION_REFRESH_WINDOW', 60, 1, 86_400) * SECOND_MS,
    }),
    signingAlgorithm: signingAlgorithm as SigningAlgorithm,
    bootstrapUsername,
    bootstrapPassword,
    upstream,
    upstreamTimeout,
    bodyLimit: integer(source, 'ANTPEER_BODY_LIMIT', 16_384, 256, 1_048_576),
    bruteForce: Object.freeze({
      lockoutThreshold: integer(source, 'ANTPEER_LOCKOUT_THRESHOLD', 10, 1, 1_000_000),
      userLockoutThreshold: integer(source, 'ANTPEER_LOCKOUT_USER_THRESHOLD', 100, 1, 1_000_000),
      lockoutWindowMs: integer(source, 'ANTPEER_LOCKOUT_WINDOW', 900, 1, 86_400) * SECOND_MS,
      knownSourceMs: integer(source, 'ANTPEER_KNOWN_SOURCE_PERIOD', 2_592_000, 0, 31_536_000) * SECOND_MS,
      sourceFailureLimit: integer(source, 'ANTPEER_SOURCE_FAILURE_LIMIT', 50, 1, 1_000_000),
      sourceWindowMs: integer(source, 'ANTPEER_SOURCE_WINDOW', 300, 1, 86_400) * SECOND_MS,
    }),
    trustProxy: trustProxy(source),
    logLevel,
    hashConcurrency: hashDefaults.concurrency,
    hashQueue: integer(source, 'ANTPEER_HASH_QUEUE', hashDefaults.queueLimit, 0, 100_000),
    hashMaxWaitMs: integer(source, 'ANTPEER_HASH_MAX_WAIT_MS', hashDefaults.maxWaitMs, 1, 600_000),
    adminConsole: adminConsole(source, base),
    dpop: dpopPolicy(source),
    ...edge,
  });
}

const TRUST_PROXY_FORMS =
  'false, the number of proxies in front of the server (e.g. 1), or their addresses and CIDRs separated by commas (e.g. 10.0.0.0/8,192.0.2.7)';

/** `ANTPEER_TRUST_PROXY`: `false`, a hop count, or proxy addresses and CIDRs; `true` is refused. */
function trustProxy(source: Source): TrustProxy {
  const raw = text(source, 'ANTPEER_TRUST_PROXY')?.trim() ?? 'false';
  if (raw === 'false') return false;
  if (raw === 'true') {
    throw new ConfigError(
      'ANTPEER_TRUST_PROXY=true is refused: it trusted every X-Forwarded-For hop, so any client could choose its own ' +
        `address (escaping the per-source limits and writing the audit trail). Set ${TRUST_PROXY_FORMS}`,
    );
  }
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops < 1 || hops > 32) throw new ConfigError(`ANTPEER_TRUST_PROXY must be a hop count from 1 to 32, got ${raw}`);
    return hops;
  }
  const entries = raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (!isAddressOrCidr(entry)) throw new ConfigError(`ANTPEER_TRUST_PROXY must be ${TRUST_PROXY_FORMS}; "${entry}" is none of these`);
  }
  return Object.freeze(entries);
}

/** Whether `entry` is an IP address or an IPv4/IPv6 CIDR block. */
function isAddressOrCidr(entry: string): boolean {
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** `ANTPEER_METRICS_PORT`: a port, 0 for an ephemeral one, or `off`. */
function metricsPort(source: Source): number | null {
  return text(source, 'ANTPEER_METRICS_PORT')?.trim() === 'off' ? null : integer(source, 'ANTPEER_METRICS_PORT', 9464, 0, 65535);
}

/** The connection limits, the metrics listener and the gateway's own limits. */
function edgeSettings(source: Source) {
  const seconds = (name: string, fallback: number, min: number, max: number) => integer(source, name, fallback, min, max) * 1000;
  const headersTimeoutMs = seconds('ANTPEER_HEADERS_TIMEOUT', 10, 1, 3600);
  const requestTimeoutMs = seconds('ANTPEER_REQUEST_TIMEOUT', 30, 1, 3600);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(`ANTPEER_HEADERS_TIMEOUT (${headersTimeoutMs / 1000}) must not exceed ANTPEER_REQUEST_TIMEOUT (${requestTimeoutMs / 1000})`);
  }
  const metricsHost = text(source, 'ANTPEER_METRICS_HOST') ?? '127.0.0.1';
  if (isIP(metricsHost) === 0 && metricsHost !== 'localhost') {
    throw new ConfigError(`ANTPEER_METRICS_HOST must be an IP address or localhost, got "${metricsHost}"`);
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: seconds('ANTPEER_KEEP_ALIVE_TIMEOUT', 5, 1, 3600),
    idleTimeoutMs: seconds('ANTPEER_IDLE_TIMEOUT', 60, 1, 86_400),
    maxConnections: integer(source, 'ANTPEER_MAX_CONNECTIONS', 4096, 1, 1_000_000),
    maxConnectionsPerAddress: integer(source, 'ANTPEER_MAX_CONNECTIONS_PER_ADDRESS', 128, 0, 1_000_000),
    metricsHost,
    metricsPort: metricsPort(source),
    gatewayBodyLimitBytes: integer(source, 'ANTPEER_GATEWAY_BODY_LIMIT', 1_048_576, 0, 1_073_741_824),
    upstreamForwardAuthorization: flag(source, 'ANTPEER_UPSTREAM_FORWARD_AUTHORIZATION', false),
    upstreamForwardCookies: flag(source, 'ANTPEER_UPSTREAM_FORWARD_COOKIES', false),
    upstreamConnections: integer(source, 'ANTPEER_UPSTREAM_CONNECTIONS', 128, 1, 65_536),
    upstreamQueueLimit: integer(source, 'ANTPEER_UPSTREAM_QUEUE', 256, 0, 1_000_000),
    upstreamQueueTimeoutMs: seconds('ANTPEER_UPSTREAM_QUEUE_TIMEOUT', 5, 1, 3600),
    upstreamMaxResponseBytes: integer(source, 'ANTPEER_UPSTREAM_MAX_RESPONSE_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
    upstreamMaxDurationMs: seconds('ANTPEER_UPSTREAM_MAX_DURATION', 0, 0, 86_400),
  };
}
