import { compareKeys } from "../../api/key-order.js";
import type { MemoryData } from "./memory-ops.js";

/**
 * The memory engine's invariants: each KV namespace's key order holds exactly its rows, in order; log entries per key
 * ascend, are unique across keys and within the namespace's counter, and match its count; queue items ascend by id
 * within the counter. The problems found, one line each.
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
  return problems;
}
