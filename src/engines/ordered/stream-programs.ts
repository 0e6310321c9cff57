import type { SegmentStatus } from "../../api/types.js";
import type { SpacePosition, StoredSpaceEntry, StoredStreamEntry, StoredStreamRecord } from "../engine.js";
import { ask, type Program } from "../awaitable.js";
import { checkExpectedSeq } from "../stream-expectation.js";
import type { OrderedContext } from "./kv-programs.js";
import type { OrderedEntry } from "./ordered-store.js";
import { prefixEnd, readNumber, successor, TAG, textOf } from "./key-layout.js";
import { numberAt, numbersRecord, readStreamRecord, streamRecord } from "./record-values.js";

/*
 * Streams. A space is named once, in its directory record, and everywhere else by its id (see key-layout.ts for why).
 * A segment's status record (last seq, last timestamp, count) is what producers read and rewrite, so concurrent
 * produces to one segment conflict and one expectation wins; the space's time index orders its entries by
 * (timestamp, segment, seq) for reads across the space.
 */

const EMPTY = new Uint8Array(0);
const ZERO: SegmentStatus = { lastSeq: 0, lastTimestamp: 0, count: 0 };

export function* spaceId(c: OrderedContext, ns: string, space: string): Program<number | undefined> {
  const record = yield* ask(c.tx.get(c.keys.key(TAG.streamSpace, ns, [space], space)));
  return record === undefined ? undefined : numberAt(record, 0);
}

/** The space's id, given it on its first produce. */
export function* takeSpaceId(c: OrderedContext, ns: string, space: string): Program<number> {
  const known = yield* spaceId(c, ns, space);
  if (known !== undefined) return known;
  const counterKey = c.keys.prefix(TAG.spaceCounter, ns);
  const id = numberAt(yield* ask(c.tx.get(counterKey)), 0) + 1;
  c.tx.put(counterKey, numbersRecord(id));
  c.tx.put(c.keys.key(TAG.streamSpace, ns, [space], space), numbersRecord(id));
  return id;
}

export const statusKey = (c: OrderedContext, ns: string, id: number, segment: string) => c.keys.key(TAG.segmentStatus, ns, [id, segment], segment);
export const entryKey = (c: OrderedContext, ns: string, id: number, segment: string, seq: number) => c.keys.key(TAG.streamEntry, ns, [id, segment, seq], segment);

export const statusOf = (record: Uint8Array | undefined): SegmentStatus =>
  record === undefined ? { ...ZERO } : { lastSeq: numberAt(record, 0), lastTimestamp: numberAt(record, 1), count: numberAt(record, 2) };

export function* streamProduce(
  c: OrderedContext,
  ns: string,
  space: string,
  segment: string,
  records: readonly StoredStreamRecord[],
  now: number,
  expectedSeq: number | null,
): Program<SegmentStatus> {
  // Every key's length is checked before anything is read (the longest: an entry's, with the space id's 8 bytes).
  c.keys.key(TAG.spaceIndex, ns, [0, 0, segment, 0], segment);
  c.keys.key(TAG.streamSpace, ns, [space], space);
  const known = yield* spaceId(c, ns, space);
  const before = known === undefined ? { ...ZERO } : statusOf(yield* ask(c.tx.get(statusKey(c, ns, known, segment))));
  checkExpectedSeq(ns, space, segment, expectedSeq, before.lastSeq);
  const id = known ?? (yield* takeSpaceId(c, ns, space));
  // A segment's timestamps never go back (see the SQL engines).
  const timestamp = Math.max(now, before.lastTimestamp);
  records.forEach((record, i) => {
    const seq = before.lastSeq + i + 1;
    c.tx.put(entryKey(c, ns, id, segment, seq), streamRecord(timestamp, record));
    c.tx.put(c.keys.key(TAG.spaceIndex, ns, [id, timestamp, segment, seq], segment), EMPTY);
  });
  const status = { lastSeq: before.lastSeq + records.length, lastTimestamp: timestamp, count: before.count + records.length };
  c.tx.put(statusKey(c, ns, id, segment), numbersRecord(status.lastSeq, status.lastTimestamp, status.count));
  return status;
}

export function* streamRead(c: OrderedContext, ns: string, space: string, segment: string, fromSeq: number, toSeq: number, limit: number): Program<StoredStreamEntry[]> {
  const id = yield* spaceId(c, ns, space);
  if (id === undefined || fromSeq > toSeq) return [];
  const start = entryKey(c, ns, id, segment, Math.max(fromSeq, 1));
  const entries = yield* ask(c.tx.range(start, successor(entryKey(c, ns, id, segment, toSeq)), { limit }));
  return entries.map(([key, record]) => readStreamRecord(readNumber(key, key.length - 8), record));
}

export function* streamReadSpace(c: OrderedContext, ns: string, space: string, fromTimestamp: number, after: SpacePosition | null, limit: number): Program<StoredSpaceEntry[]> {
  const id = yield* spaceId(c, ns, space);
  if (id === undefined) return [];
  let start: Uint8Array = c.keys.key(TAG.spaceIndex, ns, [id, fromTimestamp]);
  if (after !== null) {
    const past = successor(c.keys.key(TAG.spaceIndex, ns, [id, after.timestamp, after.segment, after.seq], after.segment));
    if (Buffer.compare(past, start) > 0) start = past;
  }
  const index = yield* ask(c.tx.range(start, prefixEnd(c.keys.key(TAG.spaceIndex, ns, [id])), { limit }));
  const skip = c.keys.prefix(TAG.spaceIndex, ns).length + 16;
  const out: StoredSpaceEntry[] = [];
  for (const [indexKey] of index) {
    const segment = textOf(indexKey, skip, indexKey.length - 9);
    const seq = readNumber(indexKey, indexKey.length - 8);
    const record = yield* ask(c.tx.get(entryKey(c, ns, id, segment, seq)));
    if (record !== undefined) out.push({ ...readStreamRecord(seq, record), segment });
  }
  return out;
}

/** Names after `after` (null: from the start) among the keys `prefix · name`, at most `limit`. */
function* namesAfter(c: OrderedContext, prefix: Uint8Array, after: string | null, limit: number): Program<string[]> {
  const start = after === null ? prefix : successor(Buffer.concat([prefix, Buffer.from(after, "utf8")]));
  const found = yield* ask(c.tx.range(start, prefixEnd(prefix), { limit }));
  return found.map(([key]) => textOf(key, prefix.length));
}

export function* streamSpaces(c: OrderedContext, ns: string, after: string | null, limit: number): Program<string[]> {
  return yield* namesAfter(c, c.keys.prefix(TAG.streamSpace, ns), after, limit);
}

export function* streamSegments(c: OrderedContext, ns: string, space: string, after: string | null, limit: number): Program<string[]> {
  const id = yield* spaceId(c, ns, space);
  if (id === undefined) return [];
  return yield* namesAfter(c, c.keys.key(TAG.segmentStatus, ns, [id]), after, limit);
}

export function* streamStatus(c: OrderedContext, ns: string, space: string, segment: string): Program<SegmentStatus> {
  const id = yield* spaceId(c, ns, space);
  if (id === undefined) return { ...ZERO };
  return statusOf(yield* ask(c.tx.get(statusKey(c, ns, id, segment))));
}

export function* streamLastSeqs(c: OrderedContext, ns: string, space: string): Program<Array<{ segment: string; lastSeq: number }>> {
  const id = yield* spaceId(c, ns, space);
  if (id === undefined) return [];
  const prefix = c.keys.key(TAG.segmentStatus, ns, [id]);
  const found: OrderedEntry[] = yield* ask(c.tx.range(prefix, prefixEnd(prefix)));
  return found.map(([key, record]) => ({ segment: textOf(key, prefix.length), lastSeq: numberAt(record, 0) }));
}
