import type { Codec } from "./codec.js";
import type { EngineSupports } from "../engines/engine.js";

export type * from "./work-types.js";
import type { WorkQueue, WorkQueueOptions } from "./work-types.js";

/** Milliseconds since the epoch. Stores take a clock so that tests can control TTL and timestamps. */
export type Clock = () => number;

/** Options of `kv.put`. */
export interface PutOptions {
  /** The entry expires this many milliseconds after the put; it is never read after its deadline. */
  ttlMs?: number;
}

/** Options of `kv.list`, `kv.count` and `kv.deleteRange`. Ranges are in key byte order. */
export interface RangeOptions {
  /** Only keys that start with this string. */
  prefix?: string;
  /** Only keys at or after this key (inclusive). */
  start?: string;
  /** Only keys before this key (exclusive). */
  end?: string;
}

/** Options of `kv.list`. */
export interface ListOptions extends RangeOptions {
  /** Most entries in this page (default {@link LIMITS.defaultPageSize}, at most {@link LIMITS.maxPageSize}). */
  limit?: number;
  /** The `cursor` of the previous page, to continue after it. Opaque. */
  cursor?: string;
  /** Descending key order. */
  reverse?: boolean;
  /** Entries without values: cheap on large values. */
  keysOnly?: boolean;
}

/** One KV entry. `value` is absent when the list was `keysOnly`. */
export interface KvEntry<T> {
  key: string;
  value: T;
}

/** A page of `kv.list`. `cursor` is set when more entries may follow. */
export interface ListPage<E> {
  entries: E[];
  cursor?: string;
}

/** A change `kv.watch` reports: the value a write left under the key (`undefined`: deleted, or expired and swept). */
export interface KvChange<T> {
  key: string;
  value: T | undefined;
  /**
   * The change's place in the namespace's change history: grows in commit order (on PostgreSQL it may skip numbers).
   * Pass it as `since` to resume after it.
   */
  seq: number;
}

/** Options of `kv.watch`. */
export interface WatchOptions {
  /**
   * Start after this change of the namespace's history (a `seq` a watch reported, or 0 for the oldest kept) instead of
   * at the present: the kept changes after it are replayed, then the feed goes live, with no gap at the join.
   */
  since?: number;
  /** Aborting it ends the feed. */
  signal?: AbortSignal;
}

/** A key-value namespace. Keys are UTF-8 strings ordered by their bytes. */
export interface Kv<T = Uint8Array> {
  readonly namespace: string;
  /** Stores `value` under `key`, replacing any previous value (and its TTL). */
  put(key: string, value: T, options?: PutOptions): Promise<void>;
  /** The live value under `key`, or `undefined`. */
  get(key: string): Promise<T | undefined>;
  /** Removes `key`; true when a live entry existed. */
  delete(key: string): Promise<boolean>;
  /** One page of live entries in key order. */
  list(options: ListOptions & { keysOnly: true }): Promise<ListPage<{ key: string }>>;
  list(options?: ListOptions): Promise<ListPage<KvEntry<T>>>;
  /** Number of live entries in the range. */
  count(options?: RangeOptions): Promise<number>;
  /** Deletes every live entry in the range; the number deleted. An empty range object deletes the namespace. */
  deleteRange(options: RangeOptions): Promise<number>;
  /**
   * A live feed of every write to the keys that commits after iteration starts (or after `since`), in commit order,
   * exactly once, including other processes' writes and transactions: `{ key, value, seq }` for each put (even of the
   * value the key held) and each delete (`value: undefined`). Two quick writes are two changes. An expired entry is
   * reported when the sweep removes it. The first watch of a namespace turns on its change history, which then
   * records every write of the namespace (see the README for its cost); the history keeps the last
   * `LIMITS.kvChangesKept` changes, and a watch that falls further behind fails LIMIT_EXCEEDED rather than skip any.
   * At most 1,000 keys; ends on abort, `break` or close.
   */
  watch(keys: readonly string[], options?: WatchOptions): AsyncIterable<KvChange<T>>;
}

/** One log entry. */
export interface LogEntry<T = Uint8Array> {
  /** The namespace-wide sequence: strictly increasing across all keys of the namespace, in commit order. */
  seq: number;
  key: string;
  value: T;
  /** The store clock's time of the append, in ms since the epoch. */
  timestamp: number;
}

/** Options of log reads. */
export interface LogReadOptions {
  /** Most entries returned (default: all, up to {@link LIMITS.maxPageSize}). */
  limit?: number;
}

/** Options of `log.tail`. */
export interface TailOptions {
  /** Start after this sequence (replaying what came after it first); default: the last sequence when iteration starts. */
  since?: number;
  /** Aborting it ends the feed (the iteration just finishes). */
  signal?: AbortSignal;
}

/** An append-only log namespace with one monotonic sequence across its keys. */
export interface Log<T = Uint8Array> {
  readonly namespace: string;
  /** Appends `value` to `key`'s log; resolves to the entry's sequence. */
  append(key: string, value: T): Promise<number>;
  /** `key`'s entries in sequence order. */
  list(key: string, options?: LogReadOptions): Promise<LogEntry<T>[]>;
  /** `key`'s entries with a sequence greater than `seq`, in sequence order. */
  since(key: string, seq: number, options?: LogReadOptions): Promise<LogEntry<T>[]>;
  /** The highest sequence handed out in this namespace (0 when none). */
  lastSeq(): Promise<number>;
  /**
   * A live feed of `key`'s entries (or, with `{ all: true }`, of every key's) that commit after the start position,
   * in sequence order, with no gap and no duplicate, including other processes' appends. Iterate it with
   * `for await`; it ends when `signal` aborts, when the loop breaks, or when the store closes. Not available inside
   * a transaction.
   */
  tail(key: string | { all: true }, options?: TailOptions): AsyncIterable<LogEntry<T>>;
}

/** A slot's current state. */
export interface Versioned<T = Uint8Array> {
  version: number;
  value: T;
}

/** A namespace of versioned values with compare-and-swap. */
export interface Slot<T = Uint8Array> {
  readonly namespace: string;
  /** The current version and value, or `undefined`. */
  get(key: string): Promise<Versioned<T> | undefined>;
  /** Writes unconditionally; resolves to the new version (1 for a new slot). */
  upsert(key: string, value: T): Promise<number>;
  /**
   * Writes only if the current version is `expectedVersion` (0: only if absent). Of concurrent calls with the same
   * expected version exactly one wins, across processes too.
   */
  cas(key: string, expectedVersion: number, value: T): Promise<boolean>;
}

/** What a full queue does with a push. */
export type OverflowPolicy = "reject" | "drop-oldest";

/** Options of `store.queue`. */
export interface QueueOptions<T> {
  /** Most items per queue key (default unbounded, up to {@link LIMITS.maxQueueLength}). */
  maxLen?: number;
  /** `"reject"` (default): a push to a full queue fails with LIMIT_EXCEEDED. `"drop-oldest"`: the oldest item goes. */
  overflow?: OverflowPolicy;
  codec?: Codec<T>;
}

/** Options of `queue.peek`. */
export interface PeekOptions {
  /** Start after the item with this id (default 0: from the head). */
  afterId?: number;
}

/** A queue item. */
export interface QueueItem<T = Uint8Array> {
  id: number;
  value: T;
  /** The store clock's time of the push. */
  pushedAt: number;
}

/** A namespace of ordered, ack-based queues (one per key). */
export interface Queue<T = Uint8Array> {
  readonly namespace: string;
  /** Adds an item at the tail; resolves to its id, greater than every id pushed before in this namespace. */
  push(key: string, value: T): Promise<number>;
  /**
   * Up to `limit` items (default 1) from the head, oldest first, without removing them; with `afterId`, the items
   * after that id, so that a reader can page past items it leaves in place.
   */
  peek(key: string, limit?: number, options?: PeekOptions): Promise<QueueItem<T>[]>;
  /** Removes the item `id`, wherever it is in the queue; true when it was there. */
  ack(key: string, id: number): Promise<boolean>;
  /** Removes up to `count` items from the head; the number removed. */
  dropOldest(key: string, count: number): Promise<number>;
  /** Number of items in the queue. */
  len(key: string): Promise<number>;
}

/** Options shared by the primitive factories. */
export interface CodecOptions<T> {
  codec?: Codec<T>;
}

/** The handles a transaction body uses: the same API as the store's, bound to the transaction. */
export interface TransactionScope {
  kv<T = Uint8Array>(namespace: string, options?: CodecOptions<T>): Kv<T>;
  log<T = Uint8Array>(namespace: string, options?: CodecOptions<T>): Log<T>;
  slot<T = Uint8Array>(namespace: string, options?: CodecOptions<T>): Slot<T>;
  queue<T = Uint8Array>(namespace: string, options?: QueueOptions<T>): Queue<T>;
  stream<T = Uint8Array>(namespace: string, options?: StreamOptions<T>): Stream<T>;
  /** Work queues: claims under leases, retries, delays and dead letters (engines with `supports.workQueues`). */
  workQueue<T = Uint8Array>(namespace: string, options?: WorkQueueOptions<T>): WorkQueue<T>;
}

/** How a stream stores values: as given, or compressed with raw DEFLATE (node:zlib) when that makes them smaller. */
export type StreamCompression = "none" | "deflate";

/** Options of `store.stream`. */
export interface StreamOptions<T> extends CodecOptions<T> {
  /**
   * `"deflate"`: values of 64 bytes or more are stored compressed when that makes them smaller (default `"none"`).
   * Each entry records how it is stored, so any handle reads any entry, whatever its own setting.
   */
  compression?: StreamCompression;
}

/** A record to produce: a value and optional string headers. */
export interface StreamRecord<T = Uint8Array> {
  value: T;
  /** String metadata stored beside the value (at most {@link LIMITS.maxHeaderBytes} as JSON). */
  headers?: Record<string, string>;
}

/** One entry of a segment. */
export interface StreamEntry<T = Uint8Array> {
  /** The segment's sequence: 1, 2, 3… with no gap, in commit order. */
  seq: number;
  /** The store clock's time of the produce, in ms since the epoch. */
  timestamp: number;
  value: T;
  /** Present when the record had headers. */
  headers?: Record<string, string>;
}

/** An entry read across a space: the segment it belongs to, too. */
export interface SpaceEntry<T = Uint8Array> extends StreamEntry<T> {
  segment: string;
}

/** A segment's state, kept beside its entries (reading it reads no entry). All zero for a segment never produced to. */
export interface SegmentStatus {
  lastSeq: number;
  lastTimestamp: number;
  count: number;
}

/** Options of `stream.produce`. */
export interface ProduceOptions {
  /**
   * The segment's current last sequence as the producer believes it (0: empty). When it differs, nothing is written
   * and the call fails with CONFLICT, whose `currentSeq` is the actual one. Of concurrent producers with the same
   * expectation exactly one succeeds, across processes too.
   */
  expectedSeq?: number;
}

/** Options of `stream.readSegment`. */
export interface ReadSegmentOptions {
  /** First sequence returned (default 1). */
  fromSeq?: number;
  /** Last sequence returned (default: the end). */
  toSeq?: number;
  /** Most entries returned (default {@link LIMITS.defaultPageSize}, at most {@link LIMITS.maxPageSize}). */
  limit?: number;
}

/** Options of `stream.readSpace`. */
export interface ReadSpaceOptions {
  /** Only entries with a timestamp at or after this one. */
  fromTimestamp?: number;
  /** The `position` of a previous page: continue strictly after it. */
  after?: string;
  /** Most entries returned (default {@link LIMITS.defaultPageSize}, at most {@link LIMITS.maxPageSize}). */
  limit?: number;
}

/** A page of `stream.readSpace`. */
export interface SpacePage<T> {
  entries: SpaceEntry<T>[];
  /** Where this page ended (opaque): pass it as `after` to go on, now or later. Absent when nothing was read yet. */
  position?: string;
}

/** Options of `stream.spaces` and `stream.segments`: pages of names in byte order. */
export interface NameListOptions {
  /** Continue after this name. */
  after?: string;
  /** Most names returned (default {@link LIMITS.defaultPageSize}, at most {@link LIMITS.maxPageSize}). */
  limit?: number;
}

/** Where a stream subscription starts. */
export interface SubscribeOptions {
  /**
   * For one segment: a sequence (entries after it), `"start"` or `"end"` (the default: what the segment holds when
   * iteration starts is skipped). For a whole space: `"start"`, `"end"` (the default), or the last sequence already
   * seen per segment (`{ [segment]: seq }`; segments not named start at the beginning) — entries carry their
   * segment and sequence, so a consumer can keep that map and resume from it.
   */
  from?: number | "start" | "end" | Record<string, number>;
  /** Aborting it ends the feed. */
  signal?: AbortSignal;
}

/**
 * A namespace of streams: each space holds segments, and each segment is an ordered sequence of entries with its own
 * sequence numbers from 1. Spaces and segments follow the key rules.
 */
export interface Stream<T = Uint8Array> {
  readonly namespace: string;
  /** Appends `records` to the segment atomically (all or none); the segment's status after. */
  produce(space: string, segment: string, records: ReadonlyArray<StreamRecord<T>>, options?: ProduceOptions): Promise<SegmentStatus>;
  /** The segment's entries in sequence order. */
  readSegment(space: string, segment: string, options?: ReadSegmentOptions): Promise<StreamEntry<T>[]>;
  /** Every segment of the space merged in timestamp order (ties: segment, then sequence), resumable from `position`. */
  readSpace(space: string, options?: ReadSpaceOptions): Promise<SpacePage<T>>;
  /** The segment's last entry, or `undefined`. */
  peek(space: string, segment: string): Promise<StreamEntry<T> | undefined>;
  /** The namespace's spaces in byte order. */
  spaces(options?: NameListOptions): Promise<string[]>;
  /** The space's segments in byte order. */
  segments(space: string, options?: NameListOptions): Promise<string[]>;
  /** The segment's status, without reading its entries. */
  status(space: string, segment: string): Promise<SegmentStatus>;
  /**
   * A live feed of the entries that commit after the start position, including other processes' produces: of one
   * segment in sequence order, or of every segment of the space (each segment in sequence order; what arrives
   * together is merged in timestamp order). No gap and no duplicate; it ends when `signal` aborts, when the loop
   * breaks, or when the store closes. Not available inside a transaction.
   */
  subscribe(space: string, options?: SubscribeOptions): AsyncIterable<SpaceEntry<T>>;
  subscribe(space: string, segment: string, options?: SubscribeOptions): AsyncIterable<StreamEntry<T>>;
}

/** Options of `store.transaction`. */
export interface TransactionOptions {
  /**
   * How many times the body may run when the engine reports a CONFLICT with a concurrent transaction (default 50).
   * Only engines with optimistic concurrency (PostgreSQL) ever conflict; memory and SQLite run a body exactly once.
   * A body that may run again must keep its effects inside `tx`.
   */
  maxAttempts?: number;
}

/** Per-namespace figures of `store.info()`. */
export interface NamespaceInfo {
  primitive: "kv" | "log" | "slot" | "queue" | "stream" | "work";
  namespace: string;
  /** Live entries (KV), entries (log), slots, queued items, or work items (dead ones included). */
  count: number;
  /** On a store over named providers: the provider that holds the namespace. */
  provider?: string;
}

/** On a store over named providers: a route, a namespace (`leases`) or a prefix (`jobs.*`), and its provider. */
export interface StoreRoute {
  match: string;
  provider: string;
}

/** What `store.info()` reports. */
export interface StoreInfo {
  engine: string;
  location: string;
  /** The engine's manifest: what it supports, and its size limits. */
  supports: EngineSupports;
  schemaVersion: number;
  namespaces: NamespaceInfo[];
  /** Rows held in storage, expired-but-unswept KV entries included. */
  storedRows: number;
  /** On a store over named providers: its routes (exact ones first, then prefixes, longest first) and the default. */
  routing?: { routes: StoreRoute[]; defaultProvider: string };
}

/** What `store.check()` reports. */
export interface IntegrityReport {
  /** True when no problem was found. */
  ok: boolean;
  /** One line per problem: the engine's own check (SQLite's `integrity_check`) and stowage's invariants. */
  problems: string[];
}

/** Options of `store.health()`. */
export interface HealthOptions {
  /** A probe slower than this is unhealthy (default 1,000 ms). */
  timeoutMs?: number;
  /** A probe at least this slow is degraded (default 100 ms). */
  degradedMs?: number;
}

/** What `store.health()` reports. */
export interface HealthReport {
  /** `healthy`; `degraded`: working, but slow or warned (see `reasons`); `unhealthy`: the probe failed or timed out. */
  status: "healthy" | "degraded" | "unhealthy";
  engine: string;
  location: string;
  /** The engine's manifest: what it supports, and its size limits. */
  supports: EngineSupports;
  /** How long the probe read took, in ms. */
  probeMs: number;
  /** Why the status is not `healthy`, one line each. */
  reasons: string[];
  /** Engine facts: file and WAL sizes and free disk for SQLite, pool usage for PostgreSQL. */
  facts: Record<string, number | string | boolean>;
  /** When it was checked (ms since the epoch). */
  checkedAt: number;
}

/** One store: every primitive of a service's runtime state, on one engine. */
export interface Store extends TransactionScope {
  /** The engine's name: `memory`, `sqlite`, … */
  readonly engine: string;
  /**
   * Runs `body` as one atomic transaction across primitives and namespaces: all of its writes commit, or, if it
   * throws, none do. Reads inside see the transaction's own writes.
   */
  transaction<R>(body: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R>;
  /** Removes expired KV entries from storage now (a background sweep does this periodically); the number removed. */
  sweep(): Promise<number>;
  /** The engine, its location and the namespaces with their counts. */
  info(): Promise<StoreInfo>;
  /**
   * Verifies the stored data: the engine's own check where it has one (SQLite's `integrity_check`) and stowage's
   * invariants (queue lengths match their items, counters are not behind what they handed out, orders hold). Reads
   * everything, so it costs about a full scan: for operations and tests, not for hot paths.
   */
  check(): Promise<IntegrityReport>;
  /**
   * One cheap probe read and the engine's facts: cheap enough to call every second (a health endpoint). Never
   * rejects for an engine problem; a closed store is `unhealthy`.
   */
  health(options?: HealthOptions): Promise<HealthReport>;
  /** Waits for pending writes, releases every handle and the engine. Further calls fail with CLOSED. Idempotent. */
  close(): Promise<void>;
}
