import { mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { ClassicLevel } from "classic-level";
import { StowageError } from "../../api/errors.js";
import { sameEntries, sameValue } from "../recorded-reads.js";
import { Mutex } from "../mutex.js";
import type { OrderedCheck, OrderedCommit, OrderedEntry, OrderedLimits, OrderedRangeOptions, OrderedSnapshot, OrderedStore } from "../ordered/ordered-store.js";
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
  try {
    mkdirSync(dirname(location), { recursive: true });
  } catch (cause) {
    throw new StowageError("BACKEND_UNAVAILABLE", `cannot create the folder of ${location}: ${(cause as Error).message}`, { cause });
  }
  refuseForeignFolder(location);
  // Loaded on open, so that a store without LevelDB never loads (or needs) the driver.
  const { ClassicLevel } = await import("classic-level");
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
 */
export class LevelDbStore implements OrderedStore {
  readonly name = "leveldb";
  readonly limits = LEVELDB_LIMITS;
  /** LevelDB's lock on its folder keeps every other process (and every other open in this one) out. */
  readonly singleWriter = true;
  private readonly writer = new Mutex();
  private closed = false;

  constructor(
    readonly location: string,
    private readonly db: Db,
  ) {}

  /** An explicit LevelDB snapshot (taken synchronously); point reads from it are synchronous, ranges are not. */
  snapshot(): OrderedSnapshot {
    this.refuseClosed();
    return new LevelDbSnapshot(this.db, this.db.snapshot(), this.location);
  }

  async commit(commit: OrderedCommit): Promise<boolean> {
    this.refuseClosed();
    return this.writer.run(async () => {
      this.refuseClosed();
      try {
        for (const check of commit.checks) if (!(await holds(this.db, check))) return false;
        if (commit.writes.length === 0) return true;
        const ops = commit.writes.map((write) =>
          write.value === undefined ? { type: "del" as const, key: write.key } : { type: "put" as const, key: write.key, value: write.value },
        );
        await this.db.batch(ops, { sync: true });
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

  private refuseClosed(): void {
    if (this.closed) throw new StowageError("CLOSED", `the LevelDB store at ${this.location} is closed`);
  }
}

class LevelDbSnapshot implements OrderedSnapshot {
  private released = false;

  constructor(
    private readonly db: Db,
    private readonly snapshot: LevelSnapshot,
    private readonly location: string,
  ) {}

  get(key: Uint8Array): Uint8Array | undefined {
    try {
      return this.db.getSync(key, { snapshot: this.snapshot });
    } catch (error) {
      throw mapLevelError(error, this.location);
    }
  }

  async range(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions = {}): Promise<OrderedEntry[]> {
    try {
      return await readRange(this.db, start, end, options, this.snapshot);
    } catch (error) {
      throw mapLevelError(error, this.location);
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    // Closing only frees LevelDB's snapshot; nothing waits for it.
    void this.snapshot.close().catch(() => undefined);
  }
}

/** Entries with `start ≤ key < end`, from `snapshot` or (without one) from the latest data. */
async function readRange(db: Db, start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions, snapshot?: LevelSnapshot): Promise<OrderedEntry[]> {
  if (Buffer.compare(start, end) >= 0 || options.limit === 0) return [];
  const iterator = db.iterator({ gte: start, lt: end, reverse: options.reverse === true, limit: options.limit ?? -1, snapshot });
  return iterator.all();
}

/** Whether a recorded read still holds in the latest data, compared bytewise. */
async function holds(db: Db, check: OrderedCheck): Promise<boolean> {
  if (check.kind === "get") return sameValue(db.getSync(check.key), check.value);
  return sameEntries(await readRange(db, check.start, check.end, check.options), check.entries);
}
