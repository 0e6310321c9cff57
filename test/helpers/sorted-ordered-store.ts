import type {
  OrderedCheck,
  OrderedCommit,
  OrderedEntry,
  OrderedLimits,
  OrderedRangeOptions,
  OrderedSnapshot,
  OrderedStore,
} from "../../src/engines/ordered/ordered-store.js";

/** A stored record: its key as a latin1 string (one character per byte, so string order is byte order), key and value. */
type Row = readonly [id: string, key: Uint8Array, value: Uint8Array];

const idOf = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");

function lowerBound(rows: readonly Row[], id: string): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((rows[mid] as Row)[0] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function rangeOf(rows: readonly Row[], start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions = {}): Row[] {
  const from = lowerBound(rows, idOf(start));
  const to = Math.max(from, lowerBound(rows, idOf(end)));
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (options.reverse === true) return rows.slice(Math.max(from, to - limit), to).reverse();
  return rows.slice(from, Math.min(to, from + limit));
}

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  a === undefined || b === undefined ? a === b : Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/**
 * The data several {@link SortedOrderedStore}s share, as processes share a file: an immutable sorted array replaced by
 * each commit (copy on write), so that a snapshot is the array it started with.
 */
export class SortedKeySpace {
  rows: readonly Row[] = [];
  commits = 0;
  readonly watchers = new Map<(() => void), SortedOrderedStore>();
}

export interface SortedStoreOptions {
  /** Answer reads with promises, as a networked or LSM store would (default: synchronously, as LMDB). */
  asyncReads?: boolean;
  /** Declare one writer, so that the family skips its checks (default false). */
  singleWriter?: boolean;
  limits?: Partial<OrderedLimits>;
  /** Declare that each commit check is verified against the latest data (it is), as etcd and Redis do (default false). */
  verifiesEachCheck?: boolean;
  /** Called before each commit's checks, to interleave another connection's commit in a test. */
  beforeCommit?: () => void | Promise<void>;
}

/**
 * An in-memory {@link OrderedStore} for tests: a sorted array with binary search, copy-on-write snapshots and honest
 * commit checks (each recorded read is read again from the latest data). Values handed out are fresh copies that are
 * overwritten when their snapshot is released, so that a family that keeps a view past `release` reads garbage.
 * Several stores over one {@link SortedKeySpace} behave as processes on one database, with `watchCommits`.
 */
export class SortedOrderedStore implements OrderedStore {
  readonly name = "sorted";
  readonly location = "memory:sorted";
  readonly limits: OrderedLimits;
  readonly singleWriter: boolean;
  readonly verifiesEachCheck: boolean;
  private closed = false;
  /** Reads its snapshots made (with `asyncReads`: the round trips a networked store would make). */
  reads = 0;
  /** Commits this connection attempted and found a check failed on. */
  conflicts = 0;

  constructor(
    readonly space: SortedKeySpace = new SortedKeySpace(),
    private readonly options: SortedStoreOptions = {},
  ) {
    this.singleWriter = options.singleWriter ?? false;
    this.verifiesEachCheck = options.verifiesEachCheck ?? false;
    this.limits = { maxKeyBytes: 1978, maxValueBytes: 64 * 1024 * 1024, maxWritesPerCommit: null, maxBytesPerCommit: null, ...options.limits };
  }

  snapshot(): OrderedSnapshot | Promise<OrderedSnapshot> {
    this.assertOpen();
    const snapshot = new SortedSnapshot(this.space.rows);
    if (this.options.asyncReads !== true) return snapshot;
    return Promise.resolve({
      get: (key) => {
        this.reads += 1;
        return Promise.resolve(snapshot.get(key));
      },
      range: (start, end, options) => {
        this.reads += 1;
        return Promise.resolve(snapshot.range(start, end, options));
      },
      release: () => snapshot.release(),
    });
  }

  async commit(commit: OrderedCommit): Promise<boolean> {
    this.assertOpen();
    // A commit takes a moment (an fsync): writes that arrive meanwhile queue for the next, as on a real engine.
    await new Promise((resolve) => setImmediate(resolve));
    await this.options.beforeCommit?.();
    const rows = this.space.rows;
    if (!commit.checks.every((check) => holds(rows, check))) {
      this.conflicts += 1;
      return false;
    }
    for (const write of commit.writes) {
      if (write.key.length > this.limits.maxKeyBytes) throw new Error(`key of ${write.key.length} bytes`);
    }
    const next = [...rows];
    for (const write of commit.writes) {
      const id = idOf(write.key);
      const at = lowerBound(next, id);
      const found = next[at]?.[0] === id;
      if (write.value === undefined) {
        if (found) next.splice(at, 1);
      } else {
        const row: Row = [id, Uint8Array.from(write.key), Uint8Array.from(write.value)];
        if (found) next[at] = row;
        else next.splice(at, 0, row);
      }
    }
    this.space.rows = next;
    this.space.commits += 1;
    for (const [notify, owner] of this.space.watchers) if (owner !== this) setImmediate(notify);
    return true;
  }

  watchCommits(notify: () => void): () => void {
    const own = () => notify();
    this.space.watchers.set(own, this);
    return () => this.space.watchers.delete(own);
  }

  facts(): Record<string, number> {
    return { records: this.space.rows.length };
  }

  async check(): Promise<string[]> {
    const rows = this.space.rows;
    const problems: string[] = [];
    for (let i = 1; i < rows.length; i++) if (!((rows[i - 1] as Row)[0] < (rows[i] as Row)[0])) problems.push(`rows ${i - 1} and ${i} out of order`);
    return problems;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the sorted ordered store is closed");
  }
}

function holds(rows: readonly Row[], check: OrderedCheck): boolean {
  if (check.kind === "get") {
    const at = lowerBound(rows, idOf(check.key));
    const row = rows[at];
    return sameBytes(row !== undefined && row[0] === idOf(check.key) ? row[2] : undefined, check.value);
  }
  const now = rangeOf(rows, check.start, check.end, check.options);
  return now.length === check.entries.length && now.every((row, i) => sameBytes(row[1], check.entries[i]?.[0]) && sameBytes(row[2], check.entries[i]?.[1]));
}

class SortedSnapshot implements OrderedSnapshot {
  private readonly handedOut: Uint8Array[] = [];
  private released = false;

  constructor(private readonly rows: readonly Row[]) {}

  get(key: Uint8Array): Uint8Array | undefined {
    this.assertLive();
    const id = idOf(key);
    const row = this.rows[lowerBound(this.rows, id)];
    return row !== undefined && row[0] === id ? this.handOut(row[2]) : undefined;
  }

  range(start: Uint8Array, end: Uint8Array, options?: OrderedRangeOptions): OrderedEntry[] {
    this.assertLive();
    // Drivers take limits as 32-bit integers (LevelDB's iterator returned nothing for 2^53): refuse what they cannot take.
    if (options?.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 0 && options.limit <= 0x7fff_ffff)) {
      throw new Error(`range limit ${options.limit} is not a 32-bit count`);
    }
    return rangeOf(this.rows, start, end, options).map((row) => [this.handOut(row[1]), this.handOut(row[2])] as const);
  }

  release(): void {
    if (this.released) throw new Error("a snapshot was released twice");
    this.released = true;
    for (const bytes of this.handedOut) bytes.fill(0xee);
  }

  private handOut(bytes: Uint8Array): Uint8Array {
    const copy = Uint8Array.from(bytes);
    this.handedOut.push(copy);
    return copy;
  }

  private assertLive(): void {
    if (this.released) throw new Error("a released snapshot was read");
  }
}
