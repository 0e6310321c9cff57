import type { KeyRange, RangeScan } from "../../api/range.js";
import { compareKeys } from "../../api/key-order.js";
import type { NamespaceInfo, SegmentStatus } from "../../api/types.js";
import type {
  EngineDescription,
  EngineOps,
  SpacePosition,
  StoredKv,
  StoredKvChange,
  StoredKvEntry,
  StoredKvRow,
  KvHistoryPage,
  KvHistoryState,
  StoredLogEntry,
  QueuePosition,
  StoredQueueItem,
  StoredQueueRow,
  StoredSlot,
  StoredSlotRow,
  StoredSpaceEntry,
  StoredStreamEntry,
  StoredStreamRecord,
} from "../engine.js";
import { checkExpectedSeq, compareSpaceOrder } from "../stream-expectation.js";
import { itemsToDrop, type QueueBound } from "../queue-bound.js";
import { copyBytes } from "../copy-bytes.js";
import { checkHistoryRoom } from "../history-limit.js";
import { namesAfter, SortedKeys } from "./sorted-keys.js";
import type { WorkOpName, WorkOps } from "../work-unsupported.js";
import { OP_NAMES } from "../engine-calls.js";
import { WorkOpsOnMemory, WorkSpace } from "./memory-work.js";
import { checkLogRestore, checkQueueRestoreIds, checkStreamRestore, lastRowPerKey, queueIdTaken } from "../restore-checks.js";

interface KvRow {
  value: Uint8Array;
  expiresAt: number | null;
}

/** A namespace's KV change history (see `kvHistoryStart`): changes in sequence order, the oldest trimmed first. */
export class KvHistory {
  lastSeq = 0;
  trimmedThrough = 0;
  readonly changes: StoredKvChange[] = [];

  copy(): KvHistory {
    const copy = new KvHistory();
    copy.lastSeq = this.lastSeq;
    copy.trimmedThrough = this.trimmedThrough;
    copy.changes.push(...this.changes);
    return copy;
  }
}

class KvSpace {
  constructor(
    readonly rows = new Map<string, KvRow>(),
    readonly order = new SortedKeys(),
    /** Set once the namespace's history is on; it stays on. */
    public history: KvHistory | undefined = undefined,
  ) {}

  copy(): KvSpace {
    return new KvSpace(new Map(this.rows), this.order.copy(), this.history?.copy());
  }
}

class LogSpace {
  lastSeq = 0;
  size = 0;
  readonly byKey = new Map<string, StoredLogEntry[]>();
  /** Every key's entries in sequence order, for reads of the whole namespace. */
  readonly all: StoredLogEntry[] = [];

  copy(): LogSpace {
    const copy = new LogSpace();
    copy.lastSeq = this.lastSeq;
    copy.size = this.size;
    for (const [key, entries] of this.byKey) copy.byKey.set(key, entries.slice());
    copy.all.push(...this.all);
    return copy;
  }
}

/** One segment: its entries in sequence order (entry i has seq i + 1). */
interface Segment {
  entries: StoredStreamEntry[];
}

class QueueSpace {
  lastId = 0;
  /** Items per key in id order (Map iteration order is insertion order: pushes append, restores re-sort). */
  readonly byKey = new Map<string, Map<number, StoredQueueItem>>();

  copy(): QueueSpace {
    const copy = new QueueSpace();
    copy.lastId = this.lastId;
    for (const [key, items] of this.byKey) copy.byKey.set(key, new Map(items));
    return copy;
  }
}

/**
 * The memory engine's data. Values are copied in and out, each into an ArrayBuffer of its own (see `copyBytes`), so
 * callers never share memory with the store or with each other.
 */
export class MemoryData {
  readonly kv = new Map<string, KvSpace>();
  readonly log = new Map<string, LogSpace>();
  readonly slot = new Map<string, Map<string, StoredSlot>>();
  readonly queue = new Map<string, QueueSpace>();
  /** Namespace → space → segment. A segment exists once it holds an entry; a space once it holds a segment. */
  readonly stream = new Map<string, Map<string, Map<string, Segment>>>();
  /** Namespace → its work queues (memory-work.ts). */
  readonly work = new Map<string, WorkSpace>();

  /**
   * A copy that later writes to this data do not change: every container is copied, the rows and values in them are
   * shared (a write replaces a row object, never changes one, and values are copied in and out).
   */
  copy(): MemoryData {
    const copy = new MemoryData();
    for (const [ns, space] of this.kv) copy.kv.set(ns, space.copy());
    for (const [ns, space] of this.log) copy.log.set(ns, space.copy());
    for (const [ns, slots] of this.slot) copy.slot.set(ns, new Map(slots));
    for (const [ns, space] of this.queue) copy.queue.set(ns, space.copy());
    for (const [ns, spaces] of this.stream) {
      const spacesCopy = new Map<string, Map<string, Segment>>();
      for (const [space, segments] of spaces) {
        spacesCopy.set(space, new Map([...segments].map(([segment, { entries }]) => [segment, { entries: entries.slice() }])));
      }
      copy.stream.set(ns, spacesCopy);
    }
    for (const [ns, space] of this.work) copy.work.set(ns, space.copy());
    return copy;
  }
}

/** The index of the first entry with seq > afterSeq in a seq-ordered list. */
function firstAfter(entries: ReadonlyArray<{ seq: number }>, afterSeq: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((entries[mid] as { seq: number }).seq <= afterSeq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Up to `limit` entries with seq > afterSeq from a seq-ordered list, copied out. */
function entriesAfter(entries: readonly StoredLogEntry[] | undefined, afterSeq: number, limit: number): StoredLogEntry[] {
  if (entries === undefined) return [];
  const lo = firstAfter(entries, afterSeq);
  return entries.slice(lo, lo + Math.min(limit, entries.length)).map((e) => ({ ...e, value: copyBytes(e.value) }));
}

const copyEntry = (entry: StoredStreamEntry): StoredStreamEntry => ({ ...entry, value: copyBytes(entry.value) });

const statusOf = (segment: Segment): SegmentStatus => {
  const last = segment.entries.at(-1);
  return { lastSeq: last?.seq ?? 0, lastTimestamp: last?.timestamp ?? 0, count: segment.entries.length };
};

const live = (row: KvRow | undefined, now: number): row is KvRow => row !== undefined && (row.expiresAt === null || row.expiresAt > now);

function spaceOf<S>(map: Map<string, S>, ns: string, make: () => S): S {
  let space = map.get(ns);
  if (space === undefined) {
    space = make();
    map.set(ns, space);
  }
  return space;
}

// The work operations, defined on the prototype by the class's static block.
export interface MemoryOps extends WorkOps {}
/**
 * The primitives over {@link MemoryData}. Every mutation records its inverse in `undo`, so that a failed write or a
 * rolled-back transaction leaves the data exactly as it was.
 */
export class MemoryOps implements EngineOps {
  constructor(
    private readonly data: MemoryData,
    private readonly undo: Array<() => void>,
  ) {}

  static {
    // Each work operation runs on a WorkOpsOnMemory (memory-work.ts) over the same data and undo list: made per call,
    // so that the KV, log and queue calls that make most MemoryOps objects do not pay for it.
    for (const name of OP_NAMES.filter((op): op is WorkOpName => op.startsWith("work"))) {
      Object.defineProperty(MemoryOps.prototype, name, {
        value(this: MemoryOps, ...args: unknown[]): unknown {
          const work = new WorkOpsOnMemory(this.data.work, this.undo);
          return (work[name] as (...a: unknown[]) => unknown).apply(work, args);
        },
        writable: true,
        configurable: true,
      });
    }
  }

  kvGet(ns: string, key: string, now: number): Uint8Array | undefined {
    const row = this.data.kv.get(ns)?.rows.get(key);
    return live(row, now) ? copyBytes(row.value) : undefined;
  }

  kvGetEntry(ns: string, key: string, now: number): StoredKvEntry | undefined {
    const row = this.data.kv.get(ns)?.rows.get(key);
    return live(row, now) ? { value: copyBytes(row.value), expiresAt: row.expiresAt } : undefined;
  }

  kvPut(ns: string, key: string, value: Uint8Array, expiresAt: number | null): void {
    const space = spaceOf(this.data.kv, ns, () => new KvSpace());
    this.setKvRow(space, key, { value: copyBytes(value), expiresAt });
  }

  kvDelete(ns: string, key: string, now: number): boolean {
    const space = this.data.kv.get(ns);
    const row = space?.rows.get(key);
    if (space === undefined || row === undefined) return false;
    this.deleteKvRow(space, key);
    return live(row, now);
  }

  kvScan(ns: string, scan: RangeScan, now: number): StoredKv[] {
    const space = this.data.kv.get(ns);
    if (space === undefined) return [];
    const out: StoredKv[] = [];
    for (const key of space.order.scan(scan, scan.reverse)) {
      if (out.length >= scan.limit) break;
      const row = space.rows.get(key);
      if (!live(row, now)) continue;
      out.push(scan.keysOnly ? { key } : { key, value: copyBytes(row.value) });
    }
    return out;
  }

  kvCount(ns: string, range: KeyRange, now: number): number {
    const space = this.data.kv.get(ns);
    if (space === undefined) return 0;
    let count = 0;
    for (const key of space.order.scan(range, false)) if (live(space.rows.get(key), now)) count += 1;
    return count;
  }

  kvDeleteRange(ns: string, range: KeyRange, now: number): number {
    const space = this.data.kv.get(ns);
    if (space === undefined) return 0;
    const keys = [...space.order.scan(range, false)]; // collected first: removal must not run during the scan
    let removed = 0;
    for (const key of keys) {
      if (live(space.rows.get(key), now)) removed += 1;
      this.deleteKvRow(space, key);
    }
    return removed;
  }

  kvSweepExpired(now: number, limit: number): number {
    let removed = 0;
    for (const space of this.data.kv.values()) {
      for (const [key, row] of space.rows) {
        if (removed >= limit) return removed;
        if (live(row, now)) continue;
        this.deleteKvRow(space, key);
        removed += 1;
      }
    }
    return removed;
  }

  kvHistoryStart(ns: string, maxNamespaces: number): KvHistoryState {
    let history = this.data.kv.get(ns)?.history;
    if (history === undefined) {
      checkHistoryRoom(ns, [...this.data.kv.values()].filter((space) => space.history !== undefined).length, maxNamespaces);
      const space = spaceOf(this.data.kv, ns, () => new KvSpace());
      history = space.history = new KvHistory();
      this.undo.push(() => (space.history = undefined));
    }
    return { lastSeq: history.lastSeq, trimmedThrough: history.trimmedThrough };
  }

  kvHistoryRead(ns: string, keys: readonly string[], afterSeq: number, limit: number): KvHistoryPage | undefined {
    const history = this.data.kv.get(ns)?.history;
    if (history === undefined) return undefined;
    const wanted = new Set(keys);
    const changes: StoredKvChange[] = [];
    const all = history.changes;
    for (let i = firstAfter(all, afterSeq); i < all.length && changes.length < limit; i++) {
      const change = all[i] as StoredKvChange;
      if (wanted.has(change.key)) changes.push({ ...change, value: change.value === null ? null : copyBytes(change.value) });
    }
    return { lastSeq: history.lastSeq, trimmedThrough: history.trimmedThrough, changes };
  }

  kvHistoryTrim(keep: number, limit: number): number {
    let removed = 0;
    for (const space of this.data.kv.values()) {
      const history = space.history;
      if (history === undefined) continue;
      const cut = Math.min(history.lastSeq - keep, history.trimmedThrough + limit);
      if (cut <= history.trimmedThrough) continue;
      const gone = history.changes.splice(0, firstAfter(history.changes, cut));
      const before = history.trimmedThrough;
      history.trimmedThrough = cut;
      removed += gone.length;
      this.undo.push(() => {
        history.changes.unshift(...gone);
        history.trimmedThrough = before;
      });
    }
    return removed;
  }

  logAppend(ns: string, key: string, value: Uint8Array, now: number): number {
    const space = spaceOf(this.data.log, ns, () => new LogSpace());
    const entries = spaceOf(space.byKey, key, () => []);
    const seq = space.lastSeq + 1;
    const entry = { seq, key, value: copyBytes(value), timestamp: now };
    entries.push(entry);
    space.all.push(entry);
    space.lastSeq = seq;
    space.size += 1;
    this.undo.push(() => {
      entries.pop();
      space.all.pop();
      if (entries.length === 0) space.byKey.delete(key);
      space.lastSeq = seq - 1;
      space.size -= 1;
    });
    return seq;
  }

  logRead(ns: string, key: string, afterSeq: number, limit: number): StoredLogEntry[] {
    return entriesAfter(this.data.log.get(ns)?.byKey.get(key), afterSeq, limit);
  }

  logReadAll(ns: string, afterSeq: number, limit: number): StoredLogEntry[] {
    return entriesAfter(this.data.log.get(ns)?.all, afterSeq, limit);
  }

  logLastSeq(ns: string): number {
    return this.data.log.get(ns)?.lastSeq ?? 0;
  }

  slotGet(ns: string, key: string): StoredSlot | undefined {
    const slot = this.data.slot.get(ns)?.get(key);
    return slot === undefined ? undefined : { version: slot.version, value: copyBytes(slot.value) };
  }

  slotUpsert(ns: string, key: string, value: Uint8Array): number {
    const version = (this.data.slot.get(ns)?.get(key)?.version ?? 0) + 1;
    this.setSlot(ns, key, version, value);
    return version;
  }

  slotCas(ns: string, key: string, expectedVersion: number, value: Uint8Array): boolean {
    if ((this.data.slot.get(ns)?.get(key)?.version ?? 0) !== expectedVersion) return false;
    this.setSlot(ns, key, expectedVersion + 1, value);
    return true;
  }

  queuePush(ns: string, key: string, value: Uint8Array, now: number, bound: QueueBound): number {
    const space = spaceOf(this.data.queue, ns, () => new QueueSpace());
    const items = spaceOf(space.byKey, key, () => new Map<number, StoredQueueItem>());
    const drop = itemsToDrop(ns, key, items.size, bound);
    if (drop > 0) this.queueDropOldest(ns, key, drop);
    const id = space.lastId + 1;
    items.set(id, { id, value: copyBytes(value), pushedAt: now });
    space.lastId = id;
    this.undo.push(() => {
      items.delete(id);
      space.lastId = id - 1;
    });
    return id;
  }

  queuePeek(ns: string, key: string, afterId: number, limit: number): StoredQueueItem[] {
    const items = this.data.queue.get(ns)?.byKey.get(key);
    const out: StoredQueueItem[] = [];
    if (items === undefined) return out;
    // Items sit in id order (a push always takes a greater id), so skipping to `afterId` is a prefix.
    for (const item of items.values()) {
      if (out.length >= limit) break;
      if (item.id <= afterId) continue;
      out.push({ ...item, value: copyBytes(item.value) });
    }
    return out;
  }

  queueAck(ns: string, key: string, id: number): boolean {
    const items = this.data.queue.get(ns)?.byKey.get(key);
    const item = items?.get(id);
    if (items === undefined || item === undefined) return false;
    this.removeQueueItems(items, [item]);
    return true;
  }

  queueDropOldest(ns: string, key: string, count: number): number {
    const items = this.data.queue.get(ns)?.byKey.get(key);
    if (items === undefined) return 0;
    const dropped: StoredQueueItem[] = [];
    for (const item of items.values()) {
      if (dropped.length >= count) break;
      dropped.push(item);
    }
    this.removeQueueItems(items, dropped);
    return dropped.length;
  }

  queueLen(ns: string, key: string): number {
    return this.data.queue.get(ns)?.byKey.get(key)?.size ?? 0;
  }

  streamProduce(ns: string, space: string, segment: string, records: readonly StoredStreamRecord[], now: number, expectedSeq: number | null): SegmentStatus {
    const { target, before } = this.segmentToAppend(ns, space, segment, (length) => checkExpectedSeq(ns, space, segment, expectedSeq, length));
    // A segment's timestamps never go back (see the SQL engines).
    const timestamp = Math.max(now, target.entries.at(-1)?.timestamp ?? 0);
    records.forEach((record, i) =>
      target.entries.push({ seq: before + i + 1, timestamp, value: copyBytes(record.value), headers: record.headers, compression: record.compression }),
    );
    return statusOf(target);
  }

  streamRead(ns: string, space: string, segment: string, fromSeq: number, toSeq: number, limit: number): StoredStreamEntry[] {
    const entries = this.data.stream.get(ns)?.get(space)?.get(segment)?.entries ?? [];
    const last = Math.min(toSeq, entries.length, fromSeq - 1 + limit);
    return entries.slice(Math.max(fromSeq, 1) - 1, Math.max(last, 0)).map(copyEntry);
  }

  streamReadSpace(ns: string, space: string, fromTimestamp: number, after: SpacePosition | null, limit: number): StoredSpaceEntry[] {
    const segments = this.data.stream.get(ns)?.get(space);
    if (segments === undefined) return [];
    // The reference engine merges by sorting: simple, and exact for any clock (timestamps need not grow).
    const found: StoredSpaceEntry[] = [];
    for (const [segment, { entries }] of segments) {
      for (const entry of entries) {
        const candidate = { ...entry, segment };
        if (entry.timestamp >= fromTimestamp && (after === null || compareSpaceOrder(candidate, after, compareKeys) > 0)) found.push(candidate);
      }
    }
    found.sort((a, b) => compareSpaceOrder(a, b, compareKeys));
    return found.slice(0, limit).map((entry) => ({ ...entry, value: copyBytes(entry.value) }));
  }

  streamPeek(ns: string, space: string, segment: string): StoredStreamEntry | undefined {
    const last = this.data.stream.get(ns)?.get(space)?.get(segment)?.entries.at(-1);
    return last === undefined ? undefined : copyEntry(last);
  }

  streamSpaces(ns: string, after: string | null, limit: number): string[] {
    return namesAfter(this.data.stream.get(ns)?.keys() ?? [], after, limit);
  }

  streamSegments(ns: string, space: string, after: string | null, limit: number): string[] {
    return namesAfter(this.data.stream.get(ns)?.get(space)?.keys() ?? [], after, limit);
  }

  streamStatus(ns: string, space: string, segment: string): SegmentStatus {
    const target = this.data.stream.get(ns)?.get(space)?.get(segment);
    return target === undefined ? { lastSeq: 0, lastTimestamp: 0, count: 0 } : statusOf(target);
  }

  streamLastSeqs(ns: string, space: string): Array<{ segment: string; lastSeq: number }> {
    const segments = this.data.stream.get(ns)?.get(space);
    if (segments === undefined) return [];
    return [...segments]
      .map(([segment, { entries }]) => ({ segment, lastSeq: entries.length }))
      .sort((a, b) => compareKeys(a.segment, b.segment));
  }

  kvDump(ns: string, afterKey: string | null, limit: number, now: number): StoredKvRow[] {
    const space = this.data.kv.get(ns);
    const out: StoredKvRow[] = [];
    if (space === undefined) return out;
    const range: KeyRange = afterKey === null ? { lowerInclusive: true } : { lower: afterKey, lowerInclusive: false };
    for (const key of space.order.scan(range, false)) {
      if (out.length >= limit) break;
      const row = space.rows.get(key);
      if (live(row, now)) out.push({ key, value: copyBytes(row.value), expiresAt: row.expiresAt });
    }
    return out;
  }

  slotDump(ns: string, afterKey: string | null, limit: number): StoredSlotRow[] {
    const slots = this.data.slot.get(ns);
    if (slots === undefined) return [];
    return namesAfter(slots.keys(), afterKey, limit).map((key) => {
      const slot = slots.get(key) as StoredSlot;
      return { key, version: slot.version, value: copyBytes(slot.value) };
    });
  }

  queueDump(ns: string, after: QueuePosition | null, limit: number): StoredQueueRow[] {
    const space = this.data.queue.get(ns);
    const out: StoredQueueRow[] = [];
    if (space === undefined) return out;
    // Keys from `after.key` on, in byte order; within the first, only ids after `after.id`.
    const keys = [...space.byKey.keys()].filter((key) => after === null || compareKeys(key, after.key) >= 0).sort(compareKeys);
    for (const key of keys) {
      for (const item of (space.byKey.get(key) as Map<number, StoredQueueItem>).values()) {
        if (out.length >= limit) return out;
        if (after !== null && key === after.key && item.id <= after.id) continue;
        out.push({ key, id: item.id, value: copyBytes(item.value), pushedAt: item.pushedAt });
      }
    }
    return out;
  }

  queueLastId(ns: string): number {
    return this.data.queue.get(ns)?.lastId ?? 0;
  }

  kvRestore(ns: string, rows: readonly StoredKvRow[]): void {
    if (rows.length === 0) return;
    const space = spaceOf(this.data.kv, ns, () => new KvSpace());
    // A key named twice keeps its last row, recorded once, as on the SQL engines.
    for (const row of lastRowPerKey(rows)) this.setKvRow(space, row.key, { value: copyBytes(row.value), expiresAt: row.expiresAt });
  }

  logRestore(ns: string, entries: readonly StoredLogEntry[]): void {
    const last = entries.at(-1);
    if (last === undefined) return;
    checkLogRestore(ns, entries, this.data.log.get(ns)?.lastSeq ?? 0);
    const space = spaceOf(this.data.log, ns, () => new LogSpace());
    const before = { lastSeq: space.lastSeq, size: space.size, all: space.all.length };
    const lengths = new Map<string, number>();
    for (const { seq, key, value, timestamp } of entries) {
      const byKey = spaceOf(space.byKey, key, () => []);
      if (!lengths.has(key)) lengths.set(key, byKey.length);
      const entry = { seq, key, value: copyBytes(value), timestamp };
      byKey.push(entry);
      space.all.push(entry);
    }
    space.lastSeq = last.seq;
    space.size += entries.length;
    this.undo.push(() => {
      for (const [key, length] of lengths) {
        if (length === 0) space.byKey.delete(key);
        else (space.byKey.get(key) as StoredLogEntry[]).length = length;
      }
      space.all.length = before.all;
      space.lastSeq = before.lastSeq;
      space.size = before.size;
    });
  }

  slotRestore(ns: string, rows: readonly StoredSlotRow[]): void {
    for (const row of rows) this.setSlot(ns, row.key, row.version, row.value);
  }

  queueRestore(ns: string, items: readonly StoredQueueRow[], lastId: number): void {
    checkQueueRestoreIds(ns, items);
    let top = lastId;
    for (const item of items) top = Math.max(top, item.id);
    const existing = this.data.queue.get(ns);
    if (items.length === 0 && top <= (existing?.lastId ?? 0)) return;
    for (const item of items) if (existing?.byKey.get(item.key)?.has(item.id) === true) throw queueIdTaken(ns, item.key, item.id);
    const space = existing ?? spaceOf(this.data.queue, ns, () => new QueueSpace());
    const beforeLastId = space.lastId;
    const byKey = new Map<string, StoredQueueRow[]>();
    for (const item of items) spaceOf(byKey, item.key, () => []).push(item);
    for (const [key, added] of byKey) {
      const previous = space.byKey.get(key);
      const merged = [...(previous?.values() ?? []), ...added.map(({ id, value, pushedAt }) => ({ id, value: copyBytes(value), pushedAt }))];
      // Kept in id order, whatever order the items came in.
      merged.sort((a, b) => a.id - b.id);
      space.byKey.set(key, new Map(merged.map((item) => [item.id, item])));
      this.undo.push(() => (previous === undefined ? space.byKey.delete(key) : space.byKey.set(key, previous)));
    }
    space.lastId = Math.max(space.lastId, top);
    this.undo.push(() => (space.lastId = beforeLastId));
  }

  streamRestore(ns: string, space: string, segment: string, entries: readonly StoredStreamEntry[]): void {
    if (entries.length === 0) return;
    const { target } = this.segmentToAppend(ns, space, segment, (length) => checkStreamRestore(ns, space, segment, entries, length));
    for (const entry of entries) target.entries.push(copyEntry(entry));
  }

  /**
   * The segment that a produce or a restore appends to, made (with its space) where missing, once `check` accepted
   * its current length (`before`): the undo of the transaction cuts it back to that length, and removes the segment
   * and its space again when the append made them.
   */
  private segmentToAppend(ns: string, space: string, segment: string, check: (before: number) => void): { target: Segment; before: number } {
    const before = this.data.stream.get(ns)?.get(space)?.get(segment)?.entries.length ?? 0;
    check(before);
    const spaces = spaceOf(this.data.stream, ns, () => new Map<string, Map<string, Segment>>());
    const segments = spaceOf(spaces, space, () => new Map<string, Segment>());
    const target = spaceOf(segments, segment, () => ({ entries: [] }));
    this.undo.push(() => {
      target.entries.length = before;
      if (before > 0) return;
      segments.delete(segment);
      if (segments.size === 0) spaces.delete(space);
    });
    return { target, before };
  }

  describe(now: number): EngineDescription {
    const namespaces: NamespaceInfo[] = [];
    let storedRows = 0;
    for (const [namespace, space] of this.data.kv) {
      if (space.rows.size === 0) continue;
      let count = 0;
      for (const row of space.rows.values()) if (live(row, now)) count += 1;
      namespaces.push({ primitive: "kv", namespace, count });
      storedRows += space.rows.size;
    }
    for (const [namespace, space] of this.data.log) {
      if (space.size === 0 && space.lastSeq === 0) continue;
      namespaces.push({ primitive: "log", namespace, count: space.size });
      storedRows += space.size;
    }
    for (const [namespace, space] of this.data.slot) {
      if (space.size === 0) continue;
      namespaces.push({ primitive: "slot", namespace, count: space.size });
      storedRows += space.size;
    }
    for (const [namespace, space] of this.data.queue) {
      let count = 0;
      for (const items of space.byKey.values()) count += items.size;
      // A queue whose items were all acknowledged still holds its last id, which a dump carries.
      if (count === 0 && space.lastId === 0) continue;
      namespaces.push({ primitive: "queue", namespace, count });
      storedRows += count;
    }
    for (const [namespace, spaces] of this.data.stream) {
      let count = 0;
      for (const segments of spaces.values()) for (const { entries } of segments.values()) count += entries.length;
      if (count === 0) continue;
      namespaces.push({ primitive: "stream", namespace, count });
      storedRows += count;
    }
    for (const [namespace, space] of this.data.work) {
      let count = 0;
      for (const items of space.byKey.values()) count += items.items.size;
      // Listed while it has handed out an id, as queues are: a dump carries its last id.
      if (count === 0 && space.lastId === 0) continue;
      namespaces.push({ primitive: "work", namespace, count });
      storedRows += count;
    }
    return { schemaVersion: 1, namespaces, storedRows };
  }

  private setSlot(ns: string, key: string, version: number, value: Uint8Array): void {
    const space = spaceOf(this.data.slot, ns, () => new Map<string, StoredSlot>());
    const previous = space.get(key);
    space.set(key, { version, value: copyBytes(value) });
    this.undo.push(() => (previous === undefined ? space.delete(key) : space.set(key, previous)));
  }

  private setKvRow(space: KvSpace, key: string, row: KvRow): void {
    const previous = space.rows.get(key);
    space.rows.set(key, row);
    if (previous === undefined) space.order.insert(key);
    this.undo.push(() => {
      if (previous === undefined) {
        space.rows.delete(key);
        space.order.remove(key);
      } else space.rows.set(key, previous);
    });
    this.recordChange(space, key, row.value);
  }

  private deleteKvRow(space: KvSpace, key: string): void {
    const previous = space.rows.get(key);
    if (previous === undefined) return;
    space.rows.delete(key);
    space.order.remove(key);
    this.undo.push(() => {
      space.rows.set(key, previous);
      space.order.insert(key);
    });
    this.recordChange(space, key, null);
  }

  /** What the SQL engines' triggers do: a namespace with history gets a change record for every row written or removed. */
  private recordChange(space: KvSpace, key: string, value: Uint8Array | null): void {
    const history = space.history;
    if (history === undefined) return;
    history.lastSeq += 1;
    history.changes.push({ seq: history.lastSeq, key, value });
    this.undo.push(() => {
      history.changes.pop();
      history.lastSeq -= 1;
    });
  }

  /** Removes items; the undo puts them back in id order. */
  private removeQueueItems(items: Map<number, StoredQueueItem>, removed: StoredQueueItem[]): void {
    if (removed.length === 0) return;
    for (const item of removed) items.delete(item.id);
    this.undo.push(() => {
      const all = [...items.values(), ...removed].sort((a, b) => a.id - b.id);
      items.clear();
      for (const item of all) items.set(item.id, item);
    });
  }
}

