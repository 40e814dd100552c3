import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

const URL = 'postgres://postgres@127.0.0.1:5432/test';

describe('scale-out configuration', () => {
  test('the defaults: schema public, 10 connections, migrate at start, 90 days of audit, purge every 10 minutes', () => {
    const config = loadConfig({ DATABASE_URL: URL });
    assert.equal(config.databaseSchema, 'public');
    assert.equal(config.databasePoolSize, 10);
    assert.equal(config.migrateOnStart, true);
    assert.equal(config.maintenance.auditRetentionMs, 90 * 86_400_000);
    assert.equal(config.maintenance.purgeIntervalMs, 600 * 1000);
  });

  test('the schema comes from ANTPEER_DATABASE_SCHEMA or from ?schema= in DATABASE_URL', () => {
    assert.equal(loadConfig({ DATABASE_URL: URL, ANTPEER_DATABASE_SCHEMA: 'auth' }).databaseSchema, 'auth');
    assert.equal(loadConfig({ DATABASE_URL: `${URL}?schema=auth_2` }).databaseSchema, 'auth_2');
    assert.equal(loadConfig({ DATABASE_URL: `${URL}?schema=auth`, ANTPEER_DATABASE_SCHEMA: 'auth' }).databaseSchema, 'auth');
  });

  test('two different schemas, or one that is not a plain identifier, stop the start naming the variable', () => {
    assert.throws(() => loadConfig({ DATABASE_URL: `${URL}?schema=a`, ANTPEER_DATABASE_SCHEMA: 'b' }), /ANTPEER_DATABASE_SCHEMA.*differ/);
    assert.throws(() => loadConfig({ ANTPEER_DATABASE_SCHEMA: 'x"; drop' }), /ANTPEER_DATABASE_SCHEMA must be a plain SQL identifier/);
    assert.throws(() => loadConfig({ DATABASE_URL: `${URL}?schema=1abc` }), /DATABASE_URL \?schema= must be/);
  });

  test('bad pool sizes, switches, retentions and intervals are refused by name', () => {
    for (const [name, value] of [
      ['ANTPEER_DATABASE_POOL_SIZE', '0'],
      ['ANTPEER_DATABASE_POOL_SIZE', 'many'],
      ['ANTPEER_MIGRATE_ON_START', 'no'],
      ['ANTPEER_AUDIT_RETENTION', '-1'],
      ['ANTPEER_PURGE_INTERVAL', '1h'],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (error: unknown) => error instanceof ConfigError && error.message.includes(name),
        `${name}=${value}`,
      );
    }
    const config = loadConfig({ ANTPEER_MIGRATE_ON_START: 'false', ANTPEER_PURGE_INTERVAL: '0', ANTPEER_AUDIT_RETENTION: '0' });
    assert.equal(config.migrateOnStart, false);
    assert.equal(config.maintenance.purgeIntervalMs, 0 * 1000);
    assert.equal(config.maintenance.auditRetentionMs, 0 * 86_400_000);
  });
});
