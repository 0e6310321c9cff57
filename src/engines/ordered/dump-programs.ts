import { StowageError } from "../../api/errors.js";
import type { QueuePosition, StoredKvRow, StoredLogEntry, StoredQueueRow, StoredSlotRow, StoredStreamEntry } from "../engine.js";
import { ask, type Program } from "../awaitable.js";
import type { OrderedContext } from "./kv-programs.js";
import { kvPut, liveEntries } from "./kv-programs.js";
import { setLength } from "./log-slot-queue-programs.js";
import type { OrderedEntry } from "./ordered-store.js";
import { namespaceOf, prefixEnd, readNumber, successor, TAG, textOf } from "./key-layout.js";
import { entryKey, spaceId, statusKey, statusOf, takeSpaceId } from "./stream-programs.js";
import { bytesAfterNumbers, kvDeadline, kvValue, logRecord, numberAt, numbersRecord, numbersThenBytes, streamRecord } from "./record-values.js";

/*
 * Dumps and restores of the ordered-KV family (see `EngineOps`). Dumps page through the layout's records, whose byte
 * order is stowage's key order (UTF-8 bytes), so a page resumes after the last key (or key and id) it gave. Restores
 * write the records as the primitives' own writes would have (expiry index, history changes, log key index, queue
 * lengths, the space's time index) with the numbers the dump carried, and raise the namespace's counters to them.
 * Every restore reads what it checks before it writes, and a refusal throws before the commit: the family undoes the
 * call's buffered writes (a savepoint), so a refused restore writes nothing.
 */

const EMPTY = new Uint8Array(0);

/** Records read per request while `describe` counts: its memory stays the same whatever the store holds. */
const COUNT_PAGE = 1_000;

export function* kvDump(c: OrderedContext, ns: string, afterKey: string | null, limit: number, now: number): Program<StoredKvRow[]> {
  const skip = c.keys.prefix(TAG.kv, ns).length;
  const range = afterKey === null ? { lowerInclusive: true } : { lower: afterKey, lowerInclusive: false };
  const entries = yield* liveEntries(c, ns, range, false, limit, now);
  return entries.map(([key, record]) => ({ key: textOf(key, skip), value: kvValue(record), expiresAt: kvDeadline(record) }));
}

export function* slotDump(c: OrderedContext, ns: string, afterKey: string | null, limit: number): Program<StoredSlotRow[]> {
  const prefix = c.keys.prefix(TAG.slot, ns);
  const start = afterKey === null ? prefix : successor(c.keys.textKey(TAG.slot, ns, afterKey));
  const slots = yield* ask(c.tx.range(start, prefixEnd(prefix), { limit }));
  return slots.map(([key, record]) => ({ key: textOf(key, prefix.length), version: numberAt(record, 0), value: bytesAfterNumbers(record, 1) }));
}

/** A queue item's record key: tag · ns · 0x00 · key · 0x00 · id. */
const itemKey = (c: OrderedContext, ns: string, key: string, id: number) => c.keys.key(TAG.queueItem, ns, [key, id], key);

export function* queueDump(c: OrderedContext, ns: string, after: QueuePosition | null, limit: number): Program<StoredQueueRow[]> {
  const prefix = c.keys.prefix(TAG.queueItem, ns);
  const start = after === null ? prefix : successor(itemKey(c, ns, after.key, after.id));
  const items = yield* ask(c.tx.range(start, prefixEnd(prefix), { limit }));
  return items.map(([key, record]) => ({
    key: textOf(key, prefix.length, key.length - 9),
    id: readNumber(key, key.length - 8),
    value: bytesAfterNumbers(record, 1),
    pushedAt: numberAt(record, 0),
  }));
}

export function* queueLastId(c: OrderedContext, ns: string): Program<number> {
  return numberAt(yield* ask(c.tx.get(c.keys.prefix(TAG.queueCounter, ns))), 0);
}

/**
 * Each row as a put (`kvPut`: the entry, its expiry index record, a change record where the namespace keeps a
 * history). The reads every put makes are asked at once, so that on a networked store they share one round trip.
 */
export function* kvRestore(c: OrderedContext, ns: string, rows: readonly StoredKvRow[]): Program<void> {
  if (rows.length === 0) return;
  c.tx.prefetch?.([c.keys.prefix(TAG.kvHistory, ns), ...rows.map((row) => c.keys.textKey(TAG.kv, ns, row.key))]);
  for (const row of rows) yield* kvPut(c, ns, row.key, row.value, row.expiresAt);
}

export function* logRestore(c: OrderedContext, ns: string, entries: readonly StoredLogEntry[]): Program<void> {
  if (entries.length === 0) return;
  // Built first, so that a key too long for the store is refused before any read.
  const keys = entries.map((entry) => [c.keys.key(TAG.logEntry, ns, [entry.seq]), c.keys.key(TAG.logByKey, ns, [entry.key, entry.seq], entry.key)] as const);
  const counterKey = c.keys.prefix(TAG.logCounter, ns);
  const counter = yield* ask(c.tx.get(counterKey));
  let last = numberAt(counter, 0);
  for (const { seq } of entries) {
    if (!(seq > last)) {
      throw new StowageError("CONFLICT", `log namespace "${ns}" cannot take restored sequence ${seq} after ${last}: restored sequences ascend from above the namespace's last (${numberAt(counter, 0)}); nothing was written`, { namespace: ns, currentSeq: numberAt(counter, 0) });
    }
    last = seq;
  }
  entries.forEach((entry, i) => {
    const [entryKey, indexKey] = keys[i] as readonly [Buffer, Buffer];
    c.tx.put(entryKey, logRecord(entry.timestamp, entry.key, entry.value));
    c.tx.put(indexKey, EMPTY);
  });
  c.tx.put(counterKey, numbersRecord(last, numberAt(counter, 1) + entries.length));
}

/** Blind writes: a slot is one record, which the restored one replaces. */
export function* slotRestore(c: OrderedContext, ns: string, rows: readonly StoredSlotRow[]): Program<void> {
  for (const row of rows) c.tx.put(c.keys.textKey(TAG.slot, ns, row.key), numbersThenBytes([row.version], row.value));
}

/**
 * Items under their own keys and ids. An item whose (key, id) the namespace holds already, or that the batch holds
 * twice, is CONFLICT. Ids are not checked across keys: the layout finds an item by key and id, and a namespace's
 * ids come from one counter, which the restore raises to the largest it carried.
 */
export function* queueRestore(c: OrderedContext, ns: string, items: readonly StoredQueueRow[], lastId: number): Program<void> {
  const counterKey = c.keys.prefix(TAG.queueCounter, ns);
  const itemKeys = items.map((item) => itemKey(c, ns, item.key, item.id));
  const added = new Map<string, number>();
  for (const item of items) added.set(item.key, (added.get(item.key) ?? 0) + 1);
  const lengthKeys = new Map([...added.keys()].map((key) => [key, c.keys.textKey(TAG.queueLength, ns, key)]));
  c.tx.prefetch?.([counterKey, ...itemKeys, ...lengthKeys.values()]);
  const counter = yield* ask(c.tx.get(counterKey));
  const seen = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as StoredQueueRow;
    const id = `${item.id}\u0000${item.key}`;
    if (seen.has(id) || (yield* ask(c.tx.get(itemKeys[i] as Buffer))) !== undefined) {
      throw new StowageError("CONFLICT", `queue namespace "${ns}" holds item ${item.id} of key ${JSON.stringify(item.key)} already; nothing was written`, { namespace: ns, key: item.key });
    }
    seen.add(id);
  }
  for (const [key, count] of added) setLength(c, ns, key, numberAt(yield* ask(c.tx.get(lengthKeys.get(key) as Buffer)), 0) + count);
  items.forEach((item, i) => c.tx.put(itemKeys[i] as Buffer, numbersThenBytes([item.pushedAt], item.value)));
  const highest = items.reduce((max, item) => Math.max(max, item.id), Math.max(lastId, numberAt(counter, 0)));
  if (highest !== numberAt(counter, 0)) c.tx.put(counterKey, numbersRecord(highest));
}

/**
 * Entries appended to the segment with their own sequences and times, each with its record in the space's time index;
 * the segment's status ends at the last one (its timestamp never going back).
 */
export function* streamRestore(c: OrderedContext, ns: string, space: string, segment: string, entries: readonly StoredStreamEntry[]): Program<void> {
  if (entries.length === 0) return;
  // Every key's length is checked before anything is read (the longest: the time index's, with the space id).
  c.keys.key(TAG.spaceIndex, ns, [0, 0, segment, 0], segment);
  c.keys.key(TAG.streamSpace, ns, [space], space);
  const known = yield* spaceId(c, ns, space);
  const before = known === undefined ? statusOf(undefined) : statusOf(yield* ask(c.tx.get(statusKey(c, ns, known, segment))));
  entries.forEach((entry, i) => {
    const expected = before.lastSeq + i + 1;
    if (entry.seq !== expected) {
      throw new StowageError(
        "CONFLICT",
        `segment ${JSON.stringify(segment)} of space ${JSON.stringify(space)} is at seq ${before.lastSeq}: a restore must go on at ${expected} without gaps, not ${entry.seq}; nothing was written`,
        { namespace: ns, key: segment, currentSeq: before.lastSeq },
      );
    }
  });
  const id = known ?? (yield* takeSpaceId(c, ns, space));
  let lastTimestamp = before.lastTimestamp;
  for (const entry of entries) {
    c.tx.put(entryKey(c, ns, id, segment, entry.seq), streamRecord(entry.timestamp, entry));
    c.tx.put(c.keys.key(TAG.spaceIndex, ns, [id, entry.timestamp, segment, entry.seq], segment), EMPTY);
    lastTimestamp = Math.max(lastTimestamp, entry.timestamp);
  }
  const lastSeq = before.lastSeq + entries.length;
  c.tx.put(statusKey(c, ns, id, segment), numbersRecord(lastSeq, lastTimestamp, before.count + entries.length));
}

/** What {@link countsByNamespace} found: per namespace the sum of `count`, and the records read. */
export interface NamespaceCounts {
  counts: Map<string, number>;
  records: number;
}

/**
 * For each namespace with records of `tag`, the sum of `count` over them (a namespace whose sum is 0 included), read
 * a page at a time, for `describe`.
 */
export function* countsByNamespace(c: OrderedContext, tag: number, count: (record: Uint8Array) => number): Program<NamespaceCounts> {
  const counts = new Map<string, number>();
  let records = 0;
  let start: Uint8Array = Buffer.from([tag]);
  const end = prefixEnd(start);
  for (;;) {
    const page: OrderedEntry[] = yield* ask(c.tx.range(start, end, { limit: COUNT_PAGE }));
    for (const [key, record] of page) {
      const [ns] = namespaceOf(key);
      counts.set(ns, (counts.get(ns) ?? 0) + count(record));
    }
    records += page.length;
    if (page.length < COUNT_PAGE) return { counts, records };
    start = successor((page[page.length - 1] as OrderedEntry)[0]);
  }
}
