import { StowageError } from "../../api/errors.js";
import type { WorkCounts, WorkPushed } from "../../api/types.js";
import type {
  LeaseRef,
  QueuePosition,
  StoredClaim,
  StoredSettle,
  StoredWorkPush,
  StoredWorkRow,
  WorkPoll,
  WorkRequeued,
  WorkSettled,
} from "../engine.js";
import { copyBytes } from "../copy-bytes.js";
import { expiredOverLimit, failDecision, overLimitError } from "../work-rules.js";
import type { WorkOps } from "../work-unsupported.js";
import { namesAfter, SortedKeys } from "./sorted-keys.js";

/*
 * Work queues of the memory engine, the reference the other engines are compared with (issue 21, design §3.1).
 *
 * Rows are never changed in place: every change replaces a row object (see `MemoryData.copy`, which shares rows), and
 * goes through `WorkOpsOnMemory.replace`, which keeps a queue key's indexes in step with its rows and records the
 * inverse replacement for rollback. What a row is decides where it is indexed: a live row in the visibility order (and
 * the dedup map when it has a dedup key), a dead one among the dead ids.
 */

/** Inverted priorities, visible times and ids as fixed-width hex, so that byte order is claim order (see `visibilityKey`). */
const PRIORITY_DIGITS = 8;
const NUMBER_DIGITS = 14; // Number.MAX_SAFE_INTEGER is 14 hex digits
const MAX_PRIORITY = 2 ** 31 - 1;
const LOWEST_INVERTED = 2 ** 32 - 1;

const hex = (n: number, digits: number): string => n.toString(16).padStart(digits, "0");
/** A dead item's entry in its key's dead index. */
export const idKey = (id: number): string => hex(id, NUMBER_DIGITS);
const invertedPriority = (priority: number): string => hex(MAX_PRIORITY - priority, PRIORITY_DIGITS);

/** A live row's place in the claim order: priority descending, then visibleAt, then id. */
export function visibilityKey(row: StoredWorkRow): string {
  return invertedPriority(row.priority) + hex(row.visibleAt, NUMBER_DIGITS) + idKey(row.id);
}

const visibleAtOf = (entry: string): number => Number.parseInt(entry.slice(PRIORITY_DIGITS, PRIORITY_DIGITS + NUMBER_DIGITS), 16);
const idOf = (entry: string): number => Number.parseInt(entry.slice(PRIORITY_DIGITS + NUMBER_DIGITS), 16);

/** Where the next lower priority's entries start, or undefined after the lowest one. */
function nextPriorityStart(entry: string): string | undefined {
  const inverted = Number.parseInt(entry.slice(0, PRIORITY_DIGITS), 16);
  return inverted >= LOWEST_INVERTED ? undefined : hex(inverted + 1, PRIORITY_DIGITS);
}

/** One queue key's items and their indexes. */
export class WorkKeySpace {
  constructor(
    readonly items = new Map<number, StoredWorkRow>(),
    /** Live items by {@link visibilityKey}. */
    readonly visible = new SortedKeys(),
    /** Dead items by {@link idKey}. */
    readonly dead = new SortedKeys(),
    /** Dedup key → id of the live item holding it. */
    readonly dedup = new Map<string, number>(),
  ) {}

  copy(): WorkKeySpace {
    return new WorkKeySpace(new Map(this.items), this.visible.copy(), this.dead.copy(), new Map(this.dedup));
  }

  /** Item ids in ascending order. */
  sortedIds(): number[] {
    return [...this.items.keys()].sort((a, b) => a - b);
  }
}

/** A namespace's work queues: the last id it handed out, and its queue keys (a key is listed while it holds items). */
export class WorkSpace {
  lastId = 0;
  readonly byKey = new Map<string, WorkKeySpace>();

  copy(): WorkSpace {
    const copy = new WorkSpace();
    copy.lastId = this.lastId;
    for (const [key, space] of this.byKey) copy.byKey.set(key, space.copy());
    return copy;
  }
}

/** The visibility order from `from` (undefined: from its start). */
const orderFrom = (space: WorkKeySpace, from: string | undefined): Generator<string> =>
  space.visible.scan(from === undefined ? { lowerInclusive: true } : { lower: from, lowerInclusive: true }, false);

/**
 * The live rows of `key` by claim order whose `visibleAt` is not after `now`: a walk of the visibility order that,
 * at the first future entry of a priority, skips to the next priority. Do not change the space while iterating.
 */
function* visibleNow(space: WorkKeySpace, now: number): Generator<number> {
  let from: string | undefined;
  for (;;) {
    let future: string | undefined;
    for (const entry of orderFrom(space, from)) {
      if (visibleAtOf(entry) > now) {
        future = entry;
        break;
      }
      yield idOf(entry);
    }
    from = future === undefined ? undefined : nextPriorityStart(future);
    if (from === undefined) return;
  }
}

/** The earliest `visibleAt` of each priority present, in priority order (one seek per priority). */
function* priorityHeads(space: WorkKeySpace): Generator<number> {
  let from: string | undefined;
  for (;;) {
    const head = orderFrom(space, from).next().value;
    if (head === undefined) return;
    yield visibleAtOf(head);
    from = nextPriorityStart(head);
    if (from === undefined) return;
  }
}

/** A row as dead-letter reads and dumps hand it out: its value copied. */
const rowOut = (row: StoredWorkRow): StoredWorkRow => ({ ...row, value: copyBytes(row.value) });

const isCurrent = (row: StoredWorkRow | undefined, lease: LeaseRef): row is StoredWorkRow =>
  row !== undefined && !row.dead && row.token === lease.token && row.attempts === lease.attempt;

function duplicateRejected(ns: string, key: string, dedup: string, holder: number): StowageError {
  return new StowageError("CONFLICT", `a live item (${holder}) holds dedup key ${JSON.stringify(dedup)}: the push was refused and nothing of it written`, {
    namespace: ns,
    key,
    itemId: holder,
  });
}

function restoreRefused(ns: string, key: string, id: number, why: string): StowageError {
  return new StowageError("CONFLICT", `cannot restore work item ${id}: ${why}; nothing was written`, { namespace: ns, key, itemId: id });
}

/**
 * The work operations of {@link EngineOps} over the memory engine's work spaces. Every change records its inverse in
 * `undo` (the engine's, shared with the other primitives' changes of the same write or transaction); calls that may
 * refuse check everything before they change anything, so that a refusal caught inside a transaction leaves nothing.
 */
export class WorkOpsOnMemory implements WorkOps {
  constructor(
    private readonly spaces: Map<string, WorkSpace>,
    private readonly undo: Array<() => void>,
  ) {}

  workPush(ns: string, items: readonly StoredWorkPush[], now: number): WorkPushed[] {
    const space = this.spaces.get(ns);
    // Planned first, written after: a rejected duplicate anywhere refuses the whole call.
    const answers: WorkPushed[] = [];
    const rows: StoredWorkRow[] = [];
    const heldByCall = new Map<string, Map<string, number>>();
    let lastId = space?.lastId ?? 0;
    for (const item of items) {
      if (item.dedup !== null) {
        const holder = heldByCall.get(item.key)?.get(item.dedup) ?? space?.byKey.get(item.key)?.dedup.get(item.dedup);
        if (holder !== undefined) {
          if (item.reject) throw duplicateRejected(ns, item.key, item.dedup, holder);
          answers.push({ id: holder, duplicate: true });
          continue;
        }
      }
      lastId += 1;
      if (item.dedup !== null) spaceFor(heldByCall, item.key, () => new Map<string, number>()).set(item.dedup, lastId);
      answers.push({ id: lastId, duplicate: false });
      rows.push({
        key: item.key,
        id: lastId,
        value: copyBytes(item.value),
        pushedAt: now,
        priority: item.priority,
        visibleAt: item.visibleAt,
        attempts: 0,
        maxAttempts: item.maxAttempts,
        policy: item.policy,
        token: null,
        dedup: item.dedup,
        dead: false,
        lastError: null,
        deadAt: null,
      });
    }
    if (rows.length === 0) return answers;
    const target = this.space(ns);
    this.setLastId(target, lastId);
    for (const row of rows) this.replace(target, row.key, undefined, row);
    return answers;
  }

  workClaim(ns: string, key: string, limit: number, now: number, deadline: number, token: number): StoredClaim[] {
    const space = this.spaces.get(ns);
    const items = space?.byKey.get(key);
    if (space === undefined || items === undefined) return [];
    // Chosen first, changed after: the walk must not see its own changes.
    const leased: StoredWorkRow[] = [];
    const expired: StoredWorkRow[] = [];
    for (const id of visibleNow(items, now)) {
      if (leased.length >= limit) break;
      const row = items.items.get(id) as StoredWorkRow;
      (expiredOverLimit(row, now) ? expired : leased).push(row);
    }
    for (const row of expired) {
      this.replace(space, key, row, { ...row, dead: true, token: null, deadAt: now, lastError: overLimitError(row) });
    }
    return leased.map((row) => {
      const claimed = { ...row, token, visibleAt: deadline, attempts: row.attempts + 1 };
      this.replace(space, key, row, claimed);
      return {
        id: row.id,
        token,
        deadline,
        value: copyBytes(row.value),
        pushedAt: row.pushedAt,
        priority: row.priority,
        attempt: claimed.attempts,
        maxAttempts: row.maxAttempts,
        policy: row.policy,
        lastError: row.lastError,
      };
    });
  }

  workExtend(ns: string, leases: readonly LeaseRef[], deadline: number): boolean[] {
    const space = this.spaces.get(ns);
    return leases.map((lease) => {
      const row = space?.byKey.get(lease.key)?.items.get(lease.id);
      if (space === undefined || !isCurrent(row, lease)) return false;
      this.replace(space, lease.key, row, { ...row, visibleAt: deadline });
      return true;
    });
  }

  workSettle(ns: string, settles: readonly StoredSettle[], now: number): Array<WorkSettled | null> {
    const space = this.spaces.get(ns);
    return settles.map((settle) => {
      const row = space?.byKey.get(settle.key)?.items.get(settle.id);
      if (space === undefined || !isCurrent(row, settle)) return null;
      if (settle.to === "ack") {
        this.replace(space, settle.key, row, undefined);
        return { dead: false, visibleAt: null };
      }
      if (settle.to === "retry") {
        const attempts = settle.giveBack ? row.attempts - 1 : row.attempts;
        this.replace(space, settle.key, row, { ...row, token: null, visibleAt: settle.visibleAt, attempts });
        return { dead: false, visibleAt: settle.visibleAt };
      }
      const decision = failDecision(row, settle, now, ns, settle.key);
      if (decision.to === "dead") {
        this.replace(space, settle.key, row, { ...row, dead: true, token: null, deadAt: now, lastError: settle.error });
        return { dead: true, visibleAt: null };
      }
      this.replace(space, settle.key, row, { ...row, token: null, visibleAt: decision.visibleAt, lastError: settle.error });
      return { dead: false, visibleAt: decision.visibleAt };
    });
  }

  workPoll(ns: string, key: string, now: number): WorkPoll {
    const items = this.spaces.get(ns)?.byKey.get(key);
    let nextVisibleAt: number | null = null;
    if (items === undefined) return { claimable: false, nextVisibleAt };
    for (const visibleAt of priorityHeads(items)) {
      if (visibleAt <= now) return { claimable: true, nextVisibleAt: null };
      nextVisibleAt = nextVisibleAt === null ? visibleAt : Math.min(nextVisibleAt, visibleAt);
    }
    return { claimable: false, nextVisibleAt };
  }

  workCounts(ns: string, key: string, now: number): WorkCounts {
    const counts: WorkCounts = { ready: 0, delayed: 0, leased: 0, dead: 0 };
    for (const row of this.spaces.get(ns)?.byKey.get(key)?.items.values() ?? []) {
      if (row.dead) counts.dead += 1;
      else if (row.visibleAt <= now) counts.ready += 1;
      else if (row.token === null) counts.delayed += 1;
      else counts.leased += 1;
    }
    return counts;
  }

  workKeys(ns: string, afterKey: string | null, limit: number): string[] {
    return namesAfter(this.spaces.get(ns)?.byKey.keys() ?? [], afterKey, limit);
  }

  workDead(ns: string, key: string, afterId: number, limit: number): StoredWorkRow[] {
    const items = this.spaces.get(ns)?.byKey.get(key);
    const out: StoredWorkRow[] = [];
    if (items === undefined) return out;
    for (const entry of items.dead.scan({ lower: idKey(afterId), lowerInclusive: false }, false)) {
      if (out.length >= limit) break;
      out.push(rowOut(items.items.get(Number.parseInt(entry, 16)) as StoredWorkRow));
    }
    return out;
  }

  workRequeue(ns: string, key: string, ids: readonly number[] | null, now: number, limit: number): WorkRequeued {
    const space = this.spaces.get(ns);
    const items = space?.byKey.get(key);
    if (space === undefined || items === undefined) return { requeued: 0, skipped: [], more: false };
    const { chosen, more } = this.deadToChange(items, ids, limit);
    let requeued = 0;
    const skipped: number[] = [];
    for (const row of chosen) {
      // Checked one by one: two dead items with one dedup key, requeued together, leave the second dead.
      if (row.dedup !== null && items.dedup.has(row.dedup)) {
        skipped.push(row.id);
        continue;
      }
      this.replace(space, key, row, { ...row, dead: false, deadAt: null, token: null, attempts: 0, visibleAt: now });
      requeued += 1;
    }
    return { requeued, skipped, more };
  }

  workPurge(ns: string, key: string, ids: readonly number[] | null, limit: number): { purged: number; more: boolean } {
    const space = this.spaces.get(ns);
    const items = space?.byKey.get(key);
    if (space === undefined || items === undefined) return { purged: 0, more: false };
    const { chosen, more } = this.deadToChange(items, ids, limit);
    for (const row of chosen) this.replace(space, key, row, undefined);
    return { purged: chosen.length, more };
  }

  workDump(ns: string, after: QueuePosition | null, limit: number): StoredWorkRow[] {
    const space = this.spaces.get(ns);
    const out: StoredWorkRow[] = [];
    if (space === undefined) return out;
    const keys = after === null ? namesAfter(space.byKey.keys(), null, Infinity) : [after.key, ...namesAfter(space.byKey.keys(), after.key, Infinity)];
    for (const key of keys) {
      const items = space.byKey.get(key);
      if (items === undefined) continue;
      for (const id of items.sortedIds()) {
        if (out.length >= limit) return out;
        if (after !== null && key === after.key && id <= after.id) continue;
        out.push(rowOut(items.items.get(id) as StoredWorkRow));
      }
    }
    return out;
  }

  workLastId(ns: string): number {
    return this.spaces.get(ns)?.lastId ?? 0;
  }

  workRestore(ns: string, rows: readonly StoredWorkRow[], lastId: number): void {
    const existing = this.spaces.get(ns);
    // Everything checked before anything is written.
    const ids = new Set<number>();
    const heldByCall = new Map<string, Map<string, number>>();
    let top = lastId;
    for (const row of rows) {
      const items = existing?.byKey.get(row.key);
      if (ids.has(row.id)) throw restoreRefused(ns, row.key, row.id, "the restore holds two items with that id");
      if (items?.items.has(row.id) === true) throw restoreRefused(ns, row.key, row.id, "the work queue holds an item with that id");
      ids.add(row.id);
      top = Math.max(top, row.id);
      if (row.dead || row.dedup === null) continue;
      const holder = heldByCall.get(row.key)?.get(row.dedup) ?? items?.dedup.get(row.dedup);
      if (holder !== undefined) throw restoreRefused(ns, row.key, row.id, `a live item (${holder}) holds its dedup key ${JSON.stringify(row.dedup)}`);
      spaceFor(heldByCall, row.key, () => new Map<string, number>()).set(row.dedup, row.id);
    }
    if (rows.length === 0 && top <= (existing?.lastId ?? 0)) return;
    const space = this.space(ns);
    this.setLastId(space, Math.max(space.lastId, top));
    for (const row of rows) this.replace(space, row.key, undefined, { ...row, value: copyBytes(row.value) });
  }

  /** The dead rows a requeue or purge changes (`ids`, or null: any, in id order), at most `limit`; `more`: others remain. */
  private deadToChange(items: WorkKeySpace, ids: readonly number[] | null, limit: number): { chosen: StoredWorkRow[]; more: boolean } {
    const deadIds = ids === null
      ? [...items.dead.scan({ lowerInclusive: true }, false)].map((entry) => Number.parseInt(entry, 16))
      : [...new Set(ids)].filter((id) => items.items.get(id)?.dead === true).sort((a, b) => a - b);
    return { chosen: deadIds.slice(0, limit).map((id) => items.items.get(id) as StoredWorkRow), more: deadIds.length > limit };
  }

  private space(ns: string): WorkSpace {
    return spaceFor(this.spaces, ns, () => new WorkSpace());
  }

  private setLastId(space: WorkSpace, lastId: number): void {
    const before = space.lastId;
    space.lastId = lastId;
    this.undo.push(() => (space.lastId = before));
  }

  /** Replaces `before` by `after` (either may be absent: an insert, a removal), recording the inverse. */
  private replace(space: WorkSpace, key: string, before: StoredWorkRow | undefined, after: StoredWorkRow | undefined): void {
    replaceRow(space, key, before, after);
    this.undo.push(() => replaceRow(space, key, after, before));
  }
}

function spaceFor<K, S>(map: Map<K, S>, key: K, make: () => S): S {
  let space = map.get(key);
  if (space === undefined) {
    space = make();
    map.set(key, space);
  }
  return space;
}

/** Swaps a row of `key`, keeping the key's indexes in step; a key left with no items is no longer listed. */
function replaceRow(space: WorkSpace, key: string, before: StoredWorkRow | undefined, after: StoredWorkRow | undefined): void {
  const items = spaceFor(space.byKey, key, () => new WorkKeySpace());
  if (before !== undefined) {
    items.items.delete(before.id);
    if (before.dead) items.dead.remove(idKey(before.id));
    else {
      items.visible.remove(visibilityKey(before));
      if (before.dedup !== null && items.dedup.get(before.dedup) === before.id) items.dedup.delete(before.dedup);
    }
  }
  if (after !== undefined) {
    items.items.set(after.id, after);
    if (after.dead) items.dead.insert(idKey(after.id));
    else {
      items.visible.insert(visibilityKey(after));
      if (after.dedup !== null) items.dedup.set(after.dedup, after.id);
    }
  }
  if (items.items.size === 0) space.byKey.delete(key);
}
