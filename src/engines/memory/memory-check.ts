import { compareKeys } from "../../api/key-order.js";
import type { MemoryData } from "./memory-ops.js";
import type { SortedKeys } from "./sorted-keys.js";
import { idKey, visibilityKey, type WorkSpace } from "./memory-work.js";

/**
 * The memory engine's invariants: each KV namespace's key order holds exactly its rows, in order; log entries per key
 * ascend, are unique across keys and within the namespace's counter, and match its count; queue items ascend by id
 * within the counter; work items agree with their indexes (see `checkWorkSpace`). The problems found, one line each.
 */
export function checkMemoryData(data: MemoryData): string[] {
  const problems: string[] = [];
  for (const [ns, space] of data.kv) {
    const ordered = [...space.order.scan({ lowerInclusive: true }, false)];
    for (let i = 1; i < ordered.length; i++) {
      if (compareKeys(ordered[i - 1] as string, ordered[i] as string) >= 0) problems.push(`kv ${ns}: key order broken at ${JSON.stringify(ordered[i])}`);
    }
    if (ordered.length !== space.rows.size || ordered.some((key) => !space.rows.has(key))) {
      problems.push(`kv ${ns}: the key order holds ${ordered.length} keys, the rows ${space.rows.size}`);
    }
    const history = space.history;
    if (history !== undefined) {
      let previous = history.trimmedThrough;
      for (const change of history.changes) {
        if (change.seq <= previous || change.seq > history.lastSeq) problems.push(`kv ${ns}: change ${change.seq} out of order or outside ${history.trimmedThrough + 1}..${history.lastSeq}`);
        previous = change.seq;
      }
      if (history.changes.length !== history.lastSeq - history.trimmedThrough) {
        problems.push(`kv ${ns}: ${history.changes.length} changes kept for seqs ${history.trimmedThrough + 1}..${history.lastSeq}`);
      }
    }
  }
  for (const [ns, space] of data.log) {
    const seen = new Set<number>();
    for (const [key, entries] of space.byKey) {
      entries.forEach((entry, i) => {
        if (i > 0 && entry.seq <= (entries[i - 1] as { seq: number }).seq) problems.push(`log ${ns}/${key}: seq ${entry.seq} out of order`);
        if (entry.seq < 1 || entry.seq > space.lastSeq) problems.push(`log ${ns}/${key}: seq ${entry.seq} outside 1..${space.lastSeq}`);
        if (seen.has(entry.seq)) problems.push(`log ${ns}: seq ${entry.seq} used twice`);
        seen.add(entry.seq);
      });
    }
    if (seen.size !== space.size) problems.push(`log ${ns}: ${seen.size} entries but a count of ${space.size}`);
  }
  for (const [ns, space] of data.queue) {
    for (const [key, items] of space.byKey) {
      let previous = 0;
      for (const [id, item] of items) {
        if (id !== item.id || id <= previous || id > space.lastId) problems.push(`queue ${ns}/${key}: item ${id} out of order or beyond the counter`);
        previous = id;
      }
    }
  }
  for (const [ns, spaces] of data.stream) {
    for (const [space, segments] of spaces) {
      for (const [segment, { entries }] of segments) {
        entries.forEach((entry, i) => {
          if (entry.seq !== i + 1) problems.push(`stream ${ns}/${space}/${segment}: entry ${i + 1} has seq ${entry.seq}`);
          if (i > 0 && entry.timestamp < (entries[i - 1] as { timestamp: number }).timestamp) problems.push(`stream ${ns}/${space}/${segment}: timestamps go back at seq ${entry.seq}`);
        });
        if (entries.length === 0) problems.push(`stream ${ns}/${space}/${segment}: an empty segment is listed`);
      }
    }
  }
  for (const [ns, space] of data.work) problems.push(...checkWorkSpace(ns, space));
  return problems;
}

/** A namespace's work queues: each key's indexes against its rows, the dedup map against its live rows, ids within the counter. */
function checkWorkSpace(ns: string, space: WorkSpace): string[] {
  const problems: string[] = [];
  for (const [key, items] of space.byKey) {
    const where = `work ${ns}/${key}`;
    if (items.items.size === 0) problems.push(`${where}: a key with no items is listed`);
    const visible = new Set<string>();
    const dead = new Set<string>();
    for (const [id, row] of items.items) {
      if (row.id !== id || row.key !== key) problems.push(`${where}: item ${id} is stored as ${JSON.stringify(row.key)}/${row.id}`);
      if (id < 1 || id > space.lastId) problems.push(`${where}: item ${id} is outside 1..${space.lastId}`);
      if (row.dead !== (row.deadAt !== null)) problems.push(`${where}: item ${id} is ${row.dead ? "dead with no" : "live with a"} dead time`);
      if (row.dead) {
        dead.add(idKey(id));
        if (row.token !== null) problems.push(`${where}: dead item ${id} holds a lease token`);
        continue;
      }
      visible.add(visibilityKey(row));
      if (row.dedup !== null && items.dedup.get(row.dedup) !== id) problems.push(`${where}: live item ${id}'s dedup key ${JSON.stringify(row.dedup)} is not held by it`);
    }
    problems.push(...compareIndex(where, "visibility order", items.visible, visible), ...compareIndex(where, "dead index", items.dead, dead));
    for (const [dedup, id] of items.dedup) {
      const row = items.items.get(id);
      if (row === undefined || row.dead || row.dedup !== dedup) problems.push(`${where}: dedup key ${JSON.stringify(dedup)} names item ${id}, which is not a live item with that key`);
    }
  }
  return problems;
}

function compareIndex(where: string, name: string, index: SortedKeys, expected: ReadonlySet<string>): string[] {
  const held = [...index.scan({ lowerInclusive: true }, false)];
  const extra = held.filter((entry) => !expected.has(entry)).length;
  const missing = expected.size - (held.length - extra);
  return extra === 0 && missing === 0 ? [] : [`${where}: the ${name} lacks ${missing} of the rows' entries and holds ${extra} others`];
}
