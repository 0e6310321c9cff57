import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ClassicLevel } from "classic-level";
import { StowageError } from "../../api/errors.js";
import { sameEntries, sameValue } from "../recorded-reads.js";
import { Mutex } from "../mutex.js";
import type { OrderedCheck, OrderedCommit, OrderedEntry, OrderedLimits, OrderedRangeOptions, OrderedSnapshot, OrderedStore } from "../ordered/ordered-store.js";
import { createParentFolders } from "../data-folder.js";
import { loadDriver } from "../load-driver.js";
import { mapLevelError } from "./leveldb-errors.js";

/** Where a LevelDB store lives unless told otherwise (a folder, relative to the working directory). */
export const DEFAULT_LEVELDB_PATH = "./data/stowage.leveldb";

export interface LevelDbStoreOptions {
  /** The folder LevelDB keeps its files in (default {@link DEFAULT_LEVELDB_PATH}); missing folders are created. */
  path?: string;
}

/**
 * LevelDB stores lengths as 32-bit varints in its write batches and blocks, and has no other bound. Values use that
 * whole range. Keys are held to 64 KiB by this store, not by LevelDB: every key is compared in the memtable and copied
 * into index blocks, so a long key costs on every read near it, and stowage needs about 1,100 bytes.
 */
export const LEVELDB_LIMITS: OrderedLimits = Object.freeze({
  maxKeyBytes: 65_536,
  maxValueBytes: 0xffff_ffff,
  maxWritesPerCommit: null,
  maxBytesPerCommit: null,
});

type Db = ClassicLevel<Uint8Array, Uint8Array>;
type LevelSnapshot = ReturnType<Db["snapshot"]>;

/**
 * Opens (creating it and its folders when missing) a LevelDB database as an {@link OrderedStore}. LevelDB locks its
 * folder: while a store is open, opening it again, from this process or another, fails BACKEND_UNAVAILABLE at once.
 *
 * @example
 * ```ts
 * const store = await openLevelDbStore({ path: "./data/orders.leveldb" });
 * ```
 */
export async function openLevelDbStore(options: LevelDbStoreOptions = {}): Promise<LevelDbStore> {
  const location = resolve(options.path ?? DEFAULT_LEVELDB_PATH);
  // Loaded on open, so that a store without LevelDB never loads (or needs) the driver; before any folder is made.
  const { ClassicLevel } = await loadDriver<typeof import("classic-level")>("classic-level", "leveldb");
  createParentFolders(location);
  refuseForeignFolder(location);
  const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(location, { keyEncoding: "view", valueEncoding: "view" });
  try {
    await db.open({ createIfMissing: true });
  } catch (error) {
    throw mapLevelError(error, location);
  }
  return new LevelDbStore(location, db);
}

/**
 * Refuses a location LevelDB would mix its files into: a file, or a folder that holds files but no LevelDB (`CURRENT`).
 * An empty or missing folder becomes a new database.
 */
function refuseForeignFolder(location: string): void {
  let entries: string[];
  try {
    if (!statSync(location).isDirectory()) {
      throw new StowageError("INCOMPATIBLE", `${location} is a file, not a LevelDB folder (it belongs to another program); not opened`);
    }
    entries = readdirSync(location);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw mapLevelError(error, location);
  }
  if (entries.length > 0 && !entries.includes("CURRENT")) {
    throw new StowageError("INCOMPATIBLE", `${location} holds files but no LevelDB database (no ${join(location, "CURRENT")}); not opened`);
  }
}

/**
 * LevelDB through classic-level: a log-structured merge tree in one folder, one process at a time. Commits are atomic
 * batches written with `sync: true` (LevelDB appends the batch to its log and fsyncs the log before the write returns),
 * one at a time: the checks run against the latest data under a process-local lock, and since no other process can
 * write while the folder is locked, nothing can change between the checks and the batch.
 *
 * Snapshots are pinned lazily. This store makes every change to the data, so until its next batch the latest data is
 * the snapshot's point in time: a snapshot reads the latest data, and only when a batch is about to be written do the
 * snapshots still open get a LevelDB snapshot (one, shared) taken just before it. Creating and closing a LevelDB
 * snapshot per read costs ~30 µs against ~4 µs for a `getSync` (measured here), and most snapshots are released
 * before any commit.
 */
export class LevelDbStore implements OrderedStore {
  readonly name = "leveldb";
  readonly limits = LEVELDB_LIMITS;
  /** LevelDB's lock on its folder keeps every other process (and every other open in this one) out. */
  readonly singleWriter = true;
  /** Gets are synchronous (`getSync`); LevelDB reads the key during the call. */
  readonly synchronousPointReads = true;
  /** `getSync` copies the value out into a Buffer of its own, which the family may hand to the caller as it is. */
  readonly freshPointReads = true;
  private readonly writer = new Mutex();
  /**
   * The snapshots taken since the last batch, still reading the latest data, to be pinned before the next batch: one
   * count shared by all of them rather than a set of them (adding to and deleting from a set on every read cost ~1 µs).
   */
  private unpinned: Generation | undefined;
  /** While a batch is being written: the data may change under a snapshot at any moment, so new ones pin at once. */
  private writing = false;
  /**
   * The failure of a batch, after which this store writes no more. LevelDB resolves a later `sync: true` write once
   * space is back, but on the next open drops every record logged after the failed one (seen on a full tmpfs: the
   * write resolved, and was gone after reopening). Reopening starts a new log, and writes are kept again.
   */
  private writeFailure: StowageError | undefined;
  private closed = false;

  constructor(
    readonly location: string,
    private readonly db: Db,
  ) {}

  /** A snapshot of this moment (taken synchronously); point reads from it are synchronous, ranges are not. */
  snapshot(): OrderedSnapshot {
    this.refuseClosed();
    if (this.writing) {
      const generation = new Generation();
      generation.pin(new SharedSnapshot(this.db.snapshot(), 1));
      return new LevelDbSnapshot(this.db, this.location, generation);
    }
    const generation = (this.unpinned ??= new Generation());
    generation.open += 1;
    return new LevelDbSnapshot(this.db, this.location, generation);
  }

  /**
   * One get of the latest data, as {@link snapshot} would read it, without a snapshot: a single `getSync` sees one
   * point in time, also while a batch is being written (LevelDB applies a batch at once, after its log sync), so it
   * needs no LevelDB snapshot pinned then either.
   */
  pointRead<A, R>(key: Uint8Array, use: (found: Uint8Array | undefined, arg: A) => R, arg: A): R {
    this.refuseClosed();
    let found: Uint8Array | undefined;
    try {
      found = this.db.getSync(key);
    } catch (error) {
      throw mapLevelError(error, this.location);
    }
    return use(found, arg);
  }

  async commit(commit: OrderedCommit): Promise<boolean> {
    this.refuseClosed();
    return this.writer.run(async () => {
      this.refuseClosed();
      if (this.writeFailure !== undefined) {
        throw new StowageError(
          "BACKEND_UNAVAILABLE",
          `a write to the LevelDB store at ${this.location} failed earlier, and LevelDB may lose writes made after a failed one: close and reopen the store to write again (${this.writeFailure.message})`,
          { cause: this.writeFailure },
        );
      }
      try {
        for (const check of commit.checks) if (!(await holds(this.db, check))) return false;
        if (commit.writes.length === 0) return true;
        const batch = chainedBatch(this.db, commit.writes);
        this.pinOpenSnapshots(commit.snapshot);
        this.writing = true;
        try {
          await batch.write({ sync: true });
        } catch (error) {
          this.writeFailure = mapLevelError(error, this.location);
          throw this.writeFailure;
        } finally {
          this.writing = false;
        }
        return true;
      } catch (error) {
        throw mapLevelError(error, this.location);
      }
    });
  }

  async facts(): Promise<Record<string, number | string | boolean>> {
    this.refuseClosed();
    const [approximateBytes, levelZeroFiles] = await Promise.all([
      this.db.approximateSize(new Uint8Array(0), new Uint8Array(64).fill(0xff)),
      this.db.getProperty("leveldb.num-files-at-level0"),
    ]);
    return { approximateBytes, levelZeroFiles: Number(levelZeroFiles) };
  }

  /** Waits for the commit in progress, then closes the database and releases the folder's lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.run(() => this.db.close());
  }

  /**
   * Gives every snapshot still reading the latest data one LevelDB snapshot of this moment, before a batch changes it;
   * but not `committing`, the snapshot of the commit being written, which is read no more (`OrderedCommit.snapshot`):
   * a group commit of the family would otherwise make and close a LevelDB snapshot for nothing on every batch.
   */
  private pinOpenSnapshots(committing: OrderedSnapshot | undefined): void {
    const generation = this.unpinned;
    if (generation === undefined) return;
    if (committing instanceof LevelDbSnapshot) committing.leave(generation);
    if (generation.open === 0) return;
    generation.pin(new SharedSnapshot(this.db.snapshot(), generation.open));
    this.unpinned = undefined;
  }

  private refuseClosed(): void {
    if (this.closed) throw new StowageError("CLOSED", `the LevelDB store at ${this.location} is closed`);
  }
}

/** One LevelDB snapshot shared by the store's snapshots pinned at the same moment; closed when the last is released. */
class SharedSnapshot {
  constructor(
    readonly snapshot: LevelSnapshot,
    private users: number,
  ) {}

  release(): void {
    this.users -= 1;
    // Closing only frees LevelDB's snapshot; nothing waits for it.
    if (this.users === 0) void this.snapshot.close().catch(() => undefined);
  }
}

/**
 * The snapshots taken between two batches: while unpinned they read the latest data and `open` counts those not yet
 * released; before the next batch they are pinned together to one LevelDB snapshot of that moment.
 */
class Generation {
  open = 0;
  pinned: SharedSnapshot | undefined;

  pin(shared: SharedSnapshot): void {
    this.pinned = shared;
  }
}

class LevelDbSnapshot implements OrderedSnapshot {
  private released = false;

  constructor(
    private readonly db: Db,
    private readonly location: string,
    private readonly generation: Generation,
  ) {}

  get(key: Uint8Array): Uint8Array | undefined {
    const pinned = this.generation.pinned;
    try {
      return pinned === undefined ? this.db.getSync(key) : this.db.getSync(key, { snapshot: pinned.snapshot });
    } catch (error) {
      throw mapLevelError(error, this.location);
    }
  }

  /** The iterator takes its own LevelDB snapshot when created, synchronously, so an unpinned range reads this moment. */
  async range(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions = {}): Promise<OrderedEntry[]> {
    try {
      return await readRange(this.db, start, end, options, this.generation.pinned?.snapshot);
    } catch (error) {
      throw mapLevelError(error, this.location);
    }
  }

  /**
   * Leaves `generation` before it is pinned, as the snapshot of a commit being written: it is read no more, so it
   * needs no LevelDB snapshot of its own, and its release has nothing left to do.
   */
  leave(generation: Generation): void {
    if (this.released || this.generation !== generation || generation.pinned !== undefined) return;
    this.released = true;
    generation.open -= 1;
  }

  /** Before its generation is pinned, one fewer to pin; after, one fewer user of the shared LevelDB snapshot. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const pinned = this.generation.pinned;
    if (pinned === undefined) this.generation.open -= 1;
    else pinned.release();
  }
}

/** Entries with `start ≤ key < end`, from `snapshot` or (without one) from the latest data. */
async function readRange(db: Db, start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions, snapshot?: LevelSnapshot): Promise<OrderedEntry[]> {
  if (Buffer.compare(start, end) >= 0 || options.limit === 0) return [];
  const iterator = db.iterator({ gte: start, lt: end, reverse: options.reverse === true, limit: options.limit ?? -1, snapshot });
  return iterator.all();
}

/**
 * The writes as one LevelDB write batch, built by chained puts and deletes: each goes straight into the native batch,
 * where an array batch costs ~4× the CPU per write (abstract-level copies every operation into a new object with
 * the call's options, and the binding then reads each one's properties back; measured here with 16 writes a batch).
 * Written with `sync: true`, both are the same LevelDB write.
 */
function chainedBatch(db: Db, writes: OrderedCommit["writes"]): ReturnType<Db["batch"]> {
  const batch = db.batch();
  try {
    for (const write of writes) {
      if (write.value === undefined) batch.del(write.key);
      else batch.put(write.key, write.value);
    }
  } catch (error) {
    void batch.close().catch(() => undefined);
    throw error;
  }
  return batch;
}

/** Whether a recorded read still holds in the latest data, compared bytewise. */
async function holds(db: Db, check: OrderedCheck): Promise<boolean> {
  if (check.kind === "get") return sameValue(db.getSync(check.key), check.value);
  return sameEntries(await readRange(db, check.start, check.end, check.options), check.entries);
}
