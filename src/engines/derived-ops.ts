import { LIMITS } from "../api/limits.js";
import type { KeyRange } from "../api/range.js";
import type { Awaitable, EngineOps, StoredStreamEntry } from "./engine.js";
import { whenReady } from "./awaitable.js";

/*
 * Operations built from others, written once: an engine (of a family) that has the basic ones gets these, and
 * overrides one only where it does it faster natively (SQL's count(*), a native last-entry lookup).
 */

/** `kvCount` from keys-only scans, a page of {@link LIMITS.maxPageSize} keys at a time. */
export function kvCountByScan(ops: Pick<EngineOps, "kvScan">, ns: string, range: KeyRange, now: number): Awaitable<number> {
  const page = LIMITS.maxPageSize;
  const count = (lower: KeyRange, counted: number): Awaitable<number> =>
    whenReady(ops.kvScan(ns, { ...lower, reverse: false, limit: page, keysOnly: true }, now), (keys) => {
      const last = keys.at(-1);
      if (keys.length < page || last === undefined) return counted + keys.length;
      return count({ lower: last.key, lowerInclusive: false, ...(range.upper === undefined ? {} : { upper: range.upper }) }, counted + keys.length);
    });
  return count(range, 0);
}

/** `streamPeek` from the segment's status and a read of its last sequence. */
export function streamPeekFromStatus(ops: Pick<EngineOps, "streamStatus" | "streamRead">, ns: string, space: string, segment: string): Awaitable<StoredStreamEntry | undefined> {
  return whenReady(ops.streamStatus(ns, space, segment), (status) =>
    status.lastSeq === 0 ? undefined : whenReady(ops.streamRead(ns, space, segment, status.lastSeq, status.lastSeq, 1), (entries) => entries[0]),
  );
}
