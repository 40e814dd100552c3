/**
 * A {@link TokenStore} on the local file system, so a restarted process keeps its session and
 * several processes on one machine share one session. Node only: import it from
 * `@antpeer/client/file-store`.
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LockTimeoutError } from '../errors.js';
import type { ReleaseLock, TokenSet, TokenStore } from './token-store.js';

/** Options of {@link FileTokenStore}. */
export interface FileTokenStoreOptions {
  /** The directory of the token files; created with mode 0700 when missing. */
  directory: string;
  /**
   * A lock whose file has not been touched for this long belongs to a holder that hung or died, and
   * is taken over. A live holder touches it every third of this. Default 30 000 ms.
   */
  staleLockMs?: number;
  /** How long {@link FileTokenStore.lock} waits for a live holder before it gives up. Default 60 000 ms. */
  lockTimeoutMs?: number;
}

interface LockFileContent {
  pid: number;
  hostname: string;
  id: string;
}

/**
 * Keeps each token set in its own file, `<directory>/<sha256(key)>.json`, mode 0600, written
 * atomically (temporary file, fsync, rename) so a reader or a crash never sees half a file.
 *
 * Its lock is a file created exclusively beside it (`O_EXCL`) holding the owner's pid and host.
 * A lock is stale, and taken over, when its owner is a process on this host that no longer exists,
 * or when it has not been touched for `staleLockMs` (the owner hung, or lives on another host of
 * a shared file system).
 */
export class FileTokenStore implements TokenStore {
  readonly #directory: string;
  readonly #staleLockMs: number;
  readonly #lockTimeoutMs: number;

  /** @throws TypeError when `directory` is missing. */
  constructor(options: FileTokenStoreOptions) {
    if (!options || typeof options.directory !== 'string' || options.directory.length === 0) {
      throw new TypeError('FileTokenStore needs a directory');
    }
    this.#directory = options.directory;
    this.#staleLockMs = options.staleLockMs ?? 30_000;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 60_000;
  }

  /** @inheritDoc */
  async get(key: string): Promise<TokenSet | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path(key, 'json'), 'utf8');
    } catch (error) {
      if (isCode(error, 'ENOENT')) return undefined;
      throw error;
    }
    try {
      const record = JSON.parse(text) as { key?: unknown; value?: TokenSet };
      // The file name is a hash of the key; the key inside guards against a collision or a copy.
      return record.key === key ? record.value : undefined;
    } catch {
      return undefined;
    }
  }

  /** @inheritDoc */
  async set(key: string, value: TokenSet): Promise<void> {
    await this.#ensureDirectory();
    const target = this.#path(key, 'json');
    const temporary = `${target}.${process.pid}.${randomUUID()}.tmp`;
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify({ key, value }));
      await handle.sync();
    } catch (error) {
      await handle.close();
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    await handle.close();
    try {
      await rename(temporary, target);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    await this.#syncDirectory();
  }

  /** @inheritDoc */
  async delete(key: string): Promise<void> {
    try {
      await unlink(this.#path(key, 'json'));
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error;
    }
  }

  /** @inheritDoc */
  async lock(key: string, signal?: AbortSignal): Promise<ReleaseLock> {
    await this.#ensureDirectory();
    const path = this.#path(key, 'lock');
    const content: LockFileContent = { pid: process.pid, hostname: hostname(), id: randomUUID() };
    const deadline = Date.now() + this.#lockTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      if (await tryCreate(path, content)) return this.#held(path, content.id);
      if (await this.#breakIfStale(path)) continue;
      if (Date.now() >= deadline) {
        throw new LockTimeoutError(`Another process has held the token store lock for over ${this.#lockTimeoutMs} ms`);
      }
      // Short, jittered polls: a refresh usually takes one round trip.
      await delay(Math.min(5 * 2 ** Math.min(attempt, 4), 50) * (0.5 + Math.random()), undefined, { signal });
    }
  }

  #held(path: string, id: string): ReleaseLock {
    const heartbeat = setInterval(() => {
      const now = new Date();
      utimes(path, now, now).catch(() => undefined);
    }, Math.max(10, this.#staleLockMs / 3));
    heartbeat.unref();
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      // Only remove the lock if it is still ours (it is not if we were judged stale meanwhile).
      const owner = await readLock(path).catch(() => undefined);
      if (owner?.id === id) await unlink(path).catch(() => undefined);
    };
  }

  async #breakIfStale(path: string): Promise<boolean> {
    let seen: Awaited<ReturnType<typeof stat>>;
    let owner: LockFileContent | undefined;
    try {
      seen = await stat(path);
      owner = await readLock(path);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return true; // released meanwhile: try again at once
      throw error;
    }
    const abandoned = owner !== undefined && owner.hostname === hostname() && !isProcessAlive(owner.pid);
    const silent = Date.now() - seen.mtimeMs > this.#staleLockMs;
    if (!abandoned && !silent) return false;
    // Move it aside rather than delete it, then check that what was moved is what was judged: if
    // another waiter broke it and took a fresh lock in between, that fresh lock goes back.
    const aside = `${path}.${randomUUID()}.stale`;
    try {
      await rename(path, aside);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return true;
      throw error;
    }
    const moved = await stat(aside).catch(() => undefined);
    if (moved && (moved.ino !== seen.ino || moved.birthtimeMs !== seen.birthtimeMs)) {
      await link(aside, path).catch(() => undefined);
    }
    await unlink(aside).catch(() => undefined);
    return true;
  }

  #path(key: string, extension: 'json' | 'lock'): string {
    const name = createHash('sha256').update(key).digest('hex').slice(0, 40);
    return join(this.#directory, `${name}.${extension}`);
  }

  async #ensureDirectory(): Promise<void> {
    await mkdir(this.#directory, { recursive: true, mode: 0o700 });
  }

  async #syncDirectory(): Promise<void> {
    // Makes the rename itself durable; not supported on every platform, and not essential there.
    try {
      const handle = await open(this.#directory, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {
      // ignore
    }
  }
}

async function tryCreate(path: string, content: LockFileContent): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    throw error;
  }
  try {
    await handle.writeFile(JSON.stringify(content));
  } finally {
    await handle.close();
  }
  return true;
}

async function readLock(path: string): Promise<LockFileContent | undefined> {
  const text = await readFile(path, 'utf8');
  try {
    const value = JSON.parse(text) as Partial<LockFileContent>;
    if (typeof value.pid === 'number' && typeof value.hostname === 'string' && typeof value.id === 'string') {
      return value as LockFileContent;
    }
  } catch {
    // being written right now
  }
  return undefined;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM');
  }
}

function isCode(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | null)?.code === code;
}
