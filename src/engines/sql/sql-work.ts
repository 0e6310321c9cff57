/**
 * Work queues on the sql family (SQLite, PostgreSQL), as programs (see sql-program.ts): one table, `stowage_work`, a row
 * per item in every state (dead letters are a flag on the same row), ids from the namespace's `work` counter.
 *
 * One live lease per item: every program reads and writes inside one transaction (SQLite's single writer; PostgreSQL at
 * SERIALIZABLE, where a claimer or settler that raced another on a row fails with a serialization failure and runs
 * again). The writes re-check the state they read all the same, so a row changed meanwhile is never taken. PostgreSQL's
 * plain pushes, claims, settles and extends run at READ COMMITTED instead (postgres-work.ts); its settle there is this
 * one with `lockSettled`.
 */
import { StowageError } from "../../api/errors.js";
import type { WorkCounts, WorkPushed } from "../../api/types.js";
import type { LeaseRef, StoredClaim, StoredSettle, StoredWorkPush, StoredWorkRow, WorkSettled } from "../engine.js";
import { expiredOverLimit, failDecision, overLimitError, type ClaimableRow } from "../work-rules.js";
import type { WorkOpName } from "../work-unsupported.js";
import type { SqlRow } from "./sql-executor.js";
import { all, get, run, type SqlProgram, type SqlPrograms } from "./sql-program.js";
import type { RowSet, RowSetDialect } from "./sql-row-set.js";
import { bytesOf, COUNTER_SET, COUNTER_TAKE, num, numOrNull } from "./sql-values.js";

/** The work operations as programs. */
export type WorkPrograms = Pick<SqlPrograms, WorkOpName>;

/**
 * How many times a claim selects again after dead-lettering over-limit items it met, to fill its limit, and how many
 * rows beyond what it still needs those later selects read: bounded, so a key whose head holds many such items costs
 * a few statements per claim (a claim may return fewer than are claimable), while a claim that meets none reads only
 * the rows it needs.
 */
export const CLAIM_ROUNDS = 4;
const CLAIM_LOOKAHEAD = 16;

/** Takes `n` ids from the namespace's work counter (creating it), answering the last: one statement where a take and a set were two. */
export const COUNTER_ADD =
  "INSERT INTO stowage_counter (ns, kind, value) VALUES (?, 'work', ?) ON CONFLICT (ns, kind) DO UPDATE SET value = stowage_counter.value + excluded.value RETURNING value";

/** Every column of an item, as dumps, dead-letter reads and restores carry it. */
const ROW_COLUMNS = "key, id, value, pushed_at, priority, visible_at, attempts, max_attempts, policy, token, dedup, dead, last_error, dead_at";

/** Both drivers' booleans: PostgreSQL's `true`, SQLite's 1. */
const isTrue = (value: unknown): boolean => value === true || value === 1;

function workRowOf(row: SqlRow): StoredWorkRow {
  return {
    key: row.key as string,
    id: Number(row.id),
    value: bytesOf(row.value),
    pushedAt: Number(row.pushed_at),
    priority: Number(row.priority),
    visibleAt: Number(row.visible_at),
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    policy: row.policy as string,
    token: numOrNull(row.token),
    dedup: (row.dedup as string | null) ?? null,
    dead: isTrue(row.dead),
    lastError: (row.last_error as string | null) ?? null,
    deadAt: numOrNull(row.dead_at),
  };
}

/** A leased row as a claim hands it out, with the claim's token and deadline. */
export function claimOf(row: SqlRow, token: number, deadline: number): StoredClaim {
  return {
    id: Number(row.id),
    token,
    deadline,
    value: bytesOf(row.value),
    pushedAt: Number(row.pushed_at),
    priority: Number(row.priority),
    attempt: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    policy: row.policy as string,
    lastError: (row.last_error as string | null) ?? null,
  };
}

/** A claim candidate as the claim rules read it. */
interface Candidate extends ClaimableRow {
  id: number;
  lastError: string | null;
}

const candidateOf = (row: SqlRow): Candidate => ({
  id: Number(row.id),
  dead: false,
  visibleAt: Number(row.visible_at),
  attempts: Number(row.attempts),
  maxAttempts: Number(row.max_attempts),
  token: numOrNull(row.token),
  lastError: (row.last_error as string | null) ?? null,
});

/** Where an item's dedup key lives: per queue key. */
const dedupSlot = (key: string, dedup: string): string => `${key}\u0000${dedup}`;
const itemSlot = (key: string, id: number): string => `${key}\u0000${id}`;
/** A lease as a map key: the item, and the token and attempt count that make the lease current. */
const leaseSlot = (key: string, id: number, token: number, attempt: number): string => `${itemSlot(key, id)}\u0000${token}\u0000${attempt}`;
const leaseSlotOf = (row: SqlRow): string => leaseSlot(row.key as string, Number(row.id), Number(row.token), Number(row.attempts));

function duplicateRefused(ns: string, key: string, dedup: string, holder: number): StowageError {
  return new StowageError("CONFLICT", `work push refused: item ${holder} holds dedup key ${JSON.stringify(dedup)}; nothing was written`, {
    namespace: ns,
    key,
    itemId: holder,
  });
}

function restoreRefused(ns: string, key: string, id: number, why: string): StowageError {
  return new StowageError("CONFLICT", `cannot restore work item ${id}: ${why}; nothing was written`, { namespace: ns, key, itemId: id });
}

/** CONFLICT when two rows of one restore share an id, or two live ones of a queue key share a dedup key. */
function checkRestoreRows(ns: string, rows: readonly StoredWorkRow[]): void {
  const ids = new Set<number>();
  const dedups = new Set<string>();
  for (const row of rows) {
    if (ids.has(row.id)) throw restoreRefused(ns, row.key, row.id, "the restore holds two items with that id");
    ids.add(row.id);
    if (row.dead || row.dedup === null) continue;
    const slot = dedupSlot(row.key, row.dedup);
    if (dedups.has(slot)) throw restoreRefused(ns, row.key, row.id, `the restore holds two live items with dedup key ${JSON.stringify(row.dedup)}`);
    dedups.add(slot);
  }
}

/**
 * A batch as a materialised CTE named `batch`, for UPDATE … FROM: a row set joined directly would let SQLite's planner
 * scan the namespace's items and look each up in the batch; materialised, the batch is the outer loop and each item a
 * primary-key lookup. Its parameters come first in the statement.
 */
const batchOf = (rows: RowSet): string => `WITH batch AS MATERIALIZED (SELECT * FROM ${rows.sql})`;

/**
 * The statements, built once per dialect (the executors cache prepared statements by text). Booleans are written as
 * `dead` / `NOT dead` and the literals true and false: PostgreSQL's column is BOOLEAN, SQLite's an integer 0 or 1, and
 * both schemas' partial indexes say `NOT dead`, so the planners match them.
 */
function workStatements(rowSet: RowSetDialect, options: WorkProgramOptions) {
  const pushRows = rowSet([
    ["key", "text"],
    ["id", "int"],
    ["priority", "int"],
    ["visible_at", "int"],
    ["max_attempts", "int"],
    ["policy", "text"],
    ["dedup", "text"],
    ["value", "bytes"],
  ]);
  const dedupPairs = rowSet([["key", "text"], ["dedup", "text"]]);
  const ids = rowSet([["id", "int"]]);
  const buried = rowSet([["key", "text"], ["id", "int"], ["error", "text"]]);
  // Named apart from the table's columns: SQLite's RETURNING takes no table qualifier, and PostgreSQL's would find two.
  const leases = rowSet([["lease_key", "text"], ["lease_id", "int"], ["lease_token", "int"], ["lease_attempt", "int"]]);
  const items = rowSet([["key", "text"], ["id", "int"]]);
  const settled = rowSet([
    ["key", "text"],
    ["id", "int"],
    ["visible_at", "int"],
    ["give_back", "int"],
    ["dead", "int"],
    ["dead_at", "int"],
    ["error", "text"],
  ]);
  const restoreRows = rowSet([
    ["key", "text"],
    ["id", "int"],
    ["dead", "int"],
    ["priority", "int"],
    ["visible_at", "int"],
    ["attempts", "int"],
    ["max_attempts", "int"],
    ["token", "int"],
    ["policy", "text"],
    ["dedup", "text"],
    ["last_error", "text"],
    ["dead_at", "int"],
    ["pushed_at", "int"],
    ["value", "bytes"],
  ]);
  /** A dead item of the key by id (the ids given), or any; one more than the limit, to tell whether some are left. */
  const deadChosen = (given: boolean) =>
    given
      ? `SELECT w.id, w.dedup FROM ${ids.sql} CROSS JOIN stowage_work w WHERE w.ns = ? AND w.key = ? AND w.id = e.id AND w.dead ORDER BY w.id LIMIT ?`
      : "SELECT id, dedup FROM stowage_work WHERE ns = ? AND key = ? AND dead ORDER BY id LIMIT ?";
  return {
    push: {
      rows: pushRows,
      sql: `INSERT INTO stowage_work (ns, key, id, dead, priority, visible_at, attempts, max_attempts, token, policy, dedup, last_error, dead_at, pushed_at, value)
SELECT ?, e.key, e.id, false, e.priority, e.visible_at, 0, e.max_attempts, NULL, e.policy, e.dedup, NULL, NULL, ?, e.value FROM ${pushRows.sql}`,
    },
    /** One item, for {@link WorkProgramOptions.rowAtATime}. */
    pushOne: `INSERT INTO stowage_work (ns, key, id, dead, priority, visible_at, attempts, max_attempts, token, policy, dedup, last_error, dead_at, pushed_at, value)
VALUES (?, ?, ?, false, ?, ?, 0, ?, NULL, ?, ?, NULL, NULL, ?, ?)`,
    /** One ack, for {@link WorkProgramOptions.rowAtATime}: the item goes while the lease is current. */
    ackOne: "DELETE FROM stowage_work WHERE ns = ? AND key = ? AND id = ? AND token = ? AND attempts = ? AND NOT dead",
    /** The live holders of (key, dedup) pairs: one lookup of the dedup index per pair (CROSS JOIN keeps the pairs outside on SQLite). */
    dedupHeld: {
      rows: dedupPairs,
      sql: `SELECT w.key, w.dedup, w.id FROM ${dedupPairs.sql} CROSS JOIN stowage_work w WHERE w.ns = ? AND w.key = e.key AND w.dedup = e.dedup AND NOT w.dead`,
    },
    /** The claim index, in claim order. */
    claimable: `SELECT id, visible_at, attempts, max_attempts, token, last_error FROM stowage_work
WHERE ns = ? AND key = ? AND NOT dead AND visible_at <= ? ORDER BY priority DESC, visible_at, id LIMIT ?`,
    lease: {
      rows: ids,
      sql: `UPDATE stowage_work SET token = ?, visible_at = ?, attempts = attempts + 1
WHERE ns = ? AND key = ? AND NOT dead AND visible_at <= ? AND id IN (SELECT e.id FROM ${ids.sql})
RETURNING id, value, pushed_at, priority, attempts, max_attempts, policy, last_error`,
    },
    bury: {
      rows: buried,
      sql: `${batchOf(buried)} UPDATE stowage_work AS w SET dead = true, token = NULL, dead_at = ?, last_error = e.error FROM batch e
WHERE w.ns = ? AND w.key = e.key AND w.id = e.id AND NOT w.dead AND w.visible_at <= ?`,
    },
    extend: {
      rows: leases,
      sql: `${batchOf(leases)} UPDATE stowage_work AS w SET visible_at = ? FROM batch e
WHERE w.ns = ? AND w.key = e.lease_key AND w.id = e.lease_id AND w.token = e.lease_token AND w.attempts = e.lease_attempt AND NOT w.dead
RETURNING key, id, token, attempts`,
    },
    /** The leases of a settle that are current, with what a fail needs of their items. */
    current: {
      rows: leases,
      sql: `SELECT w.key, w.id, w.token, w.attempts, w.max_attempts, w.policy FROM ${leases.sql} CROSS JOIN stowage_work w
WHERE w.ns = ? AND w.key = e.lease_key AND w.id = e.lease_id AND w.token = e.lease_token AND w.attempts = e.lease_attempt AND NOT w.dead${
        options.lockSettled ? " ORDER BY w.key, w.id FOR UPDATE OF w" : ""
      }`,
    },
    remove: {
      rows: items,
      sql: `DELETE FROM stowage_work WHERE ns = ? AND (key, id) IN (SELECT e.key, e.id FROM ${items.sql})`,
    },
    /** Released, failed or dead-lettered leases: a null visible time or error keeps the item's own. */
    unlease: {
      rows: settled,
      sql: `${batchOf(settled)} UPDATE stowage_work AS w SET token = NULL, visible_at = coalesce(e.visible_at, w.visible_at), attempts = w.attempts - e.give_back,
  dead = (e.dead <> 0), dead_at = e.dead_at, last_error = coalesce(e.error, w.last_error)
FROM batch e WHERE w.ns = ? AND w.key = e.key AND w.id = e.id`,
    },
    /**
     * Whether the key has a claimable item, and the earliest visible time of its live items: a skip scan of the claim
     * index, one seek per priority level present (a plain min would read every live item of the key).
     */
    poll: `WITH RECURSIVE levels(p) AS (
  SELECT (SELECT max(priority) FROM stowage_work WHERE ns = ? AND key = ? AND NOT dead)
  UNION ALL
  SELECT (SELECT max(priority) FROM stowage_work WHERE ns = ? AND key = ? AND NOT dead AND priority < levels.p) FROM levels WHERE levels.p IS NOT NULL)
SELECT min((SELECT min(visible_at) FROM stowage_work WHERE ns = ? AND key = ? AND NOT dead AND priority = levels.p)) AS next
FROM levels WHERE levels.p IS NOT NULL`,
    counts: `SELECT
  coalesce(sum(CASE WHEN NOT dead AND visible_at <= ? THEN 1 ELSE 0 END), 0) AS ready,
  coalesce(sum(CASE WHEN NOT dead AND visible_at > ? AND token IS NULL THEN 1 ELSE 0 END), 0) AS delayed,
  coalesce(sum(CASE WHEN NOT dead AND visible_at > ? AND token IS NOT NULL THEN 1 ELSE 0 END), 0) AS leased,
  coalesce(sum(CASE WHEN dead THEN 1 ELSE 0 END), 0) AS dead
FROM stowage_work WHERE ns = ? AND key = ?`,
    keys: "SELECT DISTINCT key FROM stowage_work WHERE ns = ? AND key > ? ORDER BY key LIMIT ?",
    dead: `SELECT ${ROW_COLUMNS} FROM stowage_work WHERE ns = ? AND key = ? AND dead AND id > ? ORDER BY id LIMIT ?`,
    deadChosen: { rows: ids, given: deadChosen(true), any: deadChosen(false) },
    requeue: {
      rows: ids,
      sql: `UPDATE stowage_work SET dead = false, dead_at = NULL, attempts = 0, token = NULL, visible_at = ?
WHERE ns = ? AND key = ? AND dead AND id IN (SELECT e.id FROM ${ids.sql})`,
    },
    purge: {
      rows: ids,
      sql: `DELETE FROM stowage_work WHERE ns = ? AND key = ? AND dead AND id IN (SELECT e.id FROM ${ids.sql})`,
    },
    dump: `SELECT ${ROW_COLUMNS} FROM stowage_work WHERE ns = ? ORDER BY key, id LIMIT ?`,
    dumpAfter: `SELECT ${ROW_COLUMNS} FROM stowage_work WHERE ns = ? AND (key, id) > (?, ?) ORDER BY key, id LIMIT ?`,
    lastId: "SELECT value FROM stowage_counter WHERE ns = ? AND kind = 'work'",
    /** An item the namespace holds already under one of the (key, id) pairs: one primary-key lookup per pair. */
    taken: {
      rows: items,
      sql: `SELECT w.key, w.id FROM ${items.sql} CROSS JOIN stowage_work w WHERE w.ns = ? AND w.key = e.key AND w.id = e.id LIMIT 1`,
    },
    restore: {
      rows: restoreRows,
      sql: `INSERT INTO stowage_work (ns, key, id, dead, priority, visible_at, attempts, max_attempts, token, policy, dedup, last_error, dead_at, pushed_at, value)
SELECT ?, e.key, e.id, (e.dead <> 0), e.priority, e.visible_at, e.attempts, e.max_attempts, e.token, e.policy, e.dedup, e.last_error, e.dead_at, e.pushed_at, e.value
FROM ${restoreRows.sql}`,
    },
  };
}

/** What a settle of a current lease writes, and answers. */
interface SettleWrite {
  remove: boolean;
  /** key, id, visible_at, give_back, dead, dead_at, error (see `unlease`). */
  row: unknown[];
  answer: WorkSettled;
}

function settleWrite(ns: string, settle: StoredSettle, item: SqlRow, now: number): SettleWrite {
  if (settle.to === "ack") return { remove: true, row: [settle.key, settle.id], answer: { dead: false, visibleAt: null } };
  if (settle.to === "retry") {
    return {
      remove: false,
      row: [settle.key, settle.id, settle.visibleAt, settle.giveBack ? 1 : 0, 0, null, null],
      answer: { dead: false, visibleAt: settle.visibleAt },
    };
  }
  const decision = failDecision({ maxAttempts: Number(item.max_attempts), policy: item.policy as string }, settle, now, ns, settle.key);
  if (decision.to === "dead") return { remove: false, row: [settle.key, settle.id, null, 0, 1, now, settle.error], answer: { dead: true, visibleAt: null } };
  return {
    remove: false,
    row: [settle.key, settle.id, decision.visibleAt, 0, 0, null, settle.error],
    answer: { dead: false, visibleAt: decision.visibleAt },
  };
}

/** How a dialect's work programs differ. */
export interface WorkProgramOptions {
  /**
   * A settle locks the current leases' rows as it reads them (`FOR UPDATE`, in key and id order): where the settle
   * runs at READ COMMITTED (PostgreSQL's plain work calls), so that no claim takes an item between that read and the
   * writes. Without it the read and the writes rely on the transaction's isolation (SQLite's writer, SERIALIZABLE).
   */
  lockSettled?: boolean;
  /**
   * Pushes insert, and settles of acks alone delete, with one prepared statement per item: where a statement is an
   * in-process call (SQLite), that is cheaper than one statement over the batch as a row set, which SQLite builds
   * from JSON (measured per job at 16-item batches: insert ~3.5 µs against ~10.6; ack ~3.2 against ~19 for the read
   * of the current leases and the delete). Over a network (PostgreSQL) each would be a round trip.
   */
  rowAtATime?: boolean;
}

/** The work programs over a dialect's row sets (`rowSet`: how a batch travels as one statement's parameters). */
export function workPrograms(rowSet: RowSetDialect, options: WorkProgramOptions = {}): WorkPrograms {
  const sql = workStatements(rowSet, options);
  const leaseParams = (refs: readonly LeaseRef[]) => sql.extend.rows.params(refs.map((ref) => [ref.key, ref.id, ref.token, ref.attempt]));

  /** The dead items a requeue or purge takes (at most `limit`), and whether dead ones are left beyond them. */
  function* deadChosen(ns: string, key: string, given: readonly number[] | null, limit: number): SqlProgram<{ rows: SqlRow[]; more: boolean }> {
    const found =
      given === null
        ? yield* all(sql.deadChosen.any, [ns, key, limit + 1])
        : yield* all(sql.deadChosen.given, [...sql.deadChosen.rows.params([...new Set(given)].map((id) => [id])), ns, key, limit + 1]);
    return { rows: found.slice(0, limit), more: found.length > limit };
  }

  return {
    *workPush(ns, items, now): SqlProgram<WorkPushed[]> {
      // Live holders of the dedup keys first: a refused push then writes nothing. At SERIALIZABLE (PostgreSQL) a holder
      // committed after this read makes the counter's update below fail as a serialization failure, and the push reruns.
      const held = new Map<string, number>();
      const deduped = items.filter((item): item is StoredWorkPush & { dedup: string } => item.dedup !== null);
      if (deduped.length > 0) {
        const pairs = sql.dedupHeld.rows.params(deduped.map((item) => [item.key, item.dedup]));
        for (const row of yield* all(sql.dedupHeld.sql, [...pairs, ns])) held.set(dedupSlot(row.key as string, row.dedup as string), Number(row.id));
      }
      // Per item: a live holder's id, or the place (from 1) among this call's inserted items of the item it inserts or
      // repeats; ids come from the counter once it is known that something is inserted.
      const inserted: StoredWorkPush[] = [];
      const places = new Map<string, number>();
      const placed = items.map((item): { holder: number } | { place: number; duplicate: boolean } => {
        const slot = item.dedup === null ? undefined : dedupSlot(item.key, item.dedup);
        const holder = slot === undefined ? undefined : held.get(slot);
        if (holder !== undefined) return { holder };
        const earlier = slot === undefined ? undefined : places.get(slot);
        if (earlier !== undefined) return { place: earlier, duplicate: true };
        inserted.push(item);
        if (slot !== undefined) places.set(slot, inserted.length);
        return { place: inserted.length, duplicate: false };
      });
      const refused = placed.findIndex((answer, at) => items[at]?.reject === true && ("holder" in answer || answer.duplicate));
      if (refused >= 0) {
        const answer = placed[refused] as { holder: number } | { place: number };
        const item = items[refused] as StoredWorkPush;
        // An earlier item of this call holds the key: it would have had the next ids, and nothing is written.
        const holder = "holder" in answer ? answer.holder : num(yield* get(sql.lastId, [ns]), "value") + answer.place;
        throw duplicateRefused(ns, item.key, item.dedup as string, holder);
      }
      let before = 0;
      if (inserted.length > 0) {
        // The counter row locks the namespace's pushes (PostgreSQL) until this commits, so ids follow commit order.
        before = num(yield* get(COUNTER_ADD, [ns, inserted.length]), "value") - inserted.length;
        const rows = inserted.map((item, at) => [item.key, before + at + 1, item.priority, item.visibleAt, item.maxAttempts, item.policy, item.dedup, item.value]);
        if (options.rowAtATime === true) {
          for (const [key, id, priority, visibleAt, maxAttempts, policy, dedup, value] of rows) {
            yield* run(sql.pushOne, [ns, key, id, priority, visibleAt, maxAttempts, policy, dedup, now, value]);
          }
        } else yield* run(sql.push.sql, [ns, now, ...sql.push.rows.params(rows)]);
      }
      return placed.map((answer) => ("holder" in answer ? { id: answer.holder, duplicate: true } : { id: before + answer.place, duplicate: answer.duplicate }));
    },

    *workClaim(ns, key, limit, now, deadline, token): SqlProgram<StoredClaim[]> {
      const claimed: StoredClaim[] = [];
      for (let round = 0; round < CLAIM_ROUNDS && claimed.length < limit; round++) {
        const needed = limit - claimed.length;
        const window = round === 0 ? needed : needed + CLAIM_LOOKAHEAD;
        const rows = (yield* all(sql.claimable, [ns, key, now, window])).map(candidateOf);
        // In claim order: lease the first `needed` within limits, dead-letter the over-limit ones met before them.
        const taken: Candidate[] = [];
        const over: Candidate[] = [];
        for (const row of rows) {
          if (taken.length === needed) break;
          (expiredOverLimit(row, now) ? over : taken).push(row);
        }
        if (taken.length > 0) {
          const leased = yield* all(sql.lease.sql, [token, deadline, ns, key, now, ...sql.lease.rows.params(taken.map((c) => [c.id]))]);
          // RETURNING promises no order: hand the items out in claim order.
          const byId = new Map(leased.map((row) => [Number(row.id), row]));
          for (const candidate of taken) {
            const row = byId.get(candidate.id);
            if (row === undefined) continue;
            claimed.push(claimOf(row, token, deadline));
          }
        }
        if (over.length > 0) {
          // Items whose last allowed claim expired end here, with no sweeper.
          const buried = sql.bury.rows.params(over.map((candidate) => [key, candidate.id, overLimitError(candidate)]));
          yield* run(sql.bury.sql, [...buried, now, ns, now]);
        }
        // Done when the key has no more claimable rows, or none of these was over its limit (the limit is then met).
        if (rows.length < window || over.length === 0) break;
      }
      return claimed;
    },

    *workExtend(ns, refs, deadline): SqlProgram<boolean[]> {
      const extended = yield* all(sql.extend.sql, [...leaseParams(refs), deadline, ns]);
      const current = new Set(extended.map(leaseSlotOf));
      return refs.map((ref) => current.has(leaseSlot(ref.key, ref.id, ref.token, ref.attempt)));
    },

    *workSettle(ns, settles, now): SqlProgram<Array<WorkSettled | null>> {
      if (options.rowAtATime === true && settles.every((settle) => settle.to === "ack")) {
        // A lease given twice: the first delete ends it, the second finds it gone, as it would in a later call.
        const answers: Array<WorkSettled | null> = [];
        for (const settle of settles) {
          const acked = (yield* run(sql.ackOne, [ns, settle.key, settle.id, settle.token, settle.attempt])) > 0;
          answers.push(acked ? { dead: false, visibleAt: null } : null);
        }
        return answers;
      }
      const current = new Map<string, SqlRow>();
      for (const row of yield* all(sql.current.sql, [...leaseParams(settles), ns])) current.set(leaseSlotOf(row), row);
      const removed: unknown[][] = [];
      const updated: unknown[][] = [];
      const answers = settles.map((settle): WorkSettled | null => {
        const slot = leaseSlot(settle.key, settle.id, settle.token, settle.attempt);
        const item = current.get(slot);
        if (item === undefined) return null;
        // The first settle of a lease ends it: a later one of the same call finds it gone, as it would in a later call.
        current.delete(slot);
        const write = settleWrite(ns, settle, item, now);
        (write.remove ? removed : updated).push(write.row);
        return write.answer;
      });
      if (removed.length > 0) yield* run(sql.remove.sql, [ns, ...sql.remove.rows.params(removed)]);
      if (updated.length > 0) yield* run(sql.unlease.sql, [...sql.unlease.rows.params(updated), ns]);
      return answers;
    },

    *workPoll(ns, key, now) {
      const row = yield* get(sql.poll, [ns, key, ns, key, ns, key]);
      const next = numOrNull(row?.next);
      const claimable = next !== null && next <= now;
      return { claimable, nextVisibleAt: claimable ? null : next };
    },

    *workCounts(ns, key, now): SqlProgram<WorkCounts> {
      const row = yield* get(sql.counts, [now, now, now, ns, key]);
      return { ready: num(row, "ready"), delayed: num(row, "delayed"), leased: num(row, "leased"), dead: num(row, "dead") };
    },

    *workKeys(ns, afterKey, limit) {
      return (yield* all(sql.keys, [ns, afterKey ?? "", limit])).map((row) => row.key as string);
    },

    *workDead(ns, key, afterId, limit) {
      return (yield* all(sql.dead, [ns, key, afterId, limit])).map(workRowOf);
    },

    *workRequeue(ns, key, given, now, limit) {
      const { rows, more } = yield* deadChosen(ns, key, given, limit);
      const deduped = rows.filter((row) => row.dedup !== null);
      const held = new Set<string>();
      if (deduped.length > 0) {
        const pairs = sql.dedupHeld.rows.params(deduped.map((row) => [key, row.dedup]));
        for (const holder of yield* all(sql.dedupHeld.sql, [...pairs, ns])) held.add(holder.dedup as string);
      }
      const skipped: number[] = [];
      const revived: number[] = [];
      for (const row of rows) {
        const dedup = row.dedup as string | null;
        if (dedup !== null && held.has(dedup)) {
          skipped.push(Number(row.id));
          continue;
        }
        if (dedup !== null) held.add(dedup); // two dead items of one dedup key: the first (by id) comes back
        revived.push(Number(row.id));
      }
      if (revived.length > 0) yield* run(sql.requeue.sql, [now, ns, key, ...sql.requeue.rows.params(revived.map((id) => [id]))]);
      return { requeued: revived.length, skipped, more };
    },

    *workPurge(ns, key, given, limit) {
      const { rows, more } = yield* deadChosen(ns, key, given, limit);
      if (rows.length > 0) yield* run(sql.purge.sql, [ns, key, ...sql.purge.rows.params(rows.map((row) => [Number(row.id)]))]);
      return { purged: rows.length, more };
    },

    *workDump(ns, after, limit) {
      const rows = after === null ? yield* all(sql.dump, [ns, limit]) : yield* all(sql.dumpAfter, [ns, after.key, after.id, limit]);
      return rows.map(workRowOf);
    },

    *workLastId(ns) {
      return num(yield* get(sql.lastId, [ns]), "value");
    },

    *workRestore(ns, rows, lastId) {
      checkRestoreRows(ns, rows);
      let top = lastId;
      for (const row of rows) top = Math.max(top, row.id);
      if (rows.length === 0 && top === 0) return;
      // The counter first: it locks the namespace's pushes (PostgreSQL), so none takes an id while this checks them.
      const counter = num(yield* get(COUNTER_TAKE, [ns, "work"]), "value");
      if (rows.length > 0) {
        // Only an id the counter handed out can be held (the counter is never behind the ids: see sql-invariants).
        const suspects = rows.filter((row) => row.id <= counter);
        if (suspects.length > 0) {
          const [taken] = yield* all(sql.taken.sql, [...sql.taken.rows.params(suspects.map((row) => [row.key, row.id])), ns]);
          if (taken !== undefined) throw restoreRefused(ns, taken.key as string, Number(taken.id), "its queue key holds an item with that id");
        }
        const deduped = rows.filter((row): row is StoredWorkRow & { dedup: string } => !row.dead && row.dedup !== null);
        if (deduped.length > 0) {
          const [holder] = yield* all(sql.dedupHeld.sql, [...sql.dedupHeld.rows.params(deduped.map((row) => [row.key, row.dedup])), ns]);
          if (holder !== undefined) {
            throw restoreRefused(ns, holder.key as string, Number(holder.id), `it holds dedup key ${JSON.stringify(holder.dedup)}, which a restored live item has`);
          }
        }
        const values = rows.map((row) => [
          row.key,
          row.id,
          row.dead ? 1 : 0,
          row.priority,
          row.visibleAt,
          row.attempts,
          row.maxAttempts,
          row.token,
          row.policy,
          row.dedup,
          row.lastError,
          row.deadAt,
          row.pushedAt,
          row.value,
        ]);
        yield* run(sql.restore.sql, [ns, ...sql.restore.rows.params(values)]);
      }
      if (top > counter) yield* run(COUNTER_SET, [top, ns, "work"]);
    },
  };
}
