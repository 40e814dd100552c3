// The references measured in children of their own: the disk's fsync'd-commit ceiling
// (bench/fsync-rate.ts) and the raw argon2id verify rate (bench/verify-rate.ts, the `@node-rs/argon2` binding: the fastest, and
// the one the server hashes with).
import type { Argon2Parameters } from '../../src/credentials/password-hasher.js';
import { lineReader, runProbe, startScript, tempDir } from './processes.js';

export interface FsyncProbe {
  commitsPerSecond: number;
  batched16RowsPerSecond: number;
}

/** A trivial better-sqlite3 WAL+FULL insert loop for 3 s, nothing else of ours running. */
export function probeFsync(): Promise<FsyncProbe> {
  return runProbe<FsyncProbe>('fsync-probe', 'fsync-rate.ts', [tempDir('antpeer-bench-fsync-'), '3']);
}

export interface Argon2Slice {
  rate: number;
  count: number;
  elapsed: number;
  concurrency: number;
}

export interface Argon2Verifier {
  /** How many verifications it keeps in flight (the libuv threadpool size). */
  concurrency: number;
  /** Its process id (for its CPU time). */
  pid: number;
  /** Verifies for `seconds`; idle before and after. */
  measure(seconds: number): Promise<Argon2Slice>;
  close(): Promise<void>;
}

/**
 * The raw argon2id verifier: its own child, idle except while it measures, so that it measures
 * only while nothing else of ours is working (interleaved with the password-grant slices).
 */
export async function startArgon2Verifier(argon2: Argon2Parameters): Promise<Argon2Verifier> {
  const verifier = startScript('argon2 verifier', 'verify-rate.ts', ['node-rs', JSON.stringify(argon2)], { stdin: true });
  const nextLine = lineReader(verifier);
  const { concurrency } = JSON.parse(await nextLine()) as { concurrency: number };
  return {
    concurrency,
    pid: verifier.child.pid as number,
    async measure(seconds) {
      verifier.child.stdin?.write(`measure ${seconds}\n`);
      return JSON.parse(await nextLine()) as Argon2Slice;
    },
    async close() {
      verifier.child.stdin?.end();
      await verifier.exited;
    },
  };
}
