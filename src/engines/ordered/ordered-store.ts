import type { Awaitable } from "../engine.js";

/**
 * The contract of an ordered key space, the small thing an engine of the ordered-KV family provides. The family
 * (`ordered-engine.ts`) builds every stowage primitive on it: KV with TTL and change history, log, slot, queue,
 * stream, transactions and live feeds. Keys and values are bytes; keys compare bytewise (memcmp order, shorter
 * first on a common prefix), which is the order stowage's key encoding is made for.
 *
 * Writes are optimistic: the family runs an operation (or a whole transaction) against a snapshot, records what it
 * read, buffers what it writes, and hands both to {@link OrderedStore.commit}, which applies the writes only if every
 * read still holds. That one shape fits an embedded B+tree (LMDB: checks under its write lock), an LSM tree with one
 * writer (LevelDB), and the networked engines to come (etcd: a `Txn` comparing revisions; Redis: a Lua check-then-apply;
 * Azure Table: ETags inside a batch).
 */
export interface OrderedStore {
  /** The engine's name (`lmdb`, `leveldb`, …), used in errors and `info`. */
  readonly name: string;
  /** Where the data lives (a path, a URL without credentials). */
  readonly location: string;
  readonly limits: OrderedLimits;
  /**
   * True when no other process can commit to this key space while it is open (LevelDB's lock on its folder): the
   * family, which serialises its own process's commits, may then skip the commit checks.
   */
  readonly singleWriter: boolean;
  /**
   * True when a snapshot's `get` and `peek` answer synchronously and read the key only during the call (LMDB,
   * LevelDB): the family then builds the keys of its point reads in one reused buffer instead of a new one per read.
   */
  readonly synchronousPointReads?: boolean;
  /**
   * True when `commit` verifies each of its checks against the latest data itself, whether or not the commit's
   * snapshot read it (etcd: a compare per check; Redis: the script reads each). The family may then check a value it
   * presumes (a namespace's history state as this process last committed it) instead of reading it first, which saves
   * a KV put its round trip of reads. Absent: every check comes from a read of the commit's snapshot (Azure Table
   * validates them by its snapshot's version).
   */
  readonly verifiesEachCheck?: boolean;
  /**
   * Optional, for a store whose snapshots check their reads' consistency after the fact (Redis): a reader whose
   * every read is atomic by itself and carries nothing else. The family reads with it for a call that makes exactly
   * one point read (a KV get), which sees one point in time whatever the store (Redis: a plain HGET instead of a
   * script returning the commit counter beside the value).
   */
  singleReadSnapshot?(): OrderedSnapshot;
  /**
   * Optional, on a store with synchronous point reads: reads `key` as a snapshot taken now would, hands `use` what it
   * found (a view valid only during the call: `use` copies what it keeps) with `arg`, and answers what `use` answers.
   * The family reads with it for a call that makes exactly one point read (a KV get): one read is one point in time,
   * so no snapshot object, reader or promise is needed (`use` and `arg` are passed apart so that no closure is made
   * per read). The key is read only during the call.
   */
  pointRead?<A, R>(key: Uint8Array, use: (found: Uint8Array | undefined, arg: A) => R, arg: A): R;
  /**
   * True when `pointRead` hands `use` bytes made for that read alone, spanning an ArrayBuffer that nothing else
   * references (LevelDB's `getSync` copies each value out): the family may then give them to the caller as they are
   * instead of copying them (a KV get of a bare value: one buffer per get, as the driver's own get).
   */
  readonly freshPointReads?: boolean;
  /**
   * A consistent snapshot to read from. Engines whose reads are synchronous (LMDB) answer synchronously, so that the
   * family's point reads cost no promise.
   */
  snapshot(): Awaitable<OrderedSnapshot>;
  /**
   * Atomically and durably (at the engine's durability) checks every read in `commit.checks` against the latest
   * committed data and, only if all hold, applies `commit.writes` in order. Resolves true when applied, false when a
   * check failed (nothing applied: the family retries). Throws only for a failure of the engine itself.
   */
  commit(commit: OrderedCommit): Promise<boolean>;
  /**
   * Learns of other processes' commits, for live feeds: calls `notify` (possibly spuriously) after another process
   * committed, until the returned function is called. Absent on single-writer engines, whose own commits are all.
   */
  watchCommits?(notify: () => void): () => void;
  /** The engine's own facts for `store.health()` (sizes, map usage); cheap, no data read. */
  facts?(): Awaitable<Record<string, number | string | boolean>>;
  /** Conditions in `facts` that make `store.health()` report `degraded` (a Redis without its AOF), one line each. */
  warnings?(facts: Record<string, number | string | boolean>): string[];
  /** The engine's own integrity check where it has one; problems found, one line each. */
  check?(): Promise<string[]>;
  /** Releases everything; called once, after the family finished its last commit. */
  close(): Promise<void>;
}

/** The sizes an ordered store accepts; the family refuses larger ones before any I/O (LIMIT_EXCEEDED naming the limit). */
export interface OrderedLimits {
  /** Longest key in bytes (LMDB: 1,978). */
  readonly maxKeyBytes: number;
  /** Longest value in bytes. */
  readonly maxValueBytes: number;
  /** Most writes in one commit, or null for no limit (etcd: 128 operations per transaction). */
  readonly maxWritesPerCommit: number | null;
  /** Most bytes (keys and values) in one commit, or null for no limit (etcd: 1.5 MiB per request). */
  readonly maxBytesPerCommit: number | null;
}

/** Reads of one consistent point in time. */
export interface OrderedSnapshot {
  get(key: Uint8Array): Awaitable<Uint8Array | undefined>;
  /**
   * Optional: `get`, answering with a view that is valid only until this process's next read of the store (LMDB's
   * shared read buffer). The family peeks only where it copies what it keeps at once (the point read of a KV entry),
   * which saves a second allocation per read. Absent: the family calls `get`.
   */
  peek?(key: Uint8Array): Awaitable<Uint8Array | undefined>;
  /**
   * Entries with `start ≤ key < end`, ascending (descending with `reverse`), at most `limit` (undefined: all). Keys
   * and values may be views the caller must not keep past `release` (the family copies what it keeps).
   */
  range(start: Uint8Array, end: Uint8Array, options?: OrderedRangeOptions): Awaitable<OrderedEntry[]>;
  /** Lets the engine free the snapshot (an LMDB read transaction, a LevelDB snapshot). */
  release(): void;
  /**
   * For a store without snapshot reads (Redis, Azure Table), whose every read sees the latest data: false once a
   * commit landed between two of this snapshot's reads, so that they may not all hold at one point in time. The family
   * then validates what it read with `commit({ checks, writes: [] })`, or runs the work again, before it trusts an
   * outcome that does not commit (a commit checks every read anyway). Absent: the snapshot is always consistent.
   * A promise where finding out takes a request (Azure Table reads its version entity once, when asked, rather than
   * after every read). The family's reads ask only snapshots that `snapshot()` returned as a promise (its synchronous
   * path stays as is).
   */
  consistent?(): Awaitable<boolean>;
}

export interface OrderedRangeOptions {
  limit?: number;
  reverse?: boolean;
}

export type OrderedEntry = readonly [key: Uint8Array, value: Uint8Array];

/** What a commit must find unchanged: a key's value (undefined: absent), or a whole range's entries. */
export type OrderedCheck =
  | { readonly kind: "get"; readonly key: Uint8Array; readonly value: Uint8Array | undefined }
  | {
      readonly kind: "range";
      readonly start: Uint8Array;
      readonly end: Uint8Array;
      readonly options: OrderedRangeOptions;
      readonly entries: readonly OrderedEntry[];
    };

/** A put (value) or a delete (undefined). */
export interface OrderedWrite {
  readonly key: Uint8Array;
  readonly value: Uint8Array | undefined;
  /**
   * On a delete: the writer knows, from what the commit's checks imply rather than from a read, that the key holds a
   * small value (an index record) before the commit. A store that must know a key exists to delete it (Azure Table's
   * batch) may then skip reading it first. Only a hint: a store that finds it wrong retries with reads.
   */
  readonly present?: true;
}

export interface OrderedCommit {
  readonly checks: readonly OrderedCheck[];
  readonly writes: readonly OrderedWrite[];
  /**
   * The snapshot every check was read from, when there is one: a store without snapshot reads may then validate all
   * checks at once (Azure Table: no commit since the snapshot's first read) before it reads them again. The family
   * reads nothing more from it once it asks for the commit (it only releases it afterwards), so the store need not
   * keep its point in time across the commit (LevelDB does not pin it).
   */
  readonly snapshot?: OrderedSnapshot;
}
