import { closeSync, openSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Database, RootDatabase, Transaction } from "lmdb";
import { StowageError } from "../../api/errors.js";
import { sameEntries, sameValue } from "../recorded-reads.js";
import type { OrderedCheck, OrderedCommit, OrderedEntry, OrderedLimits, OrderedRangeOptions, OrderedSnapshot, OrderedStore } from "../ordered/ordered-store.js";
import { createParentFolders } from "../data-folder.js";
import { loadDriver } from "../load-driver.js";
import { mapLmdbError } from "./lmdb-errors.js";
import { ReadView } from "./read-view.js";

/** Where an LMDB store lives unless told otherwise (relative to the working directory), like SQLite's default. */
export const DEFAULT_LMDB_PATH = "./data/stowage.lmdb";

/** How often a watched store looks for other processes' commits (the environment's last transaction id). */
export const LMDB_WATCH_INTERVAL_MS = 50;

export interface LmdbStoreOptions {
  /**
   * The data file (default {@link DEFAULT_LMDB_PATH}); LMDB keeps its lock table beside it in `<path>-lock`. Missing
   * folders are created.
   */
  path?: string;
}

/**
 * LMDB's limits. Keys: 1,978 bytes, the bound of LMDB's default 4 KiB pages (lmdb-js refuses longer ones, and LMDB
 * refuses the empty key). Values: lmdb-js passes a value's size as a 32-bit number and LMDB's own bound is the same.
 * Commits: no bound of their own; a commit is one write transaction whose dirty pages live in memory until it commits.
 */
export const LMDB_LIMITS: OrderedLimits = Object.freeze({
  maxKeyBytes: 1978,
  maxValueBytes: 0xffff_ffff,
  maxWritesPerCommit: null,
  maxBytesPerCommit: null,
});

/** Reader slots of a new environment: read transactions open at once, over every process sharing the file. */
export const LMDB_MAX_READERS = 2048;

/** LMDB's meta page magic (`MDB_MAGIC`), at byte 24 of the file in lmdb-js's build (64-bit page header). */
const LMDB_MAGIC = 0xbeefc0de;
const MAGIC_OFFSET = 24;

/** The parts of lmdb-js's database this store uses, with the `transaction` options its typings leave out. */
type BinaryDatabase = RootDatabase<Buffer, Uint8Array> & {
  /** The size of the value the last `getBinaryFast` found (lmdb-js sets it with every read). */
  lastSize: number;
  getBinary(key: Uint8Array, options?: { transaction?: Transaction }): Buffer | undefined;
  getBinaryFast(key: Uint8Array, options?: { transaction?: Transaction }): Buffer | undefined;
};

/**
 * Opens (creating it and its folders when missing) an LMDB environment as an {@link OrderedStore}.
 *
 * @example
 * ```ts
 * const store = await openLmdbStore({ path: "./data/orders.lmdb" });
 * ```
 */
export async function openLmdbStore(options: LmdbStoreOptions = {}): Promise<LmdbStore> {
  const location = resolve(options.path ?? DEFAULT_LMDB_PATH);
  // Loaded on open, so that a store without LMDB never loads (or needs) the driver; before any folder is made.
  const driver = await loadDriver<typeof import("lmdb") & { nativeAddon?: Partial<LmdbNative> }>("lmdb", "lmdb");
  const { open, nativeAddon } = driver;
  if (typeof nativeAddon?.resetTxn !== "function" || typeof nativeAddon.Txn !== "function") {
    throw new StowageError("NOT_SUPPORTED", "this version of the lmdb package lacks nativeAddon.Txn and nativeAddon.resetTxn, which the LMDB engine needs (lmdb 3.5 has them)");
  }
  const native = nativeAddon as LmdbNative;
  createParentFolders(location);
  refuseForeignFile(location);
  try {
    const db = open({
      path: location,
      // The path names a file (lmdb-js would treat a path without an extension as a folder).
      noSubdir: true,
      keyEncoding: "binary",
      encoding: "binary",
      // Durability (read from lmdb-js 3.5 and its LMDB fork, and confirmed with strace): a write transaction's promise
      // resolves only once its commit returned, and with `overlappingSync` (lmdb-js's default on Linux and macOS)
      // `mdb_txn_commit` returns only after `fdatasync` of the data file and a write of the flushed meta page through
      // the O_DSYNC descriptor, done after the write lock is released so the next transaction overlaps the flush. So
      // every resolved commit survives an OS crash or power cut. `noSync`, `noMetaSync`, `mapAsync` (never flush, or
      // flush later) and `separateFlushed` (resolve before the flush) would break that and are left off; `commitDelay`
      // only delays. One caveat of `overlappingSync`: another reader may see a commit for the length of its flush
      // before it is durable, and an OS crash in that window loses it (it never resolved).
      overlappingSync: true,
      // A snapshot held across a commit keeps its own read transaction, and each takes one of LMDB's reader slots
      // (126 by default, shared by every process on the file): one per transaction in flight would run out under load.
      // The first process to open the file sets the table's size (64 bytes a slot).
      maxReaders: LMDB_MAX_READERS,
      // Map size: lmdb-js starts small and grows the map by itself when a transaction needs more pages (its LMDB fork
      // resizes instead of failing MDB_MAP_FULL), so the limit is the disk.
    }) as BinaryDatabase;
    return new LmdbStore(location, db, native);
  } catch (error) {
    throw mapLmdbError(error, location);
  }
}

/**
 * Refuses a file LMDB cannot read before LMDB maps it: lmdb-js crashes the process (SIGSEGV) on a file that is not an
 * LMDB environment, so its header is checked here. An empty file is a new environment.
 */
function refuseForeignFile(location: string): void {
  let size: number;
  try {
    const stats = statSync(location);
    if (!stats.isFile()) throw new StowageError("INCOMPATIBLE", `${location} is not a file (an LMDB store is one file)`);
    size = stats.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw mapLmdbError(error, location);
  }
  if (size === 0) return;
  const header = Buffer.alloc(MAGIC_OFFSET + 4);
  const fd = openSync(location, "r");
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (size < header.length || header.readUInt32LE(MAGIC_OFFSET) !== LMDB_MAGIC) {
    throw new StowageError("INCOMPATIBLE", `${location} is not an LMDB file (it belongs to another program); not opened`);
  }
}

/** LMDB through lmdb-js: an embedded copy-on-write B+tree, shared by every process that opens the file. */
export class LmdbStore implements OrderedStore {
  readonly name = "lmdb";
  readonly limits = LMDB_LIMITS;
  /** Other processes may commit at any time, under LMDB's write lock. */
  readonly singleWriter = false;
  /** Gets and peeks are synchronous; lmdb-js copies the key into its own buffer. */
  readonly synchronousPointReads = true;
  private closed = false;
  /** The store's own read transactions, made at open; the reset ones wait here for the next snapshots. */
  private readonly own = new Set<Transaction>();
  private readonly spare: OwnReader[] = [];
  /** Views of the values that point reads find (valid until the next read, as lmdb-js's read buffer). */
  private readonly pointView = new ReadView();

  constructor(
    readonly location: string,
    private readonly db: BinaryDatabase,
    /** lmdb-js's native transactions, for the store's own read transactions. */
    private readonly native: LmdbNative,
  ) {
    this.makeOwnReadTxns();
  }

  /**
   * A read transaction renewed now, synchronously: it sees every commit that resolved before this call, in any
   * process. The store renews one of its own read transactions (`mdb_txn_renew` after the `mdb_txn_reset` of the
   * snapshot before, ~0.5 µs here) instead of lmdb-js's shared one, which lmdb-js renews lazily on a timer: forcing
   * that one fresh per read costs a reset, a renew and a `setTimeout` (~1.2 µs here). With all of its own in use (more
   * snapshots open at once than {@link OWN_READ_TXNS}), a snapshot takes lmdb-js's, reset first.
   */
  snapshot(): OrderedSnapshot {
    this.refuseClosed();
    try {
      const spare = this.spare.pop();
      if (spare === undefined) {
        this.db.resetReadTxn();
        const txn = this.db.useReadTransaction();
        return new LmdbSnapshot(this, this.db, readerOf(txn));
      }
      (spare.txn as unknown as { renew(): void }).renew();
      return new LmdbSnapshot(this, this.db, spare);
    } catch (error) {
      throw mapLmdbError(error, this.location);
    }
  }

  /**
   * One get as {@link snapshot} would read it, without a snapshot object: one of the store's own read transactions,
   * reset since its last use, renewed by the get itself (lmdb-js's native get calls `mdb_txn_renew` on the transaction
   * it is given, a no-op on a live one: one call across to native code per get instead of two), the value peeked and
   * handed to `use` (which copies what it keeps), then the transaction reset again.
   */
  pointRead<A, R>(key: Uint8Array, use: (found: Uint8Array | undefined, arg: A) => R, arg: A): R {
    this.refuseClosed();
    const reader = this.spare.pop();
    if (reader === undefined) {
      const snapshot = this.snapshot();
      try {
        return use((snapshot as LmdbSnapshot).peek(key), arg);
      } finally {
        snapshot.release();
      }
    }
    let found: Buffer | undefined;
    try {
      found = this.db.getBinaryFast(key, reader.options);
    } catch (error) {
      this.resetOwn(reader);
      throw mapLmdbError(error, this.location);
    }
    try {
      return use(this.pointView.of(found, this.db.lastSize), arg);
    } finally {
      this.resetOwn(reader);
    }
  }

  /** Takes a snapshot's transaction back: one of the store's own is reset (keeping its reader slot) for the next. */
  giveBack(reader: OwnReader): void {
    const { txn } = reader;
    if (!this.own.has(txn)) {
      txn.done();
      return;
    }
    this.resetOwn(reader);
  }

  /** One of the store's own read transactions reset (keeping its reader slot) and back among the spare ones. */
  private resetOwn(reader: OwnReader): void {
    if (this.closed) return;
    this.native.resetTxn(reader.address);
    this.spare.push(reader);
  }

  /**
   * The store's own read transactions (LMDB's `mdb_txn_begin` with MDB_RDONLY through lmdb-js's native `Txn`), made
   * once, here, and aborted at close. Every read-only `Txn` made becomes lmdb-js's native "current read transaction",
   * which some of its native calls (statistics, cursor renewal) read and renew implicitly: so right after, lmdb-js
   * is made to begin a new one of its own (its current one let go while in use, then finished), which becomes the
   * current one again and leaves the store's own to the store alone.
   */
  private makeOwnReadTxns(): void {
    for (let i = 0; i < OWN_READ_TXNS; i++) {
      const txn = new this.native.Txn((this.db as unknown as { env: object }).env, MDB_RDONLY) as LmdbTxnState & Transaction;
      // As lmdb-js marks a read transaction it no longer serves: a range iterator's use()/done() leaves it open, and
      // the done() at close aborts it.
      txn.refCount = 1;
      txn.notCurrent = true;
      this.native.resetTxn(txn.address);
      this.own.add(txn);
      this.spare.push(readerOf(txn));
    }
    const current = this.db.useReadTransaction();
    this.db.resetReadTxn();
    current.done();
    this.db.useReadTransaction().done();
  }

  /**
   * One synchronous write transaction (lmdb-js `transactionSync`): the checks read the latest data under LMDB's write
   * lock, the writes apply only if all hold, a throw half-way aborts it, and it returns once committed and flushed.
   * The family groups this process's concurrent writes into one commit, so a commit at a time is what it asks. Not
   * lmdb-js's batched asynchronous transactions: when one fails (a full disk), lmdb-js 3.5 rejects promises of its
   * own that nothing can handle, and an unhandled rejection ends a Node process.
   */
  async commit(commit: OrderedCommit): Promise<boolean> {
    this.refuseClosed();
    const db = this.db;
    try {
      return db.transactionSync(() => {
        for (const check of commit.checks) if (!holds(db, check)) return false;
        for (const write of commit.writes) {
          if (write.value === undefined) db.removeSync(write.key);
          else db.putSync(write.key, write.value as Buffer);
        }
        return true;
      });
    } catch (error) {
      throw mapLmdbError(error, this.location);
    }
  }

  /**
   * Polls the environment's last transaction id every {@link LMDB_WATCH_INTERVAL_MS} ms while watched (one small
   * native call reading LMDB's meta page; LMDB has no cross-process notification). Own commits notify too.
   */
  watchCommits(notify: () => void): () => void {
    let last = this.lastTxnId();
    const timer = setInterval(() => {
      if (this.closed) return;
      const now = this.lastTxnId();
      if (now !== last) {
        last = now;
        notify();
      }
    }, LMDB_WATCH_INTERVAL_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  facts(): Record<string, number | string | boolean> {
    this.refuseClosed();
    const stats = this.db.getStats() as LmdbStats;
    return {
      mapBytes: stats.mapSize,
      pageBytes: stats.pageSize,
      usedPages: stats.lastPageNumber + 1,
      entries: stats.entryCount,
      lastTxnId: stats.lastTxnId,
      readers: stats.numReaders,
      maxReaders: stats.maxReaders,
    };
  }

  /**
   * LMDB has no integrity check of its own; this walks every key of one snapshot and reports keys out of order (a
   * damaged B+tree). Reads everything.
   */
  async check(): Promise<string[]> {
    const problems: string[] = [];
    const snapshot = this.snapshot();
    try {
      let previous: Uint8Array | undefined;
      for (const { key } of this.db.getRange({ transaction: (snapshot as LmdbSnapshot).txn })) {
        if (previous !== undefined && Buffer.compare(previous, key) >= 0) {
          problems.push(`LMDB key ${Buffer.from(key).toString("hex")} follows ${Buffer.from(previous).toString("hex")}: the file's B+tree is out of order`);
        }
        previous = key;
      }
    } finally {
      snapshot.release();
    }
    return problems;
  }

  /** Waits for the last commits' flush, then closes the environment (other processes keep theirs). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.spare.length = 0;
    for (const txn of this.own) txn.done();
    await this.db.close();
  }

  private lastTxnId(): number {
    return (this.db.getStats() as LmdbStats).lastTxnId;
  }

  private refuseClosed(): void {
    if (this.closed) throw new StowageError("CLOSED", `the LMDB store at ${this.location} is closed`);
  }
}

/** The part of lmdb-js's native addon the store uses (exported as `nativeAddon`, untyped). */
interface LmdbNative {
  Txn: new (env: object, flags: number) => object;
  resetTxn(address: number): void;
}

/** The fields lmdb-js's `Txn.prototype.done` reads (it aborts a transaction whose count drops to 0 once not current). */
interface LmdbTxnState {
  address: number;
  refCount: number;
  notCurrent: boolean;
}

/** LMDB's flag for a read-only transaction. */
const MDB_RDONLY = 0x20000;

/**
 * The store's own read transactions. Each holds one of LMDB's reader slots: a few cover the synchronous point reads
 * and the transactions in flight (the family runs one at a time).
 */
const OWN_READ_TXNS = 4;

interface LmdbStats {
  mapSize: number;
  pageSize: number;
  lastPageNumber: number;
  entryCount: number;
  lastTxnId: number;
  numReaders: number;
  maxReaders: number;
}

/** A read transaction, the options object that passes it to lmdb-js's reads and its native address (made once, not per read). */
interface OwnReader {
  readonly txn: Transaction;
  readonly options: { readonly transaction: Transaction };
  readonly address: number;
}

const readerOf = (txn: Transaction): OwnReader => ({ txn, options: { transaction: txn }, address: (txn as unknown as LmdbTxnState).address });

class LmdbSnapshot implements OrderedSnapshot {
  private released = false;

  constructor(
    private readonly store: LmdbStore,
    private readonly db: BinaryDatabase,
    private readonly reader: OwnReader,
  ) {}

  get txn(): Transaction {
    return this.reader.txn;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.db.getBinary(key, this.reader.options);
  }

  /** A view on lmdb-js's shared read buffer ({@link viewOf}): no copy here, the family copies what it keeps. */
  peek(key: Uint8Array): Uint8Array | undefined {
    return viewOf(this.db.getBinaryFast(key, this.reader.options));
  }

  range(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions = {}): OrderedEntry[] {
    return readRange(this.db, start, end, options, this.reader.txn);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.store.giveBack(this.reader);
  }
}

/**
 * Entries with `start ≤ key < end`, in the given transaction or (without one) in the write transaction being run.
 * lmdb-js walks a reverse range from its `start` down to its `end`, so the bounds swap and their inclusiveness with them.
 */
function readRange(db: Database<Buffer, Uint8Array>, start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions, txn?: Transaction): OrderedEntry[] {
  if (Buffer.compare(start, end) >= 0 || options.limit === 0) return [];
  const range = options.reverse
    ? { start: end, end: start, reverse: true, exclusiveStart: true, inclusiveEnd: true }
    : { start, end };
  const entries: OrderedEntry[] = [];
  for (const { key, value } of db.getRange({ ...range, limit: options.limit, transaction: txn })) entries.push([key, value]);
  return entries;
}

/**
 * A `getBinaryFast` answer as a view of exactly the value: lmdb-js's shared read buffer is 16 MiB with its `length`
 * property set to the value's size, so typed-array methods would otherwise see all of it. Valid until the next read.
 */
function viewOf(found: Buffer | undefined): Uint8Array | undefined {
  return found === undefined ? undefined : new Uint8Array(found.buffer, found.byteOffset, found.length);
}

/** Whether a recorded read still holds in the current write transaction, compared bytewise. */
function holds(db: BinaryDatabase, check: OrderedCheck): boolean {
  if (check.kind === "get") return sameValue(viewOf(db.getBinaryFast(check.key)), check.value);
  return sameEntries(readRange(db, check.start, check.end, check.options), check.entries);
}

