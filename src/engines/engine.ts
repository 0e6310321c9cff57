import type { KeyRange, RangeScan } from "../api/range.js";
import type { NamespaceInfo, SegmentStatus, StoreInfo, WorkCounts, WorkPushed } from "../api/types.js";
import type { ChangeSource } from "./change-signal.js";
import type { CallResult, EngineCall } from "./engine-calls.js";
import type { QueueBound } from "./queue-bound.js";

/** A value or a promise of it: synchronous engines (memory, SQLite) answer at once, networked ones later. */
export type Awaitable<T> = T | Promise<T>;

/** A KV row as engines return it; `value` is absent on keys-only scans. */
export interface StoredKv {
  key: string;
  value?: Uint8Array;
}

/** A live KV value with its deadline (ms since the epoch; null: no TTL). */
export interface StoredKvEntry {
  value: Uint8Array;
  expiresAt: number | null;
}

/** One change of a KV key as the namespace's change history keeps it (value null: the key was deleted or swept). */
export interface StoredKvChange {
  seq: number;
  key: string;
  value: Uint8Array | null;
}

/** Where a namespace's KV change history stands: its last change, and the highest sequence trimmed away. */
export interface KvHistoryState {
  lastSeq: number;
  trimmedThrough: number;
}

/** A read of a namespace's change history: the watched keys' changes, and the history's state, from one snapshot. */
export interface KvHistoryPage extends KvHistoryState {
  changes: StoredKvChange[];
}

/** What an engine tells `store.health()`. */
export interface EngineFacts {
  facts: Record<string, number | string | boolean>;
  /** Conditions that make the store `degraded` (a pool with waiting calls, a nearly full disk). */
  warnings: string[];
}

/**
 * Size limits an engine declares: its own, where they are tighter than stowage's `LIMITS` (the API's limits, which
 * every engine keeps at least); otherwise the same numbers as `LIMITS`. The store enforces them above the engine.
 */
export interface EngineLimits {
  /** Longest key (for streams: space and segment names), in UTF-8 bytes; at most `LIMITS.maxKeyBytes`. */
  maxKeyBytes: number;
  /** Largest value as stored (after the codec), in bytes; at most `LIMITS.maxValueBytes`. */
  maxValueBytes: number;
  /** Most writes one commit holds (a transaction, a stream produce's records); at most `LIMITS.maxTransactionWrites`. */
  maxTransactionWrites: number;
  /** Most bytes of keys and values one commit writes; at most `LIMITS.maxTransactionBytes`. */
  maxTransactionBytes: number;
}

/** The optional capabilities of an engine, by name (`NOT_SUPPORTED` messages and the conformance suite use these names). */
export type EngineCapability = "liveFeeds" | "kvHistory" | "crossProcess" | "crossNamespaceTransactions" | "workQueues";

/**
 * What an engine can do: its capabilities and its size limits. The store refuses a call the engine cannot serve
 * with `NOT_SUPPORTED` before any I/O, reports the manifest in `store.info()` and `store.health()`, and the
 * conformance suite skips the cases that need what the engine lacks.
 */
export interface EngineSupports {
  /** Live feeds (`log.tail`, `stream.subscribe`, `kv.watch`): the engine signals commits through `changes`. */
  readonly liveFeeds: boolean;
  /** A KV change history (`kv.watch`): the `kvHistory*` operations. */
  readonly kvHistory: boolean;
  /** Several processes may use the same data at once, with every promise kept (CAS, sequences, transactions). */
  readonly crossProcess: boolean;
  /** One transaction may use several namespaces (of any primitives), all or nothing across them. */
  readonly crossNamespaceTransactions: boolean;
  /** Work queues (`store.workQueue`): the `work*` operations. */
  readonly workQueues: boolean;
  readonly limits: Readonly<EngineLimits>;
}

/** A log row. */
export interface StoredLogEntry {
  seq: number;
  key: string;
  value: Uint8Array;
  timestamp: number;
}

/** A slot row. */
export interface StoredSlot {
  version: number;
  value: Uint8Array;
}

/** A queue row. */
export interface StoredQueueItem {
  id: number;
  value: Uint8Array;
  pushedAt: number;
}

/** A record as a produce carries it to the engine: bytes, headers as JSON text (null: none), and how the bytes are compressed (null: not). */
export interface StoredStreamRecord {
  value: Uint8Array;
  headers: string | null;
  compression: string | null;
}

/** A stream entry row. */
export interface StoredStreamEntry extends StoredStreamRecord {
  seq: number;
  timestamp: number;
}

/** A stream entry row read across a space. */
export interface StoredSpaceEntry extends StoredStreamEntry {
  segment: string;
}

/** Where a read across a space stopped: its order is (timestamp, segment, seq). */
export interface SpacePosition {
  timestamp: number;
  segment: string;
  seq: number;
}

/** A live KV entry with its key and deadline (ms since the epoch; null: no TTL), as a dump reads and a restore writes it. */
export interface StoredKvRow {
  key: string;
  value: Uint8Array;
  expiresAt: number | null;
}

/** A slot with its key and version, as a dump reads and a restore writes it. */
export interface StoredSlotRow {
  key: string;
  version: number;
  value: Uint8Array;
}

/** A queued item with its key, id and push time, as a dump reads and a restore writes it. */
export interface StoredQueueRow extends StoredQueueItem {
  key: string;
}

/** Where a page of a queue namespace's dump stopped: its order is (key, id). */
export interface QueuePosition {
  key: string;
  id: number;
}

/**
 * A work push as the store hands it to the engine: the item's first visible time, and its retry policy (`maxAttempts`,
 * and `policy`, the backoff as text the engine stores without reading; see work-rules.ts). `dedup`: the dedup key, or
 * null; `reject`: a live item holding it refuses this push instead of answering for it.
 */
export interface StoredWorkPush {
  key: string;
  value: Uint8Array;
  priority: number;
  visibleAt: number;
  maxAttempts: number;
  policy: string;
  dedup: string | null;
  reject: boolean;
}

/** What identifies a lease to the engine: it is current while the item holds `token` and has had `attempt` claims. */
export interface LeaseRef {
  key: string;
  id: number;
  token: number;
  attempt: number;
}

/** A claimed item as the engine returns it (`token` and `deadline` are the claim's: a coalesced claim's may differ from the caller's). */
export interface StoredClaim {
  id: number;
  token: number;
  deadline: number;
  value: Uint8Array;
  pushedAt: number;
  priority: number;
  attempt: number;
  maxAttempts: number;
  policy: string;
  lastError: string | null;
}

/**
 * How a settle ends a lease: `ack` removes the item; `retry` (a release) makes it claimable at `visibleAt`, giving the
 * attempt back when `giveBack`; `fail` stores `error` as its last and applies the item's own stored retry policy
 * (`failDecision` in work-rules.ts, with `random` for the jitter, so a rerun program decides the same): dead when
 * `final` or its attempts are used up, else claimable again after `retryAfterMs` (null: the policy's backoff). The
 * engine applies a settle only when the lease is current.
 */
export type StoredSettle = LeaseRef &
  (
    | { to: "ack" }
    | { to: "retry"; visibleAt: number; giveBack: boolean }
    | { to: "fail"; error: string; random: number; final: boolean; retryAfterMs: number | null }
  );

/** What a settle did to a current lease's item: dead-lettered, or claimable again at `visibleAt` (null: acked or dead). */
export interface WorkSettled {
  dead: boolean;
  visibleAt: number | null;
}

/** A work item with everything a move must keep, in any state, as dead-letter reads, dumps and restores carry it. */
export interface StoredWorkRow {
  key: string;
  id: number;
  value: Uint8Array;
  pushedAt: number;
  priority: number;
  visibleAt: number;
  attempts: number;
  maxAttempts: number;
  policy: string;
  /** The current lease's token; null when the item is not leased. */
  token: number | null;
  dedup: string | null;
  dead: boolean;
  lastError: string | null;
  deadAt: number | null;
}

/** An idle worker's probe: whether an item is claimable now, else when the next delayed one becomes visible. */
export interface WorkPoll {
  claimable: boolean;
  nextVisibleAt: number | null;
}

/** What a requeue of dead letters did: `skipped` are the ids whose dedup key a live item holds; `more`: dead ones left. */
export interface WorkRequeued {
  requeued: number;
  skipped: number[];
  more: boolean;
}

/** What `describe` reports about the stored data. */
export interface EngineDescription {
  schemaVersion: number;
  namespaces: NamespaceInfo[];
  storedRows: number;
  /** A routed engine's routes (see `StoreInfo.routing`). */
  routing?: StoreInfo["routing"];
}

/**
 * The primitives as one engine transaction sees them. Arguments arrive validated (namespaces, keys, sizes, limits),
 * values are bytes, and `now` is the store clock's reading at the call, so that TTL is judged the same everywhere.
 * Reads see the transaction's own writes.
 */
export interface EngineOps {
  kvGet(ns: string, key: string, now: number): Awaitable<Uint8Array | undefined>;
  /** The live value with its deadline (null: no TTL), for layers that keep a copy (the read cache). */
  kvGetEntry(ns: string, key: string, now: number): Awaitable<StoredKvEntry | undefined>;
  /** `expiresAt` is an absolute deadline in ms, or null for no TTL. */
  kvPut(ns: string, key: string, value: Uint8Array, expiresAt: number | null): Awaitable<void>;
  /** True when a live entry was removed. */
  kvDelete(ns: string, key: string, now: number): Awaitable<boolean>;
  kvScan(ns: string, scan: RangeScan, now: number): Awaitable<StoredKv[]>;
  kvCount(ns: string, range: KeyRange, now: number): Awaitable<number>;
  /** Removes live entries in the range; the number removed (expired ones go too, uncounted). */
  kvDeleteRange(ns: string, range: KeyRange, now: number): Awaitable<number>;
  /** Removes up to `limit` expired entries (of one namespace, or several); the number removed, 0 once none is left. */
  kvSweepExpired(now: number, limit: number): Awaitable<number>;
  /**
   * Turns on the namespace's KV change history, if it is not on yet, and returns its state. From the commit of this
   * call on, every put and delete of the namespace — of any process, in or out of transactions, and the sweep's
   * removals — commits with a change record numbered by a per-namespace sequence that follows commit order. When
   * `maxNamespaces` namespaces have a history already, a new one is refused with LIMIT_EXCEEDED (see `checkHistoryRoom`).
   */
  kvHistoryStart(ns: string, maxNamespaces: number): Awaitable<KvHistoryState>;
  /**
   * The changes of `keys` with seq > afterSeq, ascending, at most `limit`, with the history's state, all from one
   * snapshot; undefined when the namespace has no history.
   */
  kvHistoryRead(ns: string, keys: readonly string[], afterSeq: number, limit: number): Awaitable<KvHistoryPage | undefined>;
  /** Trims every namespace's history to its last `keep` changes, removing at most `limit` per namespace; the number removed. */
  kvHistoryTrim(keep: number, limit: number): Awaitable<number>;

  /** Takes the namespace's next sequence and appends; the sequence. */
  logAppend(ns: string, key: string, value: Uint8Array, now: number): Awaitable<number>;
  /** `key`'s entries with a sequence greater than `afterSeq`, ascending, at most `limit`. */
  logRead(ns: string, key: string, afterSeq: number, limit: number): Awaitable<StoredLogEntry[]>;
  logLastSeq(ns: string): Awaitable<number>;
  /** The namespace's entries of every key with seq > afterSeq, in sequence order, at most `limit`. */
  logReadAll(ns: string, afterSeq: number, limit: number): Awaitable<StoredLogEntry[]>;

  slotGet(ns: string, key: string): Awaitable<StoredSlot | undefined>;
  /** Writes unconditionally; the new version (1 for a new slot). */
  slotUpsert(ns: string, key: string, value: Uint8Array): Awaitable<number>;
  /** Writes only if the version is `expectedVersion` (0: absent); true when it wrote. Exactly one concurrent winner. */
  slotCas(ns: string, key: string, expectedVersion: number, value: Uint8Array): Awaitable<boolean>;

  /**
   * Appends with the namespace's next id, first applying the bound: a full queue drops its oldest items or throws
   * LIMIT_EXCEEDED (see `itemsToDrop`), atomically with the push. The id.
   */
  queuePush(ns: string, key: string, value: Uint8Array, now: number, bound: QueueBound): Awaitable<number>;
  /** Up to `limit` items with an id greater than `afterId` (0: from the head), in id order. */
  queuePeek(ns: string, key: string, afterId: number, limit: number): Awaitable<StoredQueueItem[]>;
  queueAck(ns: string, key: string, id: number): Awaitable<boolean>;
  queueDropOldest(ns: string, key: string, count: number): Awaitable<number>;
  queueLen(ns: string, key: string): Awaitable<number>;

  /**
   * Appends the records to the segment with the next sequences, all at `now`, and returns the segment's status. When
   * `expectedSeq` is not null and differs from the segment's last sequence, writes nothing and throws CONFLICT with
   * `currentSeq`. Of concurrent calls with the same expectation exactly one succeeds.
   */
  streamProduce(ns: string, space: string, segment: string, records: readonly StoredStreamRecord[], now: number, expectedSeq: number | null): Awaitable<SegmentStatus>;
  /** Entries with fromSeq ≤ seq ≤ toSeq, in sequence order, at most `limit`. */
  streamRead(ns: string, space: string, segment: string, fromSeq: number, toSeq: number, limit: number): Awaitable<StoredStreamEntry[]>;
  /** The space's entries with timestamp ≥ `fromTimestamp` and after `after` in (timestamp, segment, seq) order. */
  streamReadSpace(ns: string, space: string, fromTimestamp: number, after: SpacePosition | null, limit: number): Awaitable<StoredSpaceEntry[]>;
  /** The segment's last entry. */
  streamPeek(ns: string, space: string, segment: string): Awaitable<StoredStreamEntry | undefined>;
  /** Space names after `after` (null: from the start), in byte order, at most `limit`. */
  streamSpaces(ns: string, after: string | null, limit: number): Awaitable<string[]>;
  /** The space's segment names after `after`, in byte order, at most `limit`. */
  streamSegments(ns: string, space: string, after: string | null, limit: number): Awaitable<string[]>;
  /** The segment's status from its own row (zeros when it has none). */
  streamStatus(ns: string, space: string, segment: string): Awaitable<SegmentStatus>;
  /** Every segment of the space with its last sequence, in byte order of the names (for live feeds). */
  streamLastSeqs(ns: string, space: string): Awaitable<Array<{ segment: string; lastSeq: number }>>;

  /*
   * Dumps and restores (export, import, migrate): a namespace in pages, with everything a move must keep — TTL
   * deadlines, log sequences and timestamps, slot versions, queue ids and push times, stream sequences. Restores write
   * what a dump read, as it was, into a namespace that does not hold it yet; they bypass queue bounds and do not
   * count as produces or pushes (no live-feed ordering beyond commit order is promised for them).
   */
  /** Live entries with a key after `afterKey` (null: from the first), in key order, at most `limit`, with their deadlines. */
  kvDump(ns: string, afterKey: string | null, limit: number, now: number): Awaitable<StoredKvRow[]>;
  /** Slots with a key after `afterKey` (null: from the first), in key order, at most `limit`, with their versions. */
  slotDump(ns: string, afterKey: string | null, limit: number): Awaitable<StoredSlotRow[]>;
  /** Queued items after `after` (null: from the first) in (key, id) order, at most `limit`. */
  queueDump(ns: string, after: QueuePosition | null, limit: number): Awaitable<StoredQueueRow[]>;
  /** The highest id the namespace ever handed out (0: none), acknowledged items' included, so that a move keeps ids growing. */
  queueLastId(ns: string): Awaitable<number>;
  /**
   * Writes the entries with their deadlines (a past one: the entry is expired at once), replacing live or expired
   * entries of the same keys; a namespace with a change history records each as a put.
   */
  kvRestore(ns: string, rows: readonly StoredKvRow[]): Awaitable<void>;
  /**
   * Appends the entries with their own sequences and timestamps. Sequences ascend and the first is above the
   * namespace's last sequence, else CONFLICT and nothing is written; the last sequence becomes the last entry's.
   */
  logRestore(ns: string, entries: readonly StoredLogEntry[]): Awaitable<void>;
  /** Writes the slots with their own versions, replacing slots of the same keys. */
  slotRestore(ns: string, rows: readonly StoredSlotRow[]): Awaitable<void>;
  /**
   * Inserts the items with their own ids and push times, in any order; an id the item's key holds already, or two
   * items with one id, is CONFLICT and nothing is written. (Held ids are checked per key: items are stored by key,
   * and a check across keys would cost a lookup per key of the namespace for each item.) The namespace's last id
   * becomes the largest of its own, `lastId` and the items' ids.
   */
  queueRestore(ns: string, items: readonly StoredQueueRow[], lastId: number): Awaitable<void>;
  /**
   * Appends the entries to the segment with their own sequences, timestamps, headers and compression. The first
   * sequence is the segment's last + 1 and the rest follow without gaps, else CONFLICT and nothing is written.
   */
  streamRestore(ns: string, space: string, segment: string, entries: readonly StoredStreamEntry[]): Awaitable<void>;

  /*
   * Work queues (engines whose `supports.workQueues` is true; the others refuse them NOT_SUPPORTED). An item is
   * claimable when it is not dead and its `visibleAt` (a delayed item's first time, a leased item's deadline) is not
   * after `now`. A lease is current while the item holds its token and attempt count: every settle and extend checks
   * both, and does nothing to an item whose lease is not current (the `false` in its answer).
   */
  /**
   * Inserts the items with the namespace's next ids, in order. An item whose dedup key a live (not dead) item of its
   * queue key holds (or an earlier item of the call) is not inserted: its answer is that item's id with
   * `duplicate: true`. With `reject`, that is CONFLICT with `itemId` instead, and nothing of the call is written, so
   * that `pushMany` stays all or nothing (a coalescing engine keeps pushes that may reject out of shared statements).
   */
  workPush(ns: string, items: readonly StoredWorkPush[], now: number): Awaitable<WorkPushed[]>;
  /**
   * Leases up to `limit` claimable items of `key` — priority descending, then `visibleAt`, then id — with `token`,
   * `deadline` as their `visibleAt`, and one more attempt each. A claimable item that has had `maxAttempts` claims is
   * dead-lettered instead (see `expiredOverLimit` in work-rules.ts), in the same commit, and not returned.
   */
  workClaim(ns: string, key: string, limit: number, now: number, deadline: number, token: number): Awaitable<StoredClaim[]>;
  /** Sets the deadline of each current lease; per lease, whether it was current. */
  workExtend(ns: string, leases: readonly LeaseRef[], deadline: number): Awaitable<boolean[]>;
  /**
   * Applies each settle whose lease is current (a released or failed item loses its token); per settle, what it did,
   * or null when the lease was not current.
   */
  workSettle(ns: string, settles: readonly StoredSettle[], now: number): Awaitable<Array<WorkSettled | null>>;
  /** Whether `key` has a claimable item, else the earliest `visibleAt` of its live items (null: none). A read. */
  workPoll(ns: string, key: string, now: number): Awaitable<WorkPoll>;
  /** The items of `key` by state at `now` (an expired lease counts as ready). */
  workCounts(ns: string, key: string, now: number): Awaitable<WorkCounts>;
  /** The queue keys holding items (of any state) after `afterKey` (null: from the first), in key order, at most `limit`. */
  workKeys(ns: string, afterKey: string | null, limit: number): Awaitable<string[]>;
  /** Dead items of `key` with an id greater than `afterId`, in id order, at most `limit`. */
  workDead(ns: string, key: string, afterId: number, limit: number): Awaitable<StoredWorkRow[]>;
  /**
   * Makes dead items of `key` (`ids`, or null: any) ready at `now` with no attempts and no lease, at most `limit`; a dead
   * item whose dedup key a live item holds stays dead, its id in `skipped`.
   */
  workRequeue(ns: string, key: string, ids: readonly number[] | null, now: number, limit: number): Awaitable<WorkRequeued>;
  /** Removes dead items of `key` (`ids`, or null: any), at most `limit`; `more`: dead ones are left. */
  workPurge(ns: string, key: string, ids: readonly number[] | null, limit: number): Awaitable<{ purged: number; more: boolean }>;
  /** Work items of every state after `after` (null: from the first) in (key, id) order, at most `limit`. */
  workDump(ns: string, after: QueuePosition | null, limit: number): Awaitable<StoredWorkRow[]>;
  /** The highest id the namespace ever handed out (0: none). */
  workLastId(ns: string): Awaitable<number>;
  /**
   * Inserts the rows as they are (state, lease, attempts, dedup key); an id the row's key holds already, two rows with
   * one id, or a dedup key a live item holds is CONFLICT and nothing is written. The last id becomes the largest of
   * its own, `lastId` and the rows' ids.
   */
  workRestore(ns: string, rows: readonly StoredWorkRow[], lastId: number): Awaitable<void>;

  describe(now: number): Awaitable<EngineDescription>;
}

/**
 * The contract every backend implements. Validation, codecs, limits and the open/closed state live above it, in the
 * store; an engine only stores bytes atomically and maps its driver's errors to `StowageError`.
 *
 * Single reads and writes arrive as data ({@link EngineCall}: an operation's name and arguments), so that an engine
 * and the layers above it know what a call does without running it; an engine that has an {@link EngineOps} object
 * for its transactions answers them with `runCall(ops, call)` (engine-calls.ts).
 */
export interface Engine {
  /** `memory`, `sqlite`, … */
  readonly name: string;
  /** Where the data lives, for `info` and messages (a path, a DSN without password, `memory`). */
  readonly location: string;
  /**
   * What the engine supports (live feeds, KV history, cross-process use, transactions across namespaces) and its
   * size limits. Constant for the engine's life; the store checks it when it opens (`createStore`).
   */
  readonly supports: EngineSupports;
  /**
   * Runs one read-only call against committed data. Engines that can answer synchronously (memory, SQLite) return
   * the value itself, so that a read costs no promise inside the store; networked engines return a promise.
   */
  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>>;
  /**
   * Runs one write call atomically and durably: when the promise resolves, the write is committed at the engine's
   * durability; when it rejects, none of it stays. Engines may commit several calls together (group commit). A call
   * whose operation is one step (`OP_FACTS[op].steps`) may run without an explicit transaction (one SQL statement).
   */
  write<C extends EngineCall>(call: C): Promise<CallResult<C>>;
  /** Runs `body` as one exclusive transaction: commit when it resolves, roll back when it throws. */
  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T>;
  /**
   * Verifies the stored data: the engine's own check where it has one (SQLite's `integrity_check`) and stowage's
   * invariants. The problems found, one line each; none when the data is sound. Reads everything: not for hot paths.
   */
  check(): Promise<string[]>;
  /** Facts for `store.health()` (sizes, pool usage) and warnings that make it `degraded`; cheap, no data read. */
  facts?(): Awaitable<EngineFacts>;
  /** The health probe read, where an engine wants another than a log's last sequence (wrapper layers pass it down). */
  probe?(): Promise<unknown>;
  /**
   * A check the store runs as a transaction takes each handle, for engines whose transactions cannot hold some mix
   * of namespaces (a routed store's providers): it throws a typed error, before any I/O, for a handle the transaction
   * cannot take. One per transaction run; absent where any mix is fine.
   */
  transactionGuard?(): (primitive: string, namespace: string) => void;
  /**
   * Runs `body` over one consistent read-only view of the committed data, the source of a dump: every read through
   * `ops` sees the same point in time, while other callers go on writing. A write through `ops` fails INTERNAL. An
   * engine that cannot hold a snapshot (Redis, Azure Table) checks when `body` returns that no commit landed while
   * it read, and rejects CONFLICT otherwise (the caller runs it again, or on a quieter store). A store over several
   * providers gives each provider's namespaces their own provider's point in time.
   * Absent on an engine that cannot be dumped (a test double): export refuses it NOT_SUPPORTED.
   */
  snapshot?<T>(body: (ops: EngineOps) => Promise<T>): Promise<T>;
  /** Signals commits for live feeds (`log.tail`); an engine without it has no live feeds. */
  readonly changes?: ChangeSource;
  /** Finishes pending writes and releases every resource. Called once, by the store. */
  close(): Promise<void>;
}
