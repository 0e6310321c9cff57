/**
 * PostgreSQL's plain work calls (those outside `store.transaction`): claims, settles and extends at READ COMMITTED on
 * the engine's work pool, and pushes: one statement there, or the shared SERIALIZABLE program for pushes with dedup keys;
 * concurrent calls that can share a statement do.
 *
 * Why READ COMMITTED: at SERIALIZABLE a claimer whose snapshot predates another claimer's commit of the head row fails
 * with a serialization failure (it locks a row updated after its snapshot), so concurrent claimers mostly rerun
 * (bench/results/2026-12-03-work-pg-isolation.md). At READ COMMITTED a claim is one statement with
 * `FOR UPDATE SKIP LOCKED`: a row another claim holds is skipped, and a row another claim changed and committed is
 * re-checked on its newest version (PostgreSQL's EvalPlanQual), so it drops out unless it is still claimable. Settles
 * and extends match rows by id, token and attempts, re-checked the same way on the newest version, or lock them first.
 * So one live lease per item holds, and each call is linearizable for the items it hands out and settles.
 *
 * Inside a transaction the shared programs run at SERIALIZABLE: a transaction that claims or settles meets the plain
 * calls on the row locks (it waits for a plain claim's commit, then fails with a serialization failure and reruns;
 * a plain claim skips a row the transaction locked). Only a transaction's reads of work state (`counts`, `dead`) are
 * not ordered by SSI against plain claims, which take no predicate locks.
 */
import type { WorkPushed } from "../../api/types.js";
import type { EngineOps, LeaseRef, StoredClaim, StoredSettle, StoredWorkPush, WorkSettled } from "../engine.js";
import { KeyedBatcher, type BatchLimits } from "../keyed-batcher.js";
import type { SqlRow } from "../sql/sql-executor.js";
import { all, runAsync, type SqlProgram } from "../sql/sql-program.js";
import { ARRAY_ROW_SET } from "../sql/sql-row-set.js";
import { CLAIM_ROUNDS, claimOf, COUNTER_ADD, workPrograms } from "../sql/sql-work.js";
import { isSerializationFailure } from "../transaction-failure.js";
import { ATTEMPTS_USED_UP_ERROR, LEASE_EXPIRED_ERROR } from "../work-rules.js";
import type { PostgresExecutor } from "./postgres-executor.js";
import { POSTGRES_PROGRAMS } from "./postgres-programs.js";

/** The work ops this module serves outside transactions; the others run as the shared programs. */
export type PlainWorkOps = Pick<EngineOps, "workPush" | "workClaim" | "workSettle" | "workExtend">;

/** What the plain work calls need of the engine. */
export interface WorkConnections {
  /** Statements on the work pool (READ COMMITTED), which opens at its first use. */
  workExec(): PostgresExecutor;
  /** `use` in one READ COMMITTED transaction on the work pool. */
  workTransaction<T>(use: (exec: PostgresExecutor) => Promise<T>): Promise<T>;
  /** `use` in one SERIALIZABLE transaction on the engine's pool. */
  serializableTransaction<T>(use: (exec: PostgresExecutor) => Promise<T>): Promise<T>;
  mapError(error: unknown): Error;
}

/**
 * A claim in one statement: the head's claimable rows, skipping rows other claims hold, are locked; those over their
 * claim limit are dead-lettered (with the error text `overLimitError` gives), the rest leased. The answer has one row even
 * when nothing was leased, carrying how many were dead-lettered (then the claim runs again to fill its limit).
 * `FOR UPDATE` forbids ordering the answer, so the caller sorts it.
 *
 * The updates find the locked rows by their physical address (ctid: a row this statement locked cannot move until it
 * commits; the lock step hands out the newest version), a TID scan whatever the planner believes of the table. Joined
 * by (ns, key, id) instead, a table without statistics (a new one: autovacuum analyzes it a minute later at the
 * earliest) made the planner scan every row of the key, dead versions included, for each claim.
 */
const CLAIM = `WITH c AS (SELECT ctid AS at, id, visible_at, attempts, max_attempts, token, last_error FROM stowage_work
  WHERE ns = ? AND key = ? AND NOT dead AND visible_at <= ? ORDER BY priority DESC, visible_at, id LIMIT ? FOR UPDATE SKIP LOCKED),
gone AS (UPDATE stowage_work w SET dead = true, token = NULL, dead_at = ?,
    last_error = CASE WHEN c.token IS NOT NULL THEN ?::text ELSE coalesce(c.last_error, ?::text) END
  FROM c WHERE w.ctid = ANY(ARRAY(SELECT at FROM c WHERE attempts >= max_attempts)) AND w.ctid = c.at AND w.id = c.id RETURNING w.id),
got AS (UPDATE stowage_work w SET token = ?, visible_at = ?, attempts = w.attempts + 1
  FROM c WHERE w.ctid = ANY(ARRAY(SELECT at FROM c WHERE attempts < max_attempts)) AND w.ctid = c.at AND w.id = c.id
  RETURNING w.id, w.value, w.pushed_at, w.priority, w.attempts, w.max_attempts, w.policy, w.last_error, c.visible_at AS was)
SELECT got.*, b.buried FROM (SELECT count(*) AS buried FROM gone) b LEFT JOIN got ON true`;

/**
 * Acks in one statement: a row goes only while it holds the lease (checked again on its newest version).
 *
 * Acks and extends match a lease by (key, id, token, attempts), each a primary-key probe. They need no `NOT dead`: only
 * a live item holds a token (a checked invariant, sql-invariants.ts), and that condition would let the planner pick the
 * claim index's partial scan of the whole namespace instead of the probes when the table has no statistics.
 */
const ACK = `DELETE FROM stowage_work w USING unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[]) AS e(key, id, token, attempt)
WHERE w.ns = ? AND w.key = e.key AND w.id = e.id AND w.token = e.token AND w.attempts = e.attempt
RETURNING w.key, w.id, w.token, w.attempts`;

/** Extends in one statement, each lease to its own deadline. */
const EXTEND = `UPDATE stowage_work w SET visible_at = e.deadline
FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) AS e(key, id, token, attempt, deadline)
WHERE w.ns = ? AND w.key = e.key AND w.id = e.id AND w.token = e.token AND w.attempts = e.attempt
RETURNING w.key, w.id, w.token, w.attempts`;

/**
 * Pushes without dedup keys in one statement: the counter upsert, in a data-modifying CTE, takes as many ids as there
 * are items and feeds the insert (as a log append does). Its row lock orders the namespace's pushes, so ids follow
 * commit order; nothing else is read, so READ COMMITTED loses nothing.
 */
const PUSH = `WITH c AS (${COUNTER_ADD})
INSERT INTO stowage_work (ns, key, id, dead, priority, visible_at, attempts, max_attempts, token, policy, dedup, last_error, dead_at, pushed_at, value)
SELECT ?, e.key, c.value - ? + e.ord, false, e.priority, e.visible_at, 0, e.max_attempts, NULL, e.policy, NULL, NULL, NULL, ?, e.value
FROM c, unnest(?::text[], ?::int[], ?::bigint[], ?::int[], ?::text[], ?::bytea[]) WITH ORDINALITY AS e(key, priority, visible_at, max_attempts, policy, value, ord)
RETURNING id`;

export function* pushPlain(ns: string, items: readonly StoredWorkPush[], now: number): SqlProgram<WorkPushed[]> {
  const n = items.length;
  const columns = [items.map((i) => i.key), items.map((i) => i.priority), items.map((i) => i.visibleAt), items.map((i) => i.maxAttempts), items.map((i) => i.policy), items.map((i) => i.value)];
  const rows = yield* all(PUSH, [ns, n, ns, n, now, ...columns]);
  // The ids are consecutive in the items' order; RETURNING does not promise an order, so sort.
  return rows.map((row) => Number(row.id)).sort((a, b) => a - b).map((id) => ({ id, duplicate: false }));
}

/** Settles other than plain acks: the shared program, reading the current leases under row locks. */
export const LOCKING_PROGRAMS = workPrograms(ARRAY_ROW_SET, { lockSettled: true });

/**
 * How many statements of one kind (claims of one queue key, settles or extends of one namespace) run at once, and how
 * calls fill them: a call joins the first lane holding fewer than {@link LANE_FILL} calls (running or waiting), so
 * calls coalesce into one statement while that lane keeps up, and a second statement runs only when calls pile up.
 * Claims skip each other's locked rows, so lanes add parallelism without conflicts. Measured at 16 workers on one key
 * (bench/work-cycle.ts, pg_stat_statements): lanes dealt in turn ran ~1.1 calls per claim or ack statement, 2
 * statements and commits per job; filled first, ~2.7 calls per claim or ack statement, 1 statement and commit per job.
 */
const LANES = 4;
const LANE_FILL = 8;

/** Deals calls to the lanes of a key (see {@link LANES}), counting each lane's calls until they settle. */
function laneDealer(): <R>(key: string, submit: (lane: string) => Promise<R>) => Promise<R> {
  const held = new Map<string, number>();
  return (key, submit) => {
    let lane = `${key}\u00000`;
    let fewest = Infinity;
    for (let i = 0; i < LANES; i++) {
      const candidate = `${key}\u0000${i}`;
      const count = held.get(candidate) ?? 0;
      if (count < LANE_FILL) {
        lane = candidate;
        break;
      }
      if (count < fewest) [lane, fewest] = [candidate, count];
    }
    held.set(lane, (held.get(lane) ?? 0) + 1);
    const release = (): void => {
      const left = (held.get(lane) as number) - 1;
      if (left === 0) held.delete(lane);
      else held.set(lane, left);
    };
    const answer = submit(lane);
    answer.then(release, release);
    return answer;
  };
}

/** Coalesced calls: most callers per statement, and about the most weight (claimed items, pushed bytes). */
const CLAIM_LIMITS: BatchLimits = { maxItems: 64, maxBytes: 1_024 };
const CALL_LIMITS: BatchLimits = { maxItems: 256, maxBytes: 1024 * 1024 };

const leaseSlot = (key: unknown, id: unknown, token: unknown, attempt: unknown): string => `${String(key)}\u0000${Number(id)}\u0000${Number(token)}\u0000${Number(attempt)}`;
const slotOfRow = (row: SqlRow): string => leaseSlot(row.key, row.id, row.token, row.attempts);
const slotOfRef = (ref: LeaseRef): string => leaseSlot(ref.key, ref.id, ref.token, ref.attempt);

/** Claim order: priority (high first), then visible time before the claim, then id. */
const byClaimOrder = (a: SqlRow, b: SqlRow): number =>
  Number(b.priority) - Number(a.priority) || Number(a.was) - Number(b.was) || Number(a.id) - Number(b.id);

/** Leases up to `limit` claimable items of the key, dead-lettering over-limit ones it meets (a few rounds at most). */
export function* claimRows(ns: string, key: string, limit: number, now: number, deadline: number, token: number): SqlProgram<SqlRow[]> {
  const rows: SqlRow[] = [];
  for (let round = 0; round < CLAIM_ROUNDS && rows.length < limit; round++) {
    const params = [ns, key, now, limit - rows.length, now, LEASE_EXPIRED_ERROR, ATTEMPTS_USED_UP_ERROR, token, deadline];
    const answer = yield* all(CLAIM, params);
    for (const row of answer) if (row.id !== null) rows.push(row);
    // Nothing dead-lettered: the limit was met, or the key has no more claimable rows this claim may take.
    if (Number(answer[0]?.buried ?? 0) === 0) break;
  }
  return rows.sort(byClaimOrder);
}

/**
 * Per lease, whether the rows a statement answered (key, id, token, attempts) hold it. `once`: a lease given twice
 * counts only the first time (the first ack ends it; an extend of it twice extends it twice).
 */
function currentOf(refs: readonly LeaseRef[], rows: readonly SqlRow[], once: boolean): boolean[] {
  const current = new Set(rows.map(slotOfRow));
  return refs.map((ref) => (once ? current.delete(slotOfRef(ref)) : current.has(slotOfRef(ref))));
}

/** Leases as unnest arrays, in key and id order so that two statements lock shared rows in one order. */
function leaseArrays(refs: readonly LeaseRef[], extra?: (ref: LeaseRef) => number): unknown[] {
  const sorted = [...refs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id - b.id));
  const arrays: unknown[] = [sorted.map((r) => r.key), sorted.map((r) => r.id), sorted.map((r) => r.token), sorted.map((r) => r.attempt)];
  if (extra !== undefined) arrays.push(sorted.map(extra));
  return arrays;
}

/** One call's answer, or its own error. */
type Outcome<R> = { value: R } | { error: unknown };

const unwrap = <R>(outcome: Outcome<R>): R => {
  if ("error" in outcome) throw outcome.error;
  return outcome.value;
};

/**
 * Runs several callers' lists as one (`run` answers one result per element) and hands each its part. When the shared
 * run fails, each caller's list runs alone, so that an error (a refused push, bad input) reaches only the caller whose
 * list caused it; a serialization failure reaches all of them, and each caller's retry submits again.
 */
async function concatenated<I, R>(lists: ReadonlyArray<readonly I[]>, run: (items: I[]) => Promise<R[]>): Promise<Array<Outcome<R[]>>> {
  try {
    const results = await run(lists.flat());
    let at = 0;
    return lists.map((list) => ({ value: results.slice(at, (at += list.length)) }));
  } catch (error) {
    if (lists.length === 1 || isSerializationFailure(error)) throw error;
    const outcomes: Array<Outcome<R[]>> = [];
    for (const list of lists) {
      try {
        outcomes.push({ value: await run([...list]) });
      } catch (own) {
        outcomes.push({ error: own });
      }
    }
    return outcomes;
  }
}

interface ClaimCall {
  ns: string;
  key: string;
  limit: number;
  now: number;
  deadline: number;
  token: number;
}

interface ListCall<I> {
  items: readonly I[];
  now: number;
}

/** A call dealt to a lane: the batch key is not its namespace. */
interface InNamespace {
  ns: string;
}

interface ExtendCall extends InNamespace {
  items: readonly LeaseRef[];
  deadline: number;
}

const latest = (calls: ReadonlyArray<{ now: number }>): number => Math.max(...calls.map((call) => call.now));

/**
 * The plain work ops. Concurrent calls share a statement: pushes and settles and extends of one namespace, and claims
 * of one (namespace, key, lease length): one claim of the sum of their limits at the latest caller's time, its items
 * handed out in claim order (the first caller gets the first ones), each with the shared claim's token and deadline.
 */
export function plainWorkOps(db: WorkConnections): PlainWorkOps {
  const onWorkPool = <T>(program: SqlProgram<T>): Promise<T> => runAsync(program, db.workExec(), db.mapError);

  const claims = new KeyedBatcher<ClaimCall, StoredClaim[]>(
    async (_, calls) => {
      const first = calls[0] as ClaimCall;
      const total = calls.reduce((sum, call) => sum + call.limit, 0);
      const deadline = Math.max(...calls.map((call) => call.deadline));
      const rows = await onWorkPool(claimRows(first.ns, first.key, total, latest(calls), deadline, first.token));
      let at = 0;
      return calls.map((call) => rows.slice(at, (at += call.limit)).map((row) => claimOf(row, first.token, deadline)));
    },
    (call) => call.limit,
    CLAIM_LIMITS,
  );

  const settleAll = (ns: string, settles: StoredSettle[], now: number): Promise<Array<WorkSettled | null>> => {
    if (settles.every((settle) => settle.to === "ack")) {
      return onWorkPool(all(ACK, [...leaseArrays(settles), ns])).then((rows) =>
        currentOf(settles, rows, true).map((acked) => (acked ? { dead: false, visibleAt: null } : null)),
      );
    }
    return db.workTransaction((exec) => runAsync(LOCKING_PROGRAMS.workSettle(ns, settles, now), exec, db.mapError));
  };
  const settles = new KeyedBatcher<ListCall<StoredSettle> & InNamespace, Outcome<Array<WorkSettled | null>>>(
    (_, calls) => concatenated(calls.map((call) => call.items), (items) => settleAll((calls[0] as InNamespace).ns, items, latest(calls))),
    (call) => call.items.length,
    CALL_LIMITS,
  );

  const extensions = new KeyedBatcher<ExtendCall, boolean[]>(
    async (_, calls) => {
      const ns = (calls[0] as ExtendCall).ns;
      const refs = calls.flatMap((call) => call.items.map((ref) => ({ ...ref, deadline: call.deadline })));
      const rows = await onWorkPool(all(EXTEND, [...leaseArrays(refs, (ref) => (ref as LeaseRef & { deadline: number }).deadline), ns]));
      const current = currentOf(refs, rows, false);
      let at = 0;
      return calls.map((call) => current.slice(at, (at += call.items.length)));
    },
    (call) => call.items.length,
    CALL_LIMITS,
  );

  // Pushes of a namespace take turns on its counter row anyway. Those with dedup keys run the shared program at
  // SERIALIZABLE, so that a dedup check and the insert it allows are one atomic step against other processes' pushes.
  const pushAll = (ns: string, items: StoredWorkPush[], now: number): Promise<WorkPushed[]> =>
    items.every((item) => item.dedup === null)
      ? onWorkPool(pushPlain(ns, items, now))
      : db.serializableTransaction((exec) => runAsync(POSTGRES_PROGRAMS.workPush(ns, items, now), exec, db.mapError));
  const pushes = new KeyedBatcher<ListCall<StoredWorkPush>, Outcome<WorkPushed[]>>(
    (ns, calls) => concatenated(calls.map((call) => call.items), (items) => pushAll(ns, items, latest(calls))),
    (call) => call.items.reduce((bytes, item) => bytes + item.value.byteLength + item.key.length + 64, 0),
    CALL_LIMITS,
  );

  const claimLane = laneDealer();
  const settleLane = laneDealer();
  const extendLane = laneDealer();
  return {
    workClaim: (ns, key, limit, now, deadline, token) =>
      claimLane(`${ns}\u0000${key}\u0000${deadline - now}`, (lane) => claims.submit(lane, { ns, key, limit, now, deadline, token })),
    workSettle: async (ns, items, now) => unwrap(await settleLane(ns, (lane) => settles.submit(lane, { ns, items, now }))),
    workExtend: (ns, items, deadline) => extendLane(ns, (lane) => extensions.submit(lane, { ns, items, deadline })),
    workPush: async (ns, items, now) => unwrap(await pushes.submit(ns, { items, now })),
  };
}
