import type { KeyRange, RangeScan } from "../../api/range.js";
import type { KvHistoryPage, KvHistoryState, StoredKv, StoredKvChange, StoredKvEntry } from "../engine.js";
import { ask, whenReady, type Program } from "../awaitable.js";
import { checkHistoryRoom } from "../history-limit.js";
import type { Awaitable } from "../engine.js";
import type { OrderedTx } from "./buffered-tx.js";
import type { OrderedEntry } from "./ordered-store.js";
import { asBuffer, KeyLayout, namespaceOf, prefixEnd, readNumber, successor, TAG, textOf, writeNumber } from "./key-layout.js";
import { changeRecord, kvDeadline, kvFreshValue, kvRecord, kvValue, numberAt, numbersRecord, readChange } from "./record-values.js";

/** What every program runs against: the transaction (or snapshot) and the key layout. */
export interface OrderedContext {
  readonly tx: OrderedTx;
  readonly keys: KeyLayout;
  /** The point reads' keys may share the layout's scratch buffer (a snapshot reader of a synchronous store). */
  readonly transientPointKeys?: boolean;
  /** How many times the family ran this write before, each run lost to another process's commit (0: the first run). */
  readonly retry?: number;
  /** The store's most writes per commit (null or absent: no limit), for a program that sizes its work to one commit. */
  readonly maxWritesPerCommit?: number | null;
}

/** Whether a KV entry's record is live at `now` (no deadline, or a later one). */
export const live = (record: Uint8Array, now: number): boolean => {
  const deadline = kvDeadline(record);
  return deadline === null || deadline > now;
};

const kvKey = (c: OrderedContext, ns: string, key: string) => c.keys.textKey(TAG.kv, ns, key);

/** The expiry index's key: deadline first, so that the sweep walks it from the oldest deadline. */
function expiryKey(c: OrderedContext, deadline: number, ns: string, key: string): Buffer {
  const entry = kvKey(c, ns, key);
  c.keys.checkLength(entry.length + 8, ns, key);
  const out = Buffer.allocUnsafe(entry.length + 8);
  out[0] = TAG.kvExpiry;
  writeNumber(out, 1, deadline);
  entry.copy(out, 9, 1);
  return out;
}

/** The record of `key`, peeked: see {@link kvGetEntry}. */
function peekEntry(c: OrderedContext, ns: string, key: string): Awaitable<Uint8Array | undefined> {
  return c.tx.peek(c.transientPointKeys === true ? c.keys.scratchTextKey(TAG.kv, ns, key) : kvKey(c, ns, key));
}

/** The value of a KV entry's record when live at `now` (a copy), else undefined. */
export function liveValue(record: Uint8Array | undefined, now: number): Uint8Array | undefined {
  return record === undefined || !live(record, now) ? undefined : kvValue(record);
}

/** The entry (a copy of its value, and its deadline) of a KV entry's record when live at `now`, else undefined. */
export function liveEntry(record: Uint8Array | undefined, now: number): StoredKvEntry | undefined {
  return record === undefined || !live(record, now) ? undefined : { value: kvValue(record), expiresAt: kvDeadline(record) };
}

/** {@link liveValue} of a fresh record (`OrderedStore.freshPointReads`): a bare one is handed on, not copied. */
export function liveFreshValue(record: Uint8Array | undefined, now: number): Uint8Array | undefined {
  return record === undefined || !live(record, now) ? undefined : kvFreshValue(record);
}

/** {@link liveEntry} of a fresh record (`OrderedStore.freshPointReads`). */
export function liveFreshEntry(record: Uint8Array | undefined, now: number): StoredKvEntry | undefined {
  return record === undefined || !live(record, now) ? undefined : { value: kvFreshValue(record), expiresAt: kvDeadline(record) };
}

/**
 * The live entry of `key` with its deadline: the hot path, without a program. It peeks: the record is read and its
 * value copied (kvValue) before any other read.
 */
export function kvGetEntry(c: OrderedContext, ns: string, key: string, now: number): Awaitable<StoredKvEntry | undefined> {
  return whenReady(peekEntry(c, ns, key), (record) => liveEntry(record, now));
}

/** The live value of `key`: {@link kvGetEntry} without the deadline, one step (a promise, on a networked store) less. */
export function kvGetValue(c: OrderedContext, ns: string, key: string, now: number): Awaitable<Uint8Array | undefined> {
  return whenReady(peekEntry(c, ns, key), (record) => liveValue(record, now));
}

/** The key of a namespace's history state, which every KV write of the namespace reads (see {@link recordChange}). */
export const kvHistoryStateKey = (keys: KeyLayout, ns: string): Buffer => keys.prefix(TAG.kvHistory, ns);

/**
 * Whether a KV put reads the entry it replaces: only a put with a deadline does, to remove the old expiry index
 * record when the deadline changes. A put without one writes blind; an index record it leaves behind (the old entry
 * had a deadline) is dropped by the sweep when its deadline comes (see {@link kvSweepExpired}).
 */
export const kvPutReadsEntry = (expiresAt: number | null): boolean => expiresAt !== null;

/**
 * The keys a KV put or delete of `key` reads before it writes: its namespace's history state and, unless a put
 * without deadline (`readsEntry` false), its entry. The family reads them for a whole group of writes at once on a
 * networked store (`BufferedTx.prefetch`).
 */
export function kvWriteReads(keys: KeyLayout, ns: string, key: string, readsEntry = true): Uint8Array[] {
  const state = kvHistoryStateKey(keys, ns);
  return readsEntry ? [keys.textKey(TAG.kv, ns, key), state] : [state];
}

/** A put that does not read the entry it replaces (see {@link kvPutReadsEntry}). */
const UNREAD = Symbol("unread");

/**
 * Writes or removes an entry with its expiry index record and its change record (when the namespace keeps history).
 * `known` holds the entry as the caller read it already, or is {@link UNREAD} for a put that does not read it; when
 * absent, the entry is read here. Returns the previous entry (undefined when unread).
 */
function* setEntry(
  c: OrderedContext,
  ns: string,
  key: string,
  record: Uint8Array | undefined,
  value: Uint8Array | null,
  known?: { entry: Uint8Array | undefined } | typeof UNREAD,
): Program<Uint8Array | undefined> {
  const entryKey = kvKey(c, ns, key);
  const stateKey = kvHistoryStateKey(c.keys, ns);
  // Both reads asked at once: on a networked store they share one round trip. The state is read even when nothing
  // is written, so that no read is left in flight when the program ends.
  const entryRead = known === undefined ? c.tx.get(entryKey) : undefined;
  const stateRead = c.tx.get(stateKey);
  if (stateRead instanceof Promise) stateRead.catch(() => undefined);
  const previous = known === undefined ? yield* ask(entryRead as Awaitable<Uint8Array | undefined>) : known === UNREAD ? undefined : known.entry;
  const state = yield* ask(stateRead);
  if (known !== UNREAD && previous === undefined && record === undefined) return undefined;
  const before = previous === undefined ? null : kvDeadline(previous);
  const after = record === undefined ? null : kvDeadline(record);
  if (before !== null && before !== after) c.tx.delete(expiryKey(c, before, ns, key));
  if (after !== null && before !== after) c.tx.put(expiryKey(c, after, ns, key), EMPTY);
  if (record === undefined) c.tx.delete(entryKey);
  else c.tx.put(entryKey, record);
  recordChange(c, ns, key, value, stateKey, state);
  return previous;
}

const EMPTY = new Uint8Array(0);

/**
 * Every write of a namespace reads its history state (`state`, read at `stateKey`): so a history turned on
 * concurrently makes the write run again.
 */
function recordChange(c: OrderedContext, ns: string, key: string, value: Uint8Array | null, stateKey: Uint8Array, state: Uint8Array | undefined): void {
  if (state === undefined) return;
  const seq = numberAt(state, 0) + 1;
  c.tx.put(c.keys.key(TAG.kvChange, ns, [seq]), changeRecord(key, value));
  c.tx.put(stateKey, numbersRecord(seq, numberAt(state, 1)));
}

export function* kvPut(c: OrderedContext, ns: string, key: string, value: Uint8Array, expiresAt: number | null): Program<void> {
  yield* setEntry(c, ns, key, kvRecord(value, expiresAt), value, kvPutReadsEntry(expiresAt) ? undefined : UNREAD);
}

export function* kvDelete(c: OrderedContext, ns: string, key: string, now: number): Program<boolean> {
  const previous = yield* setEntry(c, ns, key, undefined, null);
  return previous !== undefined && live(previous, now);
}

/** The range's bounds as layout keys. */
function bounds(c: OrderedContext, ns: string, range: KeyRange): [Uint8Array, Uint8Array] {
  const prefix = c.keys.prefix(TAG.kv, ns);
  const lower = range.lower === undefined ? prefix : kvKey(c, ns, range.lower);
  return [range.lower !== undefined && !range.lowerInclusive ? successor(lower) : lower, range.upper === undefined ? prefixEnd(prefix) : kvKey(c, ns, range.upper)];
}

/** Pages of a KV range, skipping expired entries, until `limit` live ones or the end. */
export function* liveEntries(c: OrderedContext, ns: string, range: KeyRange, reverse: boolean, limit: number, now: number): Program<OrderedEntry[]> {
  let [start, end] = bounds(c, ns, range);
  const out: OrderedEntry[] = [];
  while (out.length < limit) {
    const want = limit - out.length;
    const page = yield* ask(c.tx.range(start, end, { limit: want, reverse }));
    for (const entry of page) if (live(entry[1], now)) out.push(entry);
    if (page.length < want) break;
    const last = (page[page.length - 1] as OrderedEntry)[0];
    if (reverse) end = last;
    else start = successor(last);
  }
  return out;
}

export function* kvScan(c: OrderedContext, ns: string, scan: RangeScan, now: number): Program<StoredKv[]> {
  const skip = c.keys.prefix(TAG.kv, ns).length;
  const entries = yield* liveEntries(c, ns, scan, scan.reverse, scan.limit, now);
  return entries.map(([key, record]): StoredKv => (scan.keysOnly ? { key: textOf(key, skip) } : { key: textOf(key, skip), value: kvValue(record) }));
}

export function* kvDeleteRange(c: OrderedContext, ns: string, range: KeyRange, now: number): Program<number> {
  const [start, end] = bounds(c, ns, range);
  const skip = c.keys.prefix(TAG.kv, ns).length;
  let removed = 0;
  for (const [key, record] of yield* ask(c.tx.range(start, end))) {
    if (live(record, now)) removed += 1;
    yield* setEntry(c, ns, textOf(key, skip), undefined, null);
  }
  return removed;
}

/** Most records removing one expired entry writes: its entry, its index record, a change record and the history state. */
const RECORDS_PER_REMOVAL = 4;

/**
 * Removes up to `limit` expired entries, oldest deadline first, through the expiry index. An index record whose
 * entry is gone or has another deadline (left by a put without deadline, which writes blind: see
 * {@link kvPutReadsEntry}) is dropped alone. While pages hold only such records, further pages are read, as long as
 * the commit stays within `limit` removals' records; the count returned is of entries removed.
 */
export function* kvSweepExpired(c: OrderedContext, now: number, limit: number): Program<number> {
  let start: Uint8Array = Buffer.from([TAG.kvExpiry]);
  const end = Buffer.alloc(10);
  end[0] = TAG.kvExpiry;
  writeNumber(end, 1, now);
  end[9] = 0xff; // after every key with deadline `now`: namespaces are ASCII
  const budget = limit * RECORDS_PER_REMOVAL;
  let used = 0;
  let removed = 0;
  for (;;) {
    const asked = Math.min(limit, Math.floor((budget - used) / RECORDS_PER_REMOVAL));
    if (asked <= 0) return removed;
    const due = yield* ask(c.tx.range(start, end, { limit: asked }));
    for (const [indexKey] of due) {
      const index = asBuffer(indexKey);
      const [ns, rest] = namespaceOf(index.subarray(8));
      const entryKey = Buffer.concat([KV_TAG, index.subarray(9)]);
      const entry = yield* ask(c.tx.get(entryKey));
      if (entry !== undefined && kvDeadline(entry) === readNumber(index, 1)) {
        yield* setEntry(c, ns, textOf(index, rest + 8), undefined, null, { entry });
        removed += 1;
        used += RECORDS_PER_REMOVAL;
      } else {
        c.tx.delete(indexKey);
        used += 1;
      }
    }
    if (removed > 0 || due.length < asked) return removed;
    start = successor((due[due.length - 1] as OrderedEntry)[0]);
  }
}

const KV_TAG = Buffer.from([TAG.kv]);

function* historyState(c: OrderedContext, ns: string): Program<KvHistoryState | undefined> {
  const state = yield* ask(c.tx.get(c.keys.prefix(TAG.kvHistory, ns)));
  return state === undefined ? undefined : { lastSeq: numberAt(state, 0), trimmedThrough: numberAt(state, 1) };
}

/** The namespaces that keep a history, with their states. */
function* histories(c: OrderedContext): Program<Array<[string, KvHistoryState]>> {
  const start = Buffer.from([TAG.kvHistory]);
  const found = yield* ask(c.tx.range(start, prefixEnd(start)));
  return found.map(([key, state]) => [namespaceOf(key)[0], { lastSeq: numberAt(state, 0), trimmedThrough: numberAt(state, 1) }]);
}

export function* kvHistoryStart(c: OrderedContext, ns: string, maxNamespaces: number): Program<KvHistoryState> {
  const state = yield* historyState(c, ns);
  if (state !== undefined) return state;
  checkHistoryRoom(ns, (yield* histories(c)).length, maxNamespaces);
  c.tx.put(c.keys.prefix(TAG.kvHistory, ns), numbersRecord(0, 0));
  return { lastSeq: 0, trimmedThrough: 0 };
}

/** Changes are read a page at a time, so that a reader of few keys in a busy namespace does not load all of them at once. */
const CHANGE_PAGE = 1_000;

export function* kvHistoryRead(c: OrderedContext, ns: string, keys: readonly string[], afterSeq: number, limit: number): Program<KvHistoryPage | undefined> {
  const state = yield* historyState(c, ns);
  if (state === undefined) return undefined;
  const wanted = new Set(keys);
  const changes: StoredKvChange[] = [];
  let start = c.keys.key(TAG.kvChange, ns, [afterSeq + 1]);
  const end = prefixEnd(c.keys.prefix(TAG.kvChange, ns));
  while (changes.length < limit) {
    const page = yield* ask(c.tx.range(start, end, { limit: CHANGE_PAGE }));
    for (const [key, record] of page) {
      const change = readChange(record);
      if (wanted.has(change.key) && changes.length < limit) changes.push({ seq: readNumber(key, key.length - 8), ...change });
    }
    if (page.length < CHANGE_PAGE) break;
    start = successor((page[page.length - 1] as OrderedEntry)[0]);
  }
  return { ...state, changes };
}

/** Removes changes beyond the last `keep` of each history, at most `limit` in all (so that one step fits one commit). */
export function* kvHistoryTrim(c: OrderedContext, keep: number, limit: number): Program<number> {
  let removed = 0;
  for (const [ns, state] of yield* histories(c)) {
    if (removed >= limit) break;
    const cut = Math.min(state.lastSeq - keep, state.trimmedThrough + limit - removed);
    if (cut <= state.trimmedThrough) continue;
    const gone = yield* ask(c.tx.range(c.keys.key(TAG.kvChange, ns, [state.trimmedThrough + 1]), c.keys.key(TAG.kvChange, ns, [cut + 1])));
    for (const [key] of gone) c.tx.delete(key);
    c.tx.put(c.keys.prefix(TAG.kvHistory, ns), numbersRecord(state.lastSeq, cut));
    removed += gone.length;
  }
  return removed;
}
