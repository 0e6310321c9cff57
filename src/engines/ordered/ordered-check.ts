import { asBuffer, KeyLayout, namespaceOf, prefixEnd, readNumber, TAG, writeNumber } from "./key-layout.js";
import type { OrderedSnapshot, OrderedStore } from "./ordered-store.js";
import { kvDeadline, numberAt } from "./record-values.js";
import { workRecords } from "./work-programs.js";

const hex = (key: Uint8Array): string => asBuffer(key).toString("hex");

/** Every record of one tag from the snapshot, copied. */
async function recordsOf(snapshot: OrderedSnapshot, tag: number): Promise<Array<readonly [Buffer, Buffer]>> {
  const start = Buffer.from([tag]);
  return (await snapshot.range(start, prefixEnd(start))).map(([key, value]) => [Buffer.from(key), Buffer.from(value)] as const);
}

/**
 * The family's invariants over one snapshot, plus the store's own check: counters against the records they count,
 * indexes against what they index. The problems found, one line each. Reads everything: not for hot paths.
 */
export async function checkOrderedData(store: OrderedStore, keys: KeyLayout): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    const { problems, consistent } = await checkOneSnapshot(store, keys);
    if (!consistent && attempt < CONSISTENT_READ_ATTEMPTS) continue;
    if (!consistent) problems.push(`commits kept landing while the check read (${CONSISTENT_READ_ATTEMPTS} attempts): the problems above may be false`);
    if (store.check !== undefined) problems.push(...(await store.check()));
    return problems;
  }
}

/** Runs of the check over a fresh snapshot when the last one was torn (see `OrderedSnapshot.consistent`). */
const CONSISTENT_READ_ATTEMPTS = 10;

/** The family's invariants over one snapshot, and whether that snapshot was consistent. */
async function checkOneSnapshot(store: OrderedStore, keys: KeyLayout): Promise<{ problems: string[]; consistent: boolean }> {
  const problems: string[] = [];
  let consistent = true;
  const snapshot = await store.snapshot();
  try {
    const tagged = async (tag: number) => recordsOf(snapshot, tag);
    const has = async (key: Uint8Array) => (await snapshot.get(key)) !== undefined;

    // KV: an entry with a deadline has its index record. Index records without such an entry are allowed: a put
    // without deadline writes blind and leaves the old one, which the sweep drops at its deadline.
    const kv = await tagged(TAG.kv);
    const expiry = await tagged(TAG.kvExpiry);
    const indexed = new Set(expiry.map(([key]) => hex(key)));
    for (const [key, record] of kv) {
      const deadline = kvDeadline(record);
      if (deadline === null) continue;
      const indexKey = Buffer.alloc(key.length + 8);
      indexKey[0] = TAG.kvExpiry;
      writeNumber(indexKey, 1, deadline);
      key.copy(indexKey, 9, 1);
      if (!indexed.has(hex(indexKey))) problems.push(`KV entry ${hex(key)} expires at ${deadline} but has no expiry index record`);
    }

    // KV history: changes lie in (trimmed, last seq].
    for (const [key, state] of await tagged(TAG.kvHistory)) {
      const [ns] = namespaceOf(key);
      const prefix = keys.prefix(TAG.kvChange, ns);
      for (const [changeKey] of await snapshot.range(prefix, prefixEnd(prefix))) {
        const seq = readNumber(changeKey, changeKey.length - 8);
        if (seq <= numberAt(state, 1) || seq > numberAt(state, 0)) problems.push(`KV change ${seq} of namespace "${ns}" lies outside its history (${numberAt(state, 1)}, ${numberAt(state, 0)}]`);
      }
    }

    // Log: the counter's last seq and count match the entries; every entry has its key index record and back.
    const logEntries = await tagged(TAG.logEntry);
    const logIndex = await tagged(TAG.logByKey);
    const perNs = new Map<string, { last: number; count: number }>();
    for (const [key] of logEntries) {
      const [ns] = namespaceOf(key);
      const seen = perNs.get(ns) ?? { last: 0, count: 0 };
      seen.last = Math.max(seen.last, readNumber(key, key.length - 8));
      seen.count += 1;
      perNs.set(ns, seen);
    }
    for (const [key, counter] of await tagged(TAG.logCounter)) {
      const [ns] = namespaceOf(key);
      const seen = perNs.get(ns) ?? { last: 0, count: 0 };
      if (seen.count !== numberAt(counter, 1)) problems.push(`log "${ns}": counter says ${numberAt(counter, 1)} entries, ${seen.count} stored`);
      if (seen.count > 0 && seen.last > numberAt(counter, 0)) problems.push(`log "${ns}": entry ${seen.last} beyond the counter's last seq ${numberAt(counter, 0)}`);
      perNs.delete(ns);
    }
    for (const ns of perNs.keys()) problems.push(`log "${ns}": entries without a counter`);
    if (logIndex.length !== logEntries.length) problems.push(`the log key index holds ${logIndex.length} records for ${logEntries.length} entries`);
    for (const [indexKey] of logIndex) {
      const [ns] = namespaceOf(indexKey);
      if (!(await has(keys.key(TAG.logEntry, ns, [readNumber(indexKey, indexKey.length - 8)])))) problems.push(`log key index record ${hex(indexKey)} without its entry`);
    }

    // Queue: each key's length record counts its items; ids stay below the namespace's counter.
    const lengths = new Map<string, number>();
    for (const [key] of await tagged(TAG.queueItem)) {
      const id = hex(key.subarray(0, key.length - 8));
      lengths.set(id, (lengths.get(id) ?? 0) + 1);
      const [ns] = namespaceOf(key);
      const counter = await snapshot.get(keys.prefix(TAG.queueCounter, ns));
      if (readNumber(key, key.length - 8) > numberAt(counter, 0)) problems.push(`queue item ${hex(key)} beyond its namespace's last id`);
    }
    for (const [key, record] of await tagged(TAG.queueLength)) {
      const itemPrefix = Buffer.concat([Buffer.from([TAG.queueItem]), key.subarray(1), Buffer.from([0])]);
      const counted = lengths.get(hex(itemPrefix)) ?? 0;
      if (counted !== numberAt(record, 0)) problems.push(`queue length record ${hex(key)} says ${numberAt(record, 0)}, ${counted} items stored`);
      lengths.delete(hex(itemPrefix));
    }
    for (const id of lengths.keys()) problems.push(`queue items under ${id} without a length record`);

    // Streams: each segment's status matches its entries; the space index and the entries match one for one.
    const entries = await tagged(TAG.streamEntry);
    const spaceIndex = await tagged(TAG.spaceIndex);
    if (entries.length !== spaceIndex.length) problems.push(`the stream space index holds ${spaceIndex.length} records for ${entries.length} entries`);
    const segmentCounts = new Map<string, { count: number; last: number }>();
    for (const [key] of entries) {
      const id = hex(key.subarray(1, key.length - 9));
      const seen = segmentCounts.get(id) ?? { count: 0, last: 0 };
      seen.count += 1;
      seen.last = Math.max(seen.last, readNumber(key, key.length - 8));
      segmentCounts.set(id, seen);
    }
    for (const [key, status] of await tagged(TAG.segmentStatus)) {
      const id = hex(key.subarray(1));
      const seen = segmentCounts.get(id) ?? { count: 0, last: 0 };
      if (seen.count !== numberAt(status, 2) || seen.last !== numberAt(status, 0)) {
        problems.push(`segment status ${hex(key)} says ${numberAt(status, 2)} entries up to seq ${numberAt(status, 0)}, ${seen.count} stored up to ${seen.last}`);
      }
      segmentCounts.delete(id);
    }
    for (const id of segmentCounts.keys()) problems.push(`stream entries under ${id} without a segment status`);

    problems.push(...(await checkWork(snapshot, keys)));
  } catch (error) {
    problems.push(`the ordered data could not be read: ${(error as Error).message}`);
  } finally {
    // Awaited: on Azure Table the answer is a request, which must neither be taken for "consistent" nor outlive the check.
    try {
      consistent = (await snapshot.consistent?.()) !== false;
    } catch (error) {
      problems.push(`the ordered data could not be read: ${(error as Error).message}`);
    }
    snapshot.release();
  }
  return { problems, consistent };
}

/**
 * Work queues: each state has its payload; a live item exactly one visibility index record, at its state's (priority,
 * visibleAt), and its dedup index record when it has a dedup key; a dead one its dead index record; no index record
 * without such an item; ids within the namespace's counter.
 */
async function checkWork(snapshot: OrderedSnapshot, keys: KeyLayout): Promise<string[]> {
  const problems: string[] = [];
  const all = async (tag: number) => {
    const start = Buffer.from([tag]);
    return (await snapshot.range(start, prefixEnd(start))).map(([key, value]) => [Buffer.from(key), Buffer.from(value)] as const);
  };
  const expected = { visible: new Set<string>(), dedup: new Map<string, number>(), dead: new Set<string>(), payload: new Set<string>() };
  const counters = new Map<string, number>();
  for (const [key, counter] of await all(TAG.workCounter)) counters.set(namespaceOf(key)[0], numberAt(counter, 0));
  for (const [key, record] of await all(TAG.workState)) {
    const [ns, rest] = namespaceOf(key);
    const itemKey = key.toString("utf8", rest, key.length - 9);
    const id = readNumber(key, key.length - 8);
    const state = workRecords.readState(record);
    const payloadKey = workRecords.payloadKey(keys, ns, itemKey, id);
    expected.payload.add(hex(payloadKey));
    if (id > (counters.get(ns) ?? 0)) problems.push(`work item ${id} of "${ns}" beyond its namespace's last id ${counters.get(ns) ?? 0}`);
    if (state.dead) {
      if (state.token !== null) problems.push(`dead work item ${id} of "${ns}" holds a lease token`);
      expected.dead.add(hex(workRecords.deadKey(keys, ns, itemKey, id)));
      continue;
    }
    expected.visible.add(hex(workRecords.visibleKey(keys, ns, itemKey, state.priority, state.visibleAt, id)));
    if (!state.hasDedup) continue;
    const payload = await snapshot.get(payloadKey);
    const dedup = payload === undefined ? null : workRecords.readPayload(payload).dedup;
    if (dedup === null) problems.push(`work item ${id} of "${ns}" says it has a dedup key, its payload has none`);
    else {
      const dedupKey = hex(workRecords.dedupKey(keys, ns, itemKey, dedup));
      const holder = expected.dedup.get(dedupKey);
      if (holder !== undefined) problems.push(`live work items ${holder} and ${id} of "${ns}" hold one dedup key`);
      expected.dedup.set(dedupKey, id);
    }
  }
  const compare = (what: string, found: Array<readonly [Buffer, Buffer]>, wanted: Set<string>, value?: (key: string, record: Buffer) => string | undefined) => {
    const left = new Set(wanted);
    for (const [key, record] of found) {
      if (!left.delete(hex(key))) problems.push(`${what} record ${hex(key)} without its work item`);
      else {
        const wrong = value?.(hex(key), record);
        if (wrong !== undefined) problems.push(`${what} record ${hex(key)} ${wrong}`);
      }
    }
    for (const key of left) problems.push(`a work item lacks its ${what} record ${key}`);
  };
  compare("work payload", await all(TAG.workPayload), expected.payload);
  compare("work visibility index", await all(TAG.workVisible), expected.visible);
  compare("work dead index", await all(TAG.workDead), expected.dead);
  compare("work dedup index", await all(TAG.workDedup), new Set(expected.dedup.keys()), (key, record) =>
    numberAt(record, 0) === expected.dedup.get(key) ? undefined : `names item ${numberAt(record, 0)}, not ${expected.dedup.get(key)}`,
  );
  return problems;
}
