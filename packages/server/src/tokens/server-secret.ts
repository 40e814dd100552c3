import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import { SECRET_SHAPE, randomSecret } from '../random.js';

/**
 * The server secret seals signing keys and the refresh-token HMAC key in the store. It comes from
 * `ANTPEER_SECRET`, or from `secret.key` in the data directory, created (mode 0600) on first start.
 * It is never stored in the database.
 */
export function loadServerSecret(config: Pick<Config, 'secret' | 'dataDir'>): Buffer {
  if (config.secret !== null) return Buffer.from(config.secret, 'base64url');
  const path = join(config.dataDir, 'secret.key');
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, `${randomSecret()}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  chmodSync(path, 0o600);
  const value = readFileSync(path, 'utf8').trim();
  if (!SECRET_SHAPE.test(value)) {
    throw new ConfigError(`${path} does not hold a 32-byte base64url secret; restore it or set ANTPEER_SECRET`);
  }
  return Buffer.from(value, 'base64url');
}
