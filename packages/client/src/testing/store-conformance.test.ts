/**
 * The suite as a third party gets it: imported by package name, through the `exports` map and the
 * built files (run `npm run build` first), and run against a store that is not the package's own.
 */
import type { TokenSet, TokenStore } from '@antpeer/client';
import { describeTokenStore } from '@antpeer/client/testing';

/** A store written outside the package, as its README asks: plain JSON copies in a Map. */
class JsonMapStore implements TokenStore {
  readonly #values = new Map<string, string>();
  async get(key: string): Promise<TokenSet | undefined> {
    const text = this.#values.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as TokenSet);
  }
  async set(key: string, value: TokenSet): Promise<void> {
    this.#values.set(key, JSON.stringify(value));
  }
  async delete(key: string): Promise<void> {
    this.#values.delete(key);
  }
}

describeTokenStore('a third-party store, through @antpeer/client/testing', async () => new JsonMapStore());
