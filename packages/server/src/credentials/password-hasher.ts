import argon2 from 'argon2';
import { randomSecret } from '../random.js';

/** argon2id cost parameters: memory in KiB, iterations, lanes. */
export interface Argon2Parameters {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/** OWASP Password Storage Cheat Sheet, argon2id: 19 MiB, 2 iterations, parallelism 1. */
export const OWASP_ARGON2ID: Argon2Parameters = Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });

/** The outcome of checking a password against a stored hash. */
export interface PasswordCheck {
  valid: boolean;
  /** A fresh hash with the current parameters, when the stored one used older ones. */
  upgradedHash: string | null;
}

/**
 * argon2id hashing with a dummy verification for unknown users, so that "no such user" costs the
 * same time as "wrong password".
 */
export class PasswordHasher {
  #dummyHash: Promise<string> | null = null;

  constructor(readonly parameters: Argon2Parameters = OWASP_ARGON2ID) {}

  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, ...this.parameters });
  }

  /** Verifies `password`; a `null` hash (unknown user) is checked against a dummy and is never valid. */
  async check(storedHash: string | null, password: string): Promise<PasswordCheck> {
    if (storedHash === null) {
      this.#dummyHash ??= this.hash(randomSecret());
      await argon2.verify(await this.#dummyHash, password).catch(() => false);
      return { valid: false, upgradedHash: null };
    }
    const valid = await argon2.verify(storedHash, password).catch(() => false);
    if (!valid || !argon2.needsRehash(storedHash, this.parameters)) return { valid, upgradedHash: null };
    return { valid, upgradedHash: await this.hash(password) };
  }
}
