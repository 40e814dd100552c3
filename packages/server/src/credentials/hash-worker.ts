// One thread of the password-hashing pool (see hash-pool.ts). It runs the synchronous argon2
// calls of @node-rs/argon2 on its own thread, so a hash never occupies libuv's threadpool, where
// signing, signature checks and file I/O run; and at a lower scheduling priority, so that on a
// busy machine the event loop and libuv's threads always get the CPU before a hash does.
import type * as Argon2 from '@node-rs/argon2';
import type { Algorithm, Version } from '@node-rs/argon2';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { Argon2Parameters, HashJob, HashJobResult, HashWorkerData, PasswordCheck } from './hash-pool.js';

// Loaded as CommonJS (what it is): importing it from ESM costs each thread ~7 MB more.
const { hashSync, parseOptions, verifySync } = createRequire(import.meta.url)('@node-rs/argon2') as typeof Argon2;

// The binding's enums are ambient `const enum`s, which this build cannot import as values.
const ARGON2ID = 2 as Algorithm.Argon2id;
const VERSION_0X13 = 1 as Version.V0x13;

const { niceness, probe } = workerData as HashWorkerData;

// On Linux, niceness is per thread: this lowers this worker's thread only, never the event loop.
// Raising one's own niceness needs no privilege; where it is refused, hashes still run, unniced.
try {
  setPriority(niceness);
} catch {
  // not supported here (or forbidden by a sandbox): the pool still isolates hashes from libuv
}

/** Fault injection for tests: counts the jobs this pool starts, and holds them while the gate is shut. */
function enterProbe(): void {
  if (!probe) return;
  const slots = new Int32Array(probe);
  Atomics.add(slots, 1, 1);
  Atomics.notify(slots, 1);
  while (Atomics.load(slots, 0) === 0) Atomics.wait(slots, 0, 0);
}

/** Whether `storedHash` (already verified) was made with other parameters than the current ones. */
function needsRehash(storedHash: string, parameters: Argon2Parameters): boolean {
  const stored = parseOptions(storedHash);
  return (
    stored.algorithm !== ARGON2ID ||
    stored.version !== VERSION_0X13 ||
    stored.memoryCost !== parameters.memoryCost ||
    stored.timeCost !== parameters.timeCost ||
    stored.parallelism !== parameters.parallelism
  );
}

function verify(storedHash: string, password: string): boolean {
  try {
    return verifySync(storedHash, password);
  } catch {
    // Not an argon2 hash (a corrupt or foreign row): never valid.
    return false;
  }
}

function run(job: HashJob): string | PasswordCheck {
  enterProbe();
  const options = { algorithm: ARGON2ID, ...job.parameters };
  if (job.kind === 'hash') return hashSync(job.password, options);
  const valid = verify(job.storedHash, job.password);
  const upgrade = valid && needsRehash(job.storedHash, job.parameters);
  return { valid, upgradedHash: upgrade ? hashSync(job.password, options) : null };
}

parentPort?.on('message', (job: HashJob) => {
  let result: HashJobResult;
  try {
    result = { id: job.id, value: run(job) };
  } catch (error) {
    result = { id: job.id, error: error instanceof Error ? error.message : String(error) };
  }
  parentPort?.postMessage(result);
});
