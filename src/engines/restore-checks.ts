import { StowageError } from "../api/errors.js";
import type { StoredLogEntry, StoredQueueRow, StoredStreamEntry } from "./engine.js";

/*
 * The refusals of the restore operations (see `EngineOps.logRestore`, `queueRestore`, `streamRestore`), shared by the
 * engine families so that each refuses the same batches with the same CONFLICT. Each is checked before anything is
 * written.
 */

/** CONFLICT unless the entries' sequences ascend and the first is above the namespace's last sequence. */
export function checkLogRestore(ns: string, entries: readonly StoredLogEntry[], lastSeq: number): void {
  let previous = lastSeq;
  for (const entry of entries) {
    if (entry.seq <= previous) {
      const why = previous === lastSeq ? `the log is at seq ${lastSeq}` : `seq ${entry.seq} follows ${previous}`;
      throw new StowageError("CONFLICT", `cannot restore log entry ${entry.seq}: ${why}; nothing was written`, { namespace: ns, key: entry.key, currentSeq: lastSeq });
    }
    previous = entry.seq;
  }
}

/** CONFLICT unless the entries continue the segment at `lastSeq + 1` without a gap. */
export function checkStreamRestore(ns: string, space: string, segment: string, entries: readonly StoredStreamEntry[], lastSeq: number): void {
  entries.forEach((entry, i) => {
    if (entry.seq === lastSeq + i + 1) return;
    throw new StowageError(
      "CONFLICT",
      `cannot restore entry ${entry.seq} of segment ${JSON.stringify(segment)} of space ${JSON.stringify(space)}: seq ${lastSeq + i + 1} comes next; nothing was written`,
      { namespace: ns, key: segment, currentSeq: lastSeq },
    );
  });
}

/** The CONFLICT of a queue item whose key holds an item with its id already. */
export function queueIdTaken(ns: string, key: string, id: number): StowageError {
  return new StowageError("CONFLICT", `cannot restore queue item ${id}: the queue holds an item with that id; nothing was written`, { namespace: ns, key });
}

/** CONFLICT when two items of one restore share an id (a dump never holds two: ids are unique across a namespace's keys). */
export function checkQueueRestoreIds(ns: string, items: readonly StoredQueueRow[]): void {
  const seen = new Set<number>();
  for (const item of items) {
    if (seen.has(item.id)) throw queueIdTaken(ns, item.key, item.id);
    seen.add(item.id);
  }
}

/** The rows with each key's last one only, in the order of those: a restore that names a key twice keeps its last row. */
export function lastRowPerKey<R extends { key: string }>(rows: readonly R[]): readonly R[] {
  const last = new Map<string, R>();
  for (const row of rows) {
    last.delete(row.key);
    last.set(row.key, row);
  }
  return last.size === rows.length ? rows : [...last.values()];
}
