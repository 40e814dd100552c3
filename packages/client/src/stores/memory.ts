import { raceSignal } from '../lib/sleep.js';
import type { ReleaseLock, TokenSet, TokenStore } from './token-store.js';

/**
 * The default store: tokens live in this object only, and are lost when the process exits.
 * Managers in one process may share one instance; its lock then serialises their token requests.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #values = new Map<string, TokenSet>();
  readonly #locks = new Map<string, Promise<void>>();

  /** @inheritDoc */
  async get(key: string): Promise<TokenSet | undefined> {
    const value = this.#values.get(key);
    return value === undefined ? undefined : structuredClone(value);
  }

  /** @inheritDoc */
  async set(key: string, value: TokenSet): Promise<void> {
    this.#values.set(key, structuredClone(value));
  }

  /** @inheritDoc */
  async delete(key: string): Promise<void> {
    this.#values.delete(key);
  }

  /** @inheritDoc */
  async lock(key: string, signal?: AbortSignal): Promise<ReleaseLock> {
    for (;;) {
      signal?.throwIfAborted();
      const held = this.#locks.get(key);
      if (held === undefined) break;
      await raceSignal(held, signal);
    }
    let release!: () => void;
    this.#locks.set(key, new Promise<void>((resolve) => (release = resolve)));
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      this.#locks.delete(key);
      release();
    };
  }
}
