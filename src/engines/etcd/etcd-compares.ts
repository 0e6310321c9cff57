import type { ICompare } from "etcd3";
import { StowageError } from "../../api/errors.js";
import { sameEntries, sameValue } from "../recorded-reads.js";
import type { OrderedCheck, OrderedEntry, OrderedRangeOptions } from "../ordered/ordered-store.js";

/**
 * etcd's default `--max-txn-ops`: the most compares, and operations of each branch, of one transaction. A nested
 * transaction only gets what its parent left of the 128, so nesting does not raise it.
 */
export const MAX_TXN_OPS = 128;

/** A point read's answer as recorded for the commit: the mod revision of the value it returned, at which revision. */
export interface RecordedGet {
  readonly value: Uint8Array | undefined;
  readonly mod: string;
  readonly revision: string;
}

/** A range read's answer as recorded for the commit: what was asked, at which revision, and what came back. */
export interface RecordedRange {
  readonly end: Uint8Array;
  readonly options: OrderedRangeOptions;
  readonly revision: string;
  readonly entries: readonly OrderedEntry[];
}

/**
 * A store's recorded reads, by the key (or range start) object its snapshots were asked for: the family's checks carry
 * those very objects. A record only makes a check cheaper to verify when its bytes match the check's, so a record
 * of another read of the same object (another snapshot) is never taken for the check's.
 */
export interface Reads {
  readonly gets: WeakMap<Uint8Array, RecordedGet>;
  readonly ranges: WeakMap<Uint8Array, RecordedRange>;
}

const full = (prefix: Buffer, key: Uint8Array): Buffer => Buffer.concat([prefix, key]);

/**
 * The compares of a commit's checks. Each check's own (see `comparesOfCheck`) when they fit one transaction (etcd
 * takes at most 128 compares); otherwise the checks this store's snapshots read, at revision R or later, share a
 * single compare: the commit marker (the key of the prefix itself, which every commit with writes puts) has a mod
 * revision ≤ the oldest such R, that is, no commit has written under the prefix since, so all of them still hold.
 * Coarser (any commit since conflicts), but sound, and only for commits that read that much. The other checks (values
 * the family presumed without reading them) keep their own compares beside it.
 */
export function comparesOf(checks: readonly OrderedCheck[], prefix: Buffer, reads: Reads): ICompare[] {
  const precise: ICompare[] = [];
  const unread: ICompare[] = [];
  let oldest: bigint | undefined;
  for (const check of checks) {
    const { compares, revision } = comparesOfCheck(check, prefix, reads);
    precise.push(...compares);
    if (revision === undefined) unread.push(...compares);
    else if (oldest === undefined || BigInt(revision) < oldest) oldest = BigInt(revision);
  }
  if (precise.length <= MAX_TXN_OPS) return precise;
  if (oldest !== undefined && unread.length < MAX_TXN_OPS) return [{ key: prefix, target: "Mod", result: "Less", mod_revision: (oldest + 1n).toString() }, ...unread];
  throw new StowageError("LIMIT_EXCEEDED", `a commit's ${checks.length} checks need ${precise.length} compares, and etcd takes ${MAX_TXN_OPS} in one transaction; nothing was written`);
}

/**
 * The compares that hold exactly when `check` still holds, sound whatever read the check came from:
 * - an absent key: its version is 0 (etcd compares a missing key as all zeros);
 * - a value this store's snapshot read for that very key object, with the same bytes: its mod revision is the one
 *   read (etcd gives a key a new mod revision on every write, so the same one means the same value), otherwise the
 *   value itself (etcd's value compare fails on a missing key);
 * - a range: over the part the read covered (up to its last entry when the limit cut it), nothing may have been
 *   added, changed or removed. When this store read that range (same object, bounds, options and entries) at
 *   revision R: no key in it has a mod revision above R (catches additions and changes; one range compare), and each
 *   entry still exists (version > 0; a deletion leaves no key to compare, so each is named). Otherwise: each entry
 *   has its value, and each gap between entries holds no key (a range compare of version 0).
 * Ranges thus cost a compare per entry; etcd has no compare of a range's count.
 */
function comparesOfCheck(check: OrderedCheck, prefix: Buffer, reads: Reads): { compares: ICompare[]; revision?: string } {
  if (check.kind === "get") {
    const key = full(prefix, check.key);
    const read = reads.gets.get(check.key);
    const revision = read !== undefined && sameValue(read.value, check.value) ? read.revision : undefined;
    if (check.value === undefined) return { compares: [{ key, target: "Version", result: "Equal", version: 0 }], revision };
    if (revision !== undefined) return { compares: [{ key, target: "Mod", result: "Equal", mod_revision: read!.mod }], revision };
    return { compares: [{ key, target: "Value", result: "Equal", value: Buffer.from(check.value) }] };
  }
  const { start, end, options, entries } = check;
  const read = reads.ranges.get(start);
  const same = read !== undefined && Buffer.compare(read.end, end) === 0 && read.options.limit === options.limit && read.options.reverse === options.reverse && sameEntries(read.entries, entries);
  const revision = same ? read.revision : undefined;
  if (Buffer.compare(start, end) >= 0 || options.limit === 0) return { compares: [], revision };
  const cut = options.limit !== undefined && entries.length >= options.limit ? entries[entries.length - 1]![0] : undefined;
  const low = cut !== undefined && options.reverse === true ? cut : start;
  const high = cut !== undefined && options.reverse !== true ? Buffer.concat([cut, Buffer.from([0])]) : end;
  if (revision !== undefined) {
    const changed: ICompare = { key: full(prefix, low), range_end: full(prefix, high), target: "Mod", result: "Less", mod_revision: (BigInt(revision) + 1n).toString() };
    return { compares: [changed, ...entries.map(([key]): ICompare => ({ key: full(prefix, key), target: "Version", result: "Greater", version: 0 }))], revision };
  }
  const ascending = [...entries].sort(([a], [b]) => Buffer.compare(a, b));
  const compares: ICompare[] = ascending.map(([key, value]) => ({ key: full(prefix, key), target: "Value", result: "Equal", value: Buffer.from(value) }));
  let from: Uint8Array = low;
  for (const [key] of [...ascending, [high] as const]) {
    if (Buffer.compare(from, key) < 0) compares.push({ key: full(prefix, from), range_end: full(prefix, key), target: "Version", result: "Equal", version: 0 });
    from = Buffer.concat([key, Buffer.from([0])]);
  }
  return { compares };
}
