import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

/** Asserts that `env` is refused with a ConfigError whose message names `variable`. */
function assertRefused(env: Record<string, string>, variable: string): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.match(error.message, new RegExp(`(^|[^A-Z_])${variable}([^A-Z_]|$)`), error.message);
      return true;
    },
  );
}

describe('loadConfig defaults', () => {
  test('an empty environment gives the documented defaults', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.basePath, '/bankit-api/antPeer/v1');
    assert.equal(config.issuer, 'http://127.0.0.1:8080/bankit-api/antPeer/v1');
    assert.equal(config.audience, config.issuer);
    assert.equal(config.dataDir, resolve('./data'));
    assert.equal(config.databaseUrl, null);
    assert.equal(config.secret, null);
    assert.equal(config.accessTokenTtlMs, 900 * 1000);
    assert.equal(config.sessions.idleMs, 1800 * 1000);
    assert.equal(config.sessions.maxMs, 36_000 * 1000);
    assert.equal(config.sessions.graceMs, 10 * 1000);
    assert.equal(config.signingAlgorithm, 'EdDSA');
    assert.equal(config.bootstrapUsername, null);
    assert.equal(config.bootstrapPassword, null);
    assert.equal(config.upstream, null);
    assert.equal(config.bodyLimit, 16_384);
    assert.equal(config.trustProxy, false);
    assert.equal(config.logLevel, 'info');
  });

  test('the HTTP edge and gateway limits have the documented defaults', () => {
    const config = loadConfig({});
    assert.equal(config.headersTimeoutMs, 10_000);
    assert.equal(config.requestTimeoutMs, 30_000);
    assert.equal(config.keepAliveTimeoutMs, 5_000);
    assert.equal(config.idleTimeoutMs, 60_000);
    assert.equal(config.maxConnections, 4096);
    assert.equal(config.maxConnectionsPerAddress, 128);
    assert.equal(config.metricsHost, '127.0.0.1');
    assert.equal(config.metricsPort, 9464);
    assert.equal(config.gatewayBodyLimitBytes, 1_048_576);
    assert.equal(config.upstreamForwardAuthorization, false);
    assert.equal(config.upstreamForwardCookies, false);
    assert.equal(config.upstreamConnections, 128);
    assert.equal(config.upstreamQueueLimit, 256);
    assert.equal(config.upstreamQueueTimeoutMs, 5_000);
    assert.equal(config.upstreamMaxResponseBytes, 0);
    assert.equal(config.upstreamMaxDurationMs, 0);
  });

  test('ANTPEER_METRICS_PORT takes a port, 0 for an ephemeral one, or off', () => {
    assert.equal(loadConfig({ ANTPEER_METRICS_PORT: '9100' }).metricsPort, 9100);
    assert.equal(loadConfig({ ANTPEER_METRICS_PORT: '0' }).metricsPort, 0);
    assert.equal(loadConfig({ ANTPEER_METRICS_PORT: 'off' }).metricsPort, null);
  });

  test('ANTPEER_TRUST_PROXY takes false, a hop count, or proxy addresses and CIDRs', () => {
    assert.equal(loadConfig({ ANTPEER_TRUST_PROXY: 'false' }).trustProxy, false);
    assert.equal(loadConfig({ ANTPEER_TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ ANTPEER_TRUST_PROXY: '10.0.0.0/8, 192.0.2.7,::1,fd00::/8' }).trustProxy, ['10.0.0.0/8', '192.0.2.7', '::1', 'fd00::/8']);
  });

  test('ANTPEER_TRUST_PROXY=true is refused with a message that gives the accepted forms', () => {
    assert.throws(() => loadConfig({ ANTPEER_TRUST_PROXY: 'true' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /ANTPEER_TRUST_PROXY=true is refused/);
      assert.match(error.message, /number of proxies/);
      assert.match(error.message, /CIDR/);
      return true;
    });
  });

  test('an empty string counts as unset', () => {
    const config = loadConfig({ PORT: '', HOST: '', ANTPEER_SESSION_IDLE: '', DATABASE_URL: '', ANTPEER_ISSUER: '' });
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.sessions.idleMs, 1800 * 1000);
    assert.equal(config.databaseUrl, null);
    assert.equal(config.issuer, 'http://127.0.0.1:8080/bankit-api/antPeer/v1');
  });

  test('the issuer is derived from HOST, PORT and ANTPEER_BASE_PATH', () => {
    const config = loadConfig({ HOST: '0.0.0.0', PORT: '9000', ANTPEER_BASE_PATH: '/api/v2/' });
    assert.equal(config.basePath, '/api/v2');
    assert.equal(config.issuer, 'http://0.0.0.0:9000/api/v2');
  });

  test('an IPv6 HOST is bracketed in the derived issuer', () => {
    assert.equal(loadConfig({ HOST: '::1', PORT: '8081' }).issuer, 'http://[::1]:8081/bankit-api/antPeer/v1');
  });

  test('ANTPEER_ISSUER is used as given, without a trailing slash, and is the default audience', () => {
    const config = loadConfig({ ANTPEER_ISSUER: 'https://auth.example.com/bankit-api/antPeer/v1/' });
    assert.equal(config.issuer, 'https://auth.example.com/bankit-api/antPeer/v1');
    assert.equal(config.audience, config.issuer);
  });

  test('valid values of every kind are accepted', () => {
    const config = loadConfig({
      PORT: '0',
      ANTPEER_DATA_DIR: '/tmp/antpeer-somewhere',
      DATABASE_URL: 'postgres://user:pw@localhost:5432/antpeer',
      ANTPEER_ACCESS_TOKEN_TTL: '300',
      ANTPEER_SESSION_IDLE: '600',
      ANTPEER_SESSION_MAX: '600',
      ANTPEER_REFRESH_GRACE: '0',
      ANTPEER_SECRET: Buffer.alloc(32, 7).toString('base64url'),
      ANTPEER_SIGNING_ALG: 'ES256',
      ANTPEER_BOOTSTRAP_USERNAME: 'merchant-app',
      ANTPEER_BOOTSTRAP_PASSWORD: 'twelve chars!',
      ANTPEER_UPSTREAM: 'http://127.0.0.1:9999',
      ANTPEER_LOG_LEVEL: 'warn',
    });
    assert.equal(config.port, 0);
    assert.equal(config.dataDir, '/tmp/antpeer-somewhere');
    assert.equal(config.databaseUrl, 'postgres://user:pw@localhost:5432/antpeer');
    assert.equal(config.accessTokenTtlMs, 300 * 1000);
    assert.equal(config.sessions.idleMs, 600 * 1000);
    assert.equal(config.sessions.maxMs, 600 * 1000);
    assert.equal(config.sessions.graceMs, 0 * 1000);
    assert.equal(config.signingAlgorithm, 'ES256');
    assert.equal(config.bootstrapUsername, 'merchant-app');
    assert.equal(config.bootstrapPassword, 'twelve chars!');
    assert.equal(config.upstream, 'http://127.0.0.1:9999');
    assert.equal(config.logLevel, 'warn');
  });

  test('a bootstrap username alone is accepted (the password is then generated)', () => {
    const config = loadConfig({ ANTPEER_BOOTSTRAP_USERNAME: 'merchant-app' });
    assert.equal(config.bootstrapUsername, 'merchant-app');
    assert.equal(config.bootstrapPassword, null);
  });

  test('the returned configuration is frozen', () => {
    const config = loadConfig({});
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.equal(config.port, 8080);
  });
});

describe('loadConfig refuses a bad value with a ConfigError naming the variable', () => {
  const cases: Array<[variable: string, env: Record<string, string>]> = [
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '65536' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '80.5' }],
    ['PORT', { PORT: '0x50' }],
    ['ANTPEER_BASE_PATH', { ANTPEER_BASE_PATH: 'no/leading/slash' }],
    ['ANTPEER_BASE_PATH', { ANTPEER_BASE_PATH: '/with space' }],
    ['ANTPEER_BASE_PATH', { ANTPEER_BASE_PATH: '/query?x=1' }],
    ['ANTPEER_ISSUER', { ANTPEER_ISSUER: 'not a url' }],
    ['ANTPEER_ISSUER', { ANTPEER_ISSUER: 'ftp://auth.example.com' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['DATABASE_URL', { DATABASE_URL: 'localhost:5432' }],
    ['ANTPEER_ACCESS_TOKEN_TTL', { ANTPEER_ACCESS_TOKEN_TTL: '0' }],
    ['ANTPEER_ACCESS_TOKEN_TTL', { ANTPEER_ACCESS_TOKEN_TTL: '15m' }],
    ['ANTPEER_SESSION_IDLE', { ANTPEER_SESSION_IDLE: '-5' }],
    ['ANTPEER_SESSION_IDLE', { ANTPEER_SESSION_IDLE: '1e3' }],
    ['ANTPEER_SESSION_MAX', { ANTPEER_SESSION_MAX: 'forever' }],
    ['ANTPEER_SESSION_MAX', { ANTPEER_SESSION_IDLE: '1800', ANTPEER_SESSION_MAX: '1799' }],
    ['ANTPEER_SESSION_MAX', { ANTPEER_SESSION_MAX: '900' }],
    ['ANTPEER_REFRESH_GRACE', { ANTPEER_REFRESH_GRACE: '-1' }],
    ['ANTPEER_REFRESH_GRACE', { ANTPEER_REFRESH_GRACE: '301' }],
    ['ANTPEER_REFRESH_GRACE', { ANTPEER_REFRESH_GRACE: 'ten' }],
    ['ANTPEER_SECRET', { ANTPEER_SECRET: 'too-short' }],
    ['ANTPEER_SECRET', { ANTPEER_SECRET: `${'A'.repeat(42)}=` }],
    ['ANTPEER_SIGNING_ALG', { ANTPEER_SIGNING_ALG: 'HS256' }],
    ['ANTPEER_SIGNING_ALG', { ANTPEER_SIGNING_ALG: 'none' }],
    ['ANTPEER_SIGNING_ALG', { ANTPEER_SIGNING_ALG: 'eddsa' }],
    ['ANTPEER_BOOTSTRAP_PASSWORD', { ANTPEER_BOOTSTRAP_PASSWORD: 'a good long password' }],
    ['ANTPEER_BOOTSTRAP_PASSWORD', { ANTPEER_BOOTSTRAP_USERNAME: 'merchant-app', ANTPEER_BOOTSTRAP_PASSWORD: 'short' }],
    ['ANTPEER_BOOTSTRAP_USERNAME', { ANTPEER_BOOTSTRAP_USERNAME: 'has space' }],
    ['ANTPEER_UPSTREAM', { ANTPEER_UPSTREAM: 'not a url' }],
    ['ANTPEER_UPSTREAM', { ANTPEER_UPSTREAM: 'file:///etc/passwd' }],
    ['ANTPEER_LOG_LEVEL', { ANTPEER_LOG_LEVEL: 'verbose' }],
    ['ANTPEER_TRUST_PROXY', { ANTPEER_TRUST_PROXY: 'yes' }],
    ['ANTPEER_TRUST_PROXY', { ANTPEER_TRUST_PROXY: 'true' }],
    ['ANTPEER_TRUST_PROXY', { ANTPEER_TRUST_PROXY: '0' }],
    ['ANTPEER_TRUST_PROXY', { ANTPEER_TRUST_PROXY: '10.0.0.0/33' }],
    ['ANTPEER_TRUST_PROXY', { ANTPEER_TRUST_PROXY: '10.0.0.1,proxy.internal' }],
    ['ANTPEER_TRUST_PROXY', { ANTPEER_TRUST_PROXY: '::1/129' }],
    ['ANTPEER_HEADERS_TIMEOUT', { ANTPEER_HEADERS_TIMEOUT: '0' }],
    ['ANTPEER_HEADERS_TIMEOUT', { ANTPEER_HEADERS_TIMEOUT: '40', ANTPEER_REQUEST_TIMEOUT: '30' }],
    ['ANTPEER_REQUEST_TIMEOUT', { ANTPEER_REQUEST_TIMEOUT: 'soon' }],
    ['ANTPEER_KEEP_ALIVE_TIMEOUT', { ANTPEER_KEEP_ALIVE_TIMEOUT: '0' }],
    ['ANTPEER_IDLE_TIMEOUT', { ANTPEER_IDLE_TIMEOUT: '-1' }],
    ['ANTPEER_IDLE_TIMEOUT', { ANTPEER_UPSTREAM: 'http://127.0.0.1:9', ANTPEER_UPSTREAM_TIMEOUT: '60', ANTPEER_IDLE_TIMEOUT: '60' }],
    ['ANTPEER_MAX_CONNECTIONS', { ANTPEER_MAX_CONNECTIONS: '0' }],
    ['ANTPEER_MAX_CONNECTIONS_PER_ADDRESS', { ANTPEER_MAX_CONNECTIONS_PER_ADDRESS: 'many' }],
    ['ANTPEER_METRICS_PORT', { ANTPEER_METRICS_PORT: '65536' }],
    ['ANTPEER_METRICS_PORT', { ANTPEER_METRICS_PORT: 'on' }],
    ['ANTPEER_METRICS_HOST', { ANTPEER_METRICS_HOST: 'metrics.example.com' }],
    ['ANTPEER_GATEWAY_BODY_LIMIT', { ANTPEER_GATEWAY_BODY_LIMIT: '1e6' }],
    ['ANTPEER_UPSTREAM_FORWARD_AUTHORIZATION', { ANTPEER_UPSTREAM_FORWARD_AUTHORIZATION: 'yes' }],
    ['ANTPEER_UPSTREAM_FORWARD_COOKIES', { ANTPEER_UPSTREAM_FORWARD_COOKIES: '1' }],
    ['ANTPEER_UPSTREAM_CONNECTIONS', { ANTPEER_UPSTREAM_CONNECTIONS: '0' }],
    ['ANTPEER_UPSTREAM_QUEUE', { ANTPEER_UPSTREAM_QUEUE: '-1' }],
    ['ANTPEER_UPSTREAM_QUEUE_TIMEOUT', { ANTPEER_UPSTREAM_QUEUE_TIMEOUT: '0' }],
    ['ANTPEER_UPSTREAM_MAX_RESPONSE_BYTES', { ANTPEER_UPSTREAM_MAX_RESPONSE_BYTES: '1MB' }],
    ['ANTPEER_UPSTREAM_MAX_DURATION', { ANTPEER_UPSTREAM_MAX_DURATION: '-5' }],
    ['ANTPEER_BODY_LIMIT', { ANTPEER_BODY_LIMIT: '10' }],
    ['ANTPEER_DATABASE_SCHEMA', { ANTPEER_DATABASE_SCHEMA: 'drop table; --' }],
    ['ANTPEER_DATABASE_POOL_SIZE', { ANTPEER_DATABASE_POOL_SIZE: '0' }],
    ['ANTPEER_MIGRATE_ON_START', { ANTPEER_MIGRATE_ON_START: 'no' }],
    ['ANTPEER_AUDIT_RETENTION', { ANTPEER_AUDIT_RETENTION: '-1' }],
    ['ANTPEER_PURGE_INTERVAL', { ANTPEER_PURGE_INTERVAL: 'hourly' }],
  ];
  for (const [variable, env] of cases) {
    const shown = Object.entries(env)
      .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
      .join(' ');
    test(`${shown} is refused naming ${variable}`, () => assertRefused(env, variable));
  }
});

describe('loadConfig with ANTPEER_CONFIG_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'antpeer-config-'));
  const write = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('values from the file are used, numbers and strings alike', () => {
    const file = write('ok.json', JSON.stringify({ PORT: 9090, HOST: '127.0.0.2', ANTPEER_SESSION_IDLE: '600', ANTPEER_REFRESH_GRACE: 0 }));
    const config = loadConfig({ ANTPEER_CONFIG_FILE: file });
    assert.equal(config.port, 9090);
    assert.equal(config.host, '127.0.0.2');
    assert.equal(config.sessions.idleMs, 600 * 1000);
    assert.equal(config.sessions.graceMs, 0 * 1000);
    assert.equal(config.issuer, 'http://127.0.0.2:9090/bankit-api/antPeer/v1');
  });

  test('an environment variable overrides the same key in the file', () => {
    const file = write('override.json', JSON.stringify({ PORT: 9090, ANTPEER_SESSION_IDLE: 600 }));
    const config = loadConfig({ ANTPEER_CONFIG_FILE: file, PORT: '7070' });
    assert.equal(config.port, 7070);
    assert.equal(config.sessions.idleMs, 600 * 1000);
  });

  test('an empty environment variable does not hide the file’s value', () => {
    const file = write('empty-env.json', JSON.stringify({ PORT: 9090 }));
    assert.equal(loadConfig({ ANTPEER_CONFIG_FILE: file, PORT: '' }).port, 9090);
  });

  test('a bad value in the file is refused naming the variable', () => {
    assertRefused({ ANTPEER_CONFIG_FILE: write('bad-value.json', JSON.stringify({ ANTPEER_SIGNING_ALG: 'HS256' })) }, 'ANTPEER_SIGNING_ALG');
  });

  test('a file that is missing, not JSON, not an object or holds a nested value is refused naming ANTPEER_CONFIG_FILE', () => {
    for (const file of [
      join(dir, 'missing.json'),
      write('not-json.json', 'PORT=8080'),
      write('array.json', '[1, 2]'),
      write('nested.json', JSON.stringify({ PORT: { value: 1 } })),
    ]) {
      assertRefused({ ANTPEER_CONFIG_FILE: file }, 'ANTPEER_CONFIG_FILE');
    }
  });
});

describe('loadConfig: issuer and host shapes', () => {
  test(
    'ANTPEER_ISSUER with a query or fragment is refused naming ANTPEER_ISSUER (RFC 8414 §2)',
    () => assertRefused({ ANTPEER_ISSUER: 'https://auth.example.com/v1?tenant=a#x' }, 'ANTPEER_ISSUER'),
  );
  test(
    'a HOST that is not a host name or address is refused naming HOST',
    () => assertRefused({ HOST: 'not a host' }, 'HOST'),
  );
});

describe('loadConfig: password hashing pool', () => {
  test('defaults to one hashing thread per core, 64 waiting checks per thread and two seconds of waiting', () => {
    const config = loadConfig({});
    assert.equal(config.hashConcurrency, availableParallelism());
    assert.equal(config.hashQueue, 64 * availableParallelism());
    assert.equal(config.hashMaxWaitMs, 2000);
  });

  test('the queue follows the configured concurrency unless set itself', () => {
    assert.equal(loadConfig({ ANTPEER_HASH_CONCURRENCY: '3' }).hashQueue, 192);
    assert.equal(loadConfig({ ANTPEER_HASH_CONCURRENCY: '3', ANTPEER_HASH_QUEUE: '0' }).hashQueue, 0);
  });

  test('a pool that could not hash, or a deadline of nothing, is refused naming the variable', () => {
    assertRefused({ ANTPEER_HASH_CONCURRENCY: '0' }, 'ANTPEER_HASH_CONCURRENCY');
    assertRefused({ ANTPEER_HASH_QUEUE: '-1' }, 'ANTPEER_HASH_QUEUE');
    assertRefused({ ANTPEER_HASH_MAX_WAIT_MS: '0' }, 'ANTPEER_HASH_MAX_WAIT_MS');
  });
});
