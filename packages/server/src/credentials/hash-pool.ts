import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { OverloadedError } from '../errors.js';
import { workerEntry } from '../worker-entry.js';

/** argon2id cost parameters: memory in KiB, iterations, lanes. */
export interface Argon2Parameters {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/** The outcome of checking a password against a stored hash. */
export interface PasswordCheck {
  valid: boolean;
  /** A fresh hash with the current parameters, when the stored one used other ones. */
  upgradedHash: string | null;
}

/** What a hashing thread is asked to do. */
export type HashRequest =
  | { kind: 'hash'; password: string; parameters: Argon2Parameters }
  /** Verifies, and on success rehashes with `parameters` when the stored hash used other ones. */
  | { kind: 'check'; storedHash: string; password: string; parameters: Argon2Parameters };

/** A request as posted to a thread, with the id its answer carries. */
export type HashJob = HashRequest & { id: number };

/** What a hashing thread answers. */
export type HashJobResult = { id: number; value: string | PasswordCheck } | { id: number; error: string };

/** What a hashing thread is started with. */
export interface HashWorkerData {
  niceness: number;
  probe: SharedArrayBuffer | null;
}

/** How many hashes run at once, how many may wait, and for how long. */
export interface HashPoolOptions {
  /** Hashing threads: hashes computed at once. */
  concurrency: number;
  /** Hashes that may wait for a thread; one more is refused at once with {@link OverloadedError}. */
  queueLimit: number;
  /**
   * A hash that would wait longer than this for a thread (judged from the recent hash time) is
   * refused at once; one that has waited longer when its turn comes is refused instead of run.
   */
  maxWaitMs: number;
}

/**
 * The defaults: one thread per core and two seconds of waiting at most. The wait deadline is what
 * bounds the queue in practice; the queue limit, above it, bounds the memory of a burst. Two
 * seconds, not less: on a busy machine a hash takes several times its idle time, and a handful of
 * clients logging in together must still get through.
 */
export function hashPoolDefaults(concurrency = availableParallelism()): HashPoolOptions {
  return { concurrency, queueLimit: 64 * concurrency, maxWaitMs: 2000 };
}

/** Seconds a refused caller is asked to wait (Retry-After): a hash takes tens of milliseconds. */
export const OVERLOAD_RETRY_AFTER = 1;
/** One instance for every refusal: they come by the hundred a second in a flood, and need no stack. */
const OVERLOADED = new OverloadedError(OVERLOAD_RETRY_AFTER);
/**
 * A thread idle this long is stopped. A live thread holds ~13 MB (its V8 isolate and the binding),
 * most of which stopping returns, while starting one adds a few tens of milliseconds to the login
 * that needs it: outside a burst, logins are rare (one per session), so an idle server keeps none.
 */
const IDLE_THREAD_MS = 1000;
/**
 * Hashing threads run at this niceness (Linux: per thread). Under load the event loop and libuv's
 * threads (nice 0) take the CPU from a hash within a scheduler tick; on an idle machine hashes
 * still use every core.
 */
const HASH_NICENESS = 10;

/** The threads' entry point, resolved once. */
let entry: ReturnType<typeof workerEntry> | null = null;

interface Pending {
  job: HashJob;
  enqueuedAt: number;
  startedAt: number;
  signal: AbortSignal | undefined;
  resolve(value: string | PasswordCheck): void;
  reject(reason: unknown): void;
  /** Removes the abort listener. */
  detach(): void;
}

interface Thread {
  worker: Worker;
  pending: Pending | null;
  /** Whether it has finished a hash (the first one's time includes starting the thread). */
  warm: boolean;
  idleTimer: NodeJS.Timeout | null;
}

/**
 * A small pool of dedicated threads for argon2, with a bounded wait queue. The threads are not
 * libuv's: signing, signature checks and file I/O never wait behind a hash. A hash asked for while
 * every thread is busy and the queue is full, or that waited longer than `maxWaitMs`, is refused
 * with {@link OverloadedError} (503, Retry-After) instead of queueing without bound; a hash whose
 * AbortSignal fires while it waits is dropped without being computed.
 */
export class HashPool {
  readonly #options: HashPoolOptions;
  readonly #now: () => number;
  readonly #probe: SharedArrayBuffer | null;
  readonly #threads = new Set<Thread>();
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #closed = false;
  /** Recent time of one hash (exponentially weighted), to tell a wait that would miss the deadline. */
  #hashMs = 0;

  constructor(
    options: HashPoolOptions,
    /** The clock of the wait deadline (milliseconds). */
    now: () => number = Date.now,
    /** Fault injection for tests: a shared [gate, started] pair (see `src/test/hash-probe.ts`). */
    probe: SharedArrayBuffer | null = null,
  ) {
    for (const key of ['concurrency', 'queueLimit', 'maxWaitMs'] as const) {
      const value = options[key];
      if (!Number.isSafeInteger(value) || value < (key === 'concurrency' ? 1 : 0)) {
        throw new TypeError(`HashPool: ${key} must be a whole number${key === 'concurrency' ? ' ≥ 1' : ' ≥ 0'}, got ${value}`);
      }
    }
    this.#options = Object.freeze({ ...options });
    this.#now = now;
    this.#probe = probe;
  }

  /** Hashes being computed and hashes waiting for a thread. */
  get load(): { running: number; queued: number } {
    let running = 0;
    for (const thread of this.#threads) if (thread.pending) running++;
    return { running, queued: this.#queue.length };
  }

  /**
   * Whether a hash asked for now would be refused at once (every thread busy, and the queue full or
   * its wait too long), so a caller can shed a request before doing any other work for it.
   */
  wouldRefuse(): boolean {
    this.#refuseStale();
    return (
      this.load.running >= this.#options.concurrency &&
      (this.#queue.length >= this.#options.queueLimit || this.#expectedWaitMs() > this.#options.maxWaitMs)
    );
  }

  /** Runs `request` on a hashing thread. @throws {OverloadedError} when the pool is full or the wait too long. */
  run(request: HashRequest, signal?: AbortSignal): Promise<string | PasswordCheck> {
    return new Promise((resolve, reject) => {
      if (this.#closed) throw new Error('HashPool: closed');
      signal?.throwIfAborted();
      const pending: Pending = {
        job: { ...request, id: this.#nextId++ },
        enqueuedAt: this.#now(),
        startedAt: 0,
        signal,
        resolve,
        reject,
        detach: () => undefined,
      };
      this.#refuseStale();
      if (this.#queue.length > 0 || !this.#start(pending)) {
        if (this.#queue.length >= this.#options.queueLimit || this.#expectedWaitMs() > this.#options.maxWaitMs) throw OVERLOADED;
        this.#queue.push(pending);
      }
      if (signal) {
        const onAbort = () => this.#abandon(pending);
        signal.addEventListener('abort', onAbort, { once: true });
        pending.detach = () => signal.removeEventListener('abort', onAbort);
      }
    });
  }

  /** Stops every thread; waiting and running hashes are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const pending of this.#queue.splice(0)) this.#settle(pending, OVERLOADED);
    const threads = [...this.#threads];
    this.#threads.clear();
    for (const thread of threads) {
      if (thread.idleTimer) clearTimeout(thread.idleTimer);
      if (thread.pending) this.#settle(thread.pending, OVERLOADED);
    }
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }

  /** The caller went away: a waiting hash leaves the queue; a running one finishes unheard. */
  #abandon(pending: Pending): void {
    const index = this.#queue.indexOf(pending);
    if (index >= 0) this.#queue.splice(index, 1);
    this.#settle(pending, pending.signal?.reason);
  }

  #settle(pending: Pending, error: unknown, value?: string | PasswordCheck): void {
    pending.detach();
    if (error === undefined) pending.resolve(value as string | PasswordCheck);
    else pending.reject(error);
  }

  /** How long a hash queued now would wait for a thread: the queue ahead of it, shared by the threads. */
  #expectedWaitMs(): number {
    return ((this.#queue.length + 1) / this.#options.concurrency) * this.#hashMs;
  }

  /** Refuses the waiting hashes that are past the deadline (the oldest are at the head). */
  #refuseStale(): void {
    const oldest = this.#now() - this.#options.maxWaitMs;
    while (this.#queue.length > 0 && (this.#queue[0] as Pending).enqueuedAt < oldest) {
      this.#settle(this.#queue.shift() as Pending, OVERLOADED);
    }
  }

  /** Hands `pending` to an idle thread, or a new one; false when every thread is busy. */
  #start(pending: Pending): boolean {
    let thread: Thread | undefined;
    for (const candidate of this.#threads) if (!candidate.pending) thread = candidate;
    if (!thread) {
      if (this.#threads.size >= this.#options.concurrency) return false;
      thread = this.#spawn();
    }
    if (thread.idleTimer) clearTimeout(thread.idleTimer);
    thread.idleTimer = null;
    thread.pending = pending;
    pending.startedAt = this.#now();
    thread.worker.ref();
    thread.worker.postMessage(pending.job);
    return true;
  }

  #spawn(): Thread {
    const workerData: HashWorkerData = { niceness: HASH_NICENESS, probe: this.#probe };
    entry ??= workerEntry(import.meta.url, 'hash-worker');
    const worker = new Worker(entry.filename, { eval: entry.eval, workerData, stdout: false, stderr: false });
    const thread: Thread = { worker, pending: null, warm: false, idleTimer: null };
    this.#threads.add(thread);
    worker.on('message', (result: HashJobResult) => this.#finish(thread, result));
    worker.on('error', (error) => this.#lose(thread, error));
    worker.on('exit', (code) => this.#lose(thread, new Error(`hashing thread exited with code ${code}`)));
    return thread;
  }

  #finish(thread: Thread, result: HashJobResult): void {
    const pending = thread.pending;
    thread.pending = null;
    if (pending && thread.warm) {
      const tookMs = this.#now() - pending.startedAt;
      this.#hashMs = this.#hashMs === 0 ? tookMs : 0.8 * this.#hashMs + 0.2 * tookMs;
    }
    thread.warm = true;
    if (pending && pending.job.id === result.id && !pending.signal?.aborted) {
      if ('error' in result) this.#settle(pending, new Error(`argon2: ${result.error}`));
      else this.#settle(pending, undefined, result.value);
    }
    this.#drain();
    if (!thread.pending && this.#threads.has(thread)) {
      thread.worker.unref();
      thread.idleTimer = setTimeout(() => this.#retire(thread), IDLE_THREAD_MS).unref();
    }
  }

  /** A thread died (a crash in the binding): its hash fails, the queue goes on with the others. */
  #lose(thread: Thread, error: Error): void {
    if (!this.#threads.delete(thread)) return;
    if (thread.idleTimer) clearTimeout(thread.idleTimer);
    if (thread.pending) this.#settle(thread.pending, error);
    thread.pending = null;
    this.#drain();
  }

  #retire(thread: Thread): void {
    if (thread.pending || !this.#threads.delete(thread)) return;
    void thread.worker.terminate();
  }

  /** Starts waiting hashes while threads are free; a hash past its deadline is refused, not run. */
  #drain(): void {
    if (this.#closed) return;
    this.#refuseStale();
    while (this.#queue.length > 0 && this.#start(this.#queue[0] as Pending)) this.#queue.shift();
  }
}
