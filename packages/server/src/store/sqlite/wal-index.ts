import { closeSync, openSync, readSync } from 'node:fs';

/** Words (32-bit, the host's byte order) in one copy of the wal-index header: 48 bytes. */
const HEADER_WORDS = 12;
/** The header's first word: the wal-index format version, the same since SQLite 3.7.0. */
const FORMAT_VERSION = 3007000;
/** The word counting commits (`iChange`), modulo 2^32. */
const CHANGE_COUNTER = 2;
/** The byte that is 1 once the header is initialised (`isInit`). */
const IS_INIT_BYTE = 12;

/**
 * Tells whether any connection committed to a SQLite database in WAL mode since it last looked,
 * from the header of its wal-index: the start of the `-shm` file
 * (https://www.sqlite.org/walformat.html, "The WAL-Index Format"). Every commit of every connection,
 * in this process or another, rewrites that header before the commit returns: its change counter,
 * its last frame, its salts and its checksum, the second of its two copies first, then the first.
 * Passive checkpoints (the checkpointer's) leave it alone; one that restarts the log rewrites it,
 * which reads as a change, harmlessly. So two reads that find the same header, both copies equal,
 * saw no commit between them; a read during a commit finds the copies different: a change.
 *
 * One `pread` of 96 bytes, without a lock, where `PRAGMA data_version` opens a read transaction
 * (a statement and two `fcntl` locks on the same file, contended by the checkpointer's). Anything
 * unexpected (a format version it does not know, a header not initialised, a short read) also
 * counts as a change: the caller then reads the database, as it would without this.
 */
export class WalIndexHeader {
  readonly #fd: number;
  readonly #words = new Uint32Array(2 * HEADER_WORDS);
  readonly #bytes = Buffer.from(this.#words.buffer);
  /** The first copy of the header last read whole; valid while {@link #known}. */
  readonly #seen = new Uint32Array(HEADER_WORDS);
  #known = false;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** The header of `databaseFile`'s wal-index, or null while it has none (not in WAL mode, or no read yet). */
  static open(databaseFile: string): WalIndexHeader | null {
    try {
      return new WalIndexHeader(openSync(`${databaseFile}-shm`, 'r'));
    } catch {
      return null;
    }
  }

  /**
   * Reads the header now: true when it is the one the last call read (nobody committed since),
   * false when it is not, or when this call could not tell.
   */
  unchanged(): boolean {
    let length = 0;
    try {
      length = readSync(this.#fd, this.#bytes, 0, this.#bytes.length, 0);
    } catch {
      // unreadable now: not known to be unchanged
    }
    const words = this.#words;
    let whole = length === this.#bytes.length && words[0] === FORMAT_VERSION && this.#bytes[IS_INIT_BYTE] === 1;
    for (let i = 0; whole && i < HEADER_WORDS; i++) whole = words[i] === words[i + HEADER_WORDS];
    if (!whole) {
      this.#known = false;
      return false;
    }
    let same = this.#known;
    for (let i = 0; i < HEADER_WORDS; i++) {
      if (this.#seen[i] !== words[i]) {
        same = false;
        this.#seen[i] = words[i] as number;
      }
    }
    this.#known = true;
    return same;
  }

  /**
   * Commits counted by the header the last call read whole (modulo 2^32), or null when that call
   * could not read it: each commit of any connection adds exactly one.
   */
  get commits(): number | null {
    return this.#known ? (this.#seen[CHANGE_COUNTER] as number) : null;
  }

  /** Reads the header now and answers its {@link commits}. */
  readCommits(): number | null {
    this.unchanged();
    return this.commits;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/**
 * Tells the first call in each turn of the event loop from the later ones: for a reader of the
 * wal-index header that reads it once per turn. The read is a system call, 3 µs alone and 15–20 µs
 * on a busy server whose kernel isolates page tables; a turn under load serves several requests.
 * Reading at the turn's first request is enough for every request of the turn to see every commit
 * made before it arrived: a request is served in the turn whose poll for I/O found its bytes, and
 * that poll returned before the turn's first request was served. (A turn ends with its check phase:
 * a read made in the check phase itself, which no request makes, counts for the next turn too.)
 */
export class OncePerTurn {
  #done = false;
  readonly #reset = () => {
    this.#done = false;
  };

  /** True at the first call of a turn, false at every later one in it. */
  first(): boolean {
    if (this.#done) return false;
    this.#done = true;
    setImmediate(this.#reset);
    return true;
  }
}
