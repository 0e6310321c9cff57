import type { Awaitable, StoredLogEntry, StoredQueueItem, StoredSlot } from "../engine.js";
import { ask, whenReady, type Program } from "../awaitable.js";
import { itemsToDrop, type QueueBound } from "../queue-bound.js";
import type { OrderedContext } from "./kv-programs.js";
import { prefixEnd, readNumber, TAG, writeNumber } from "./key-layout.js";
import { bytesAfterNumbers, logRecord, numberAt, numbersRecord, numbersThenBytes, readLogRecord } from "./record-values.js";

const EMPTY = new Uint8Array(0);

// ---- log: a counter record per namespace (last seq, entry count) makes the sequence gap-free and commit-ordered:
// every append reads and rewrites it, so two concurrent appends cannot both commit with the same number.

export function* logAppend(c: OrderedContext, ns: string, key: string, value: Uint8Array, now: number): Program<number> {
  // Built first, so that a key too long for the store is refused before any read; its seq is written in below.
  const indexKey = c.keys.key(TAG.logByKey, ns, [key, 0], key);
  const counterKey = c.keys.prefix(TAG.logCounter, ns);
  const counter = yield* ask(c.tx.get(counterKey));
  const seq = numberAt(counter, 0) + 1;
  writeNumber(indexKey, indexKey.length - 8, seq);
  c.tx.put(c.keys.key(TAG.logEntry, ns, [seq]), logRecord(now, key, value));
  c.tx.put(indexKey, EMPTY);
  c.tx.put(counterKey, numbersRecord(seq, numberAt(counter, 1) + 1));
  return seq;
}

const entryOf = (key: Uint8Array, record: Uint8Array): StoredLogEntry => ({ seq: readNumber(key, key.length - 8), ...readLogRecord(record) });

export function* logRead(c: OrderedContext, ns: string, key: string, afterSeq: number, limit: number): Program<StoredLogEntry[]> {
  const prefix = c.keys.key(TAG.logByKey, ns, [key, 0], key).subarray(0, -8);
  const start = c.keys.key(TAG.logByKey, ns, [key, afterSeq + 1], key);
  const index = yield* ask(c.tx.range(start, prefixEnd(prefix), { limit }));
  const out: StoredLogEntry[] = [];
  for (const [indexKey] of index) {
    const seq = readNumber(indexKey, indexKey.length - 8);
    const entryKey = c.keys.key(TAG.logEntry, ns, [seq]);
    const record = yield* ask(c.tx.get(entryKey));
    if (record !== undefined) out.push(entryOf(entryKey, record));
  }
  return out;
}

export function* logReadAll(c: OrderedContext, ns: string, afterSeq: number, limit: number): Program<StoredLogEntry[]> {
  const start = c.keys.key(TAG.logEntry, ns, [afterSeq + 1]);
  const entries = yield* ask(c.tx.range(start, prefixEnd(c.keys.prefix(TAG.logEntry, ns)), { limit }));
  return entries.map(([key, record]) => entryOf(key, record));
}

export function logLastSeq(c: OrderedContext, ns: string): Awaitable<number> {
  return whenReady(c.tx.get(c.keys.prefix(TAG.logCounter, ns)), (counter) => numberAt(counter, 0));
}

// ---- slot: one record (version, value); CAS reads it, and the commit's check on that read makes one of concurrent
// CAS with the same expectation win.

export function slotGet(c: OrderedContext, ns: string, key: string): Awaitable<StoredSlot | undefined> {
  const slotKey = c.transientPointKeys === true ? c.keys.scratchTextKey(TAG.slot, ns, key) : c.keys.textKey(TAG.slot, ns, key);
  return whenReady(c.tx.get(slotKey), (record) =>
    record === undefined ? undefined : { version: numberAt(record, 0), value: bytesAfterNumbers(record, 1) },
  );
}

export function* slotUpsert(c: OrderedContext, ns: string, key: string, value: Uint8Array): Program<number> {
  const slotKey = c.keys.textKey(TAG.slot, ns, key);
  const version = numberAt(yield* ask(c.tx.get(slotKey)), 0) + 1;
  c.tx.put(slotKey, numbersThenBytes([version], value));
  return version;
}

export function* slotCas(c: OrderedContext, ns: string, key: string, expectedVersion: number, value: Uint8Array): Program<boolean> {
  const slotKey = c.keys.textKey(TAG.slot, ns, key);
  if (numberAt(yield* ask(c.tx.get(slotKey)), 0) !== expectedVersion) return false;
  c.tx.put(slotKey, numbersThenBytes([expectedVersion + 1], value));
  return true;
}

// ---- queue: ids from a counter per namespace, items per key in id order, and a length record per key so that the
// length (and the bound) costs one read.

const itemPrefix = (c: OrderedContext, ns: string, key: string): Uint8Array => c.keys.key(TAG.queueItem, ns, [key, 0], key).subarray(0, -8);

export function setLength(c: OrderedContext, ns: string, key: string, length: number): void {
  const lengthKey = c.keys.textKey(TAG.queueLength, ns, key);
  if (length === 0) c.tx.delete(lengthKey);
  else c.tx.put(lengthKey, numbersRecord(length));
}

export function queueLen(c: OrderedContext, ns: string, key: string): Awaitable<number> {
  return whenReady(c.tx.get(c.keys.textKey(TAG.queueLength, ns, key)), (record) => numberAt(record, 0));
}

/** Removes the `count` oldest items; the number removed and the length left. */
function* dropOldest(c: OrderedContext, ns: string, key: string, count: number, length: number): Program<[number, number]> {
  const prefix = itemPrefix(c, ns, key);
  const oldest = yield* ask(c.tx.range(prefix, prefixEnd(prefix), { limit: count }));
  for (const [itemKey] of oldest) c.tx.delete(itemKey);
  return [oldest.length, length - oldest.length];
}

export function* queuePush(c: OrderedContext, ns: string, key: string, value: Uint8Array, now: number, bound: QueueBound): Program<number> {
  const counterKey = c.keys.prefix(TAG.queueCounter, ns);
  const id = numberAt(yield* ask(c.tx.get(counterKey)), 0) + 1;
  const itemKey = c.keys.key(TAG.queueItem, ns, [key, id], key);
  let length = yield* ask(queueLen(c, ns, key));
  const drop = itemsToDrop(ns, key, length, bound);
  if (drop > 0) [, length] = yield* dropOldest(c, ns, key, drop, length);
  c.tx.put(itemKey, numbersThenBytes([now], value));
  c.tx.put(counterKey, numbersRecord(id));
  setLength(c, ns, key, length + 1);
  return id;
}

export function* queuePeek(c: OrderedContext, ns: string, key: string, afterId: number, limit: number): Program<StoredQueueItem[]> {
  const start = c.keys.key(TAG.queueItem, ns, [key, afterId + 1], key);
  const items = yield* ask(c.tx.range(start, prefixEnd(itemPrefix(c, ns, key)), { limit }));
  return items.map(([itemKey, record]) => ({ id: readNumber(itemKey, itemKey.length - 8), value: bytesAfterNumbers(record, 1), pushedAt: numberAt(record, 0) }));
}

export function* queueAck(c: OrderedContext, ns: string, key: string, id: number): Program<boolean> {
  const itemKey = c.keys.key(TAG.queueItem, ns, [key, id], key);
  if ((yield* ask(c.tx.get(itemKey))) === undefined) return false;
  c.tx.delete(itemKey);
  setLength(c, ns, key, (yield* ask(queueLen(c, ns, key))) - 1);
  return true;
}

export function* queueDropOldest(c: OrderedContext, ns: string, key: string, count: number): Program<number> {
  const length = yield* ask(queueLen(c, ns, key));
  if (length === 0) return 0;
  const [dropped, left] = yield* dropOldest(c, ns, key, count, length);
  setLength(c, ns, key, left);
  return dropped;
}
