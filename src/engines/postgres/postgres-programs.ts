import type { StoredStreamRecord } from "../engine.js";
import type { QueueBound } from "../queue-bound.js";
import { itemsToDrop } from "../queue-bound.js";
import { checkHistoryRoom } from "../history-limit.js";
import { SINGLE_STATEMENT_OPS, sqlPrograms, type KeyList } from "../sql/sql-ops.js";
import { all, run, value, type SqlProgram, type SqlPrograms } from "../sql/sql-program.js";
import { ARRAY_ROW_SET } from "../sql/sql-row-set.js";
import { PG_SCHEMA_VERSION } from "./postgres-schema.js";

/** One log append of a batch. */
export interface AppendItem {
  key: string;
  value: Uint8Array;
  now: number;
}

/** One queue push of a batch. */
export interface PushItem extends AppendItem {
  bound: QueueBound;
}

/**
 * Appends a batch to one namespace's log in one statement: the counter upsert, in a data-modifying CTE, takes as
 * many sequences as there are entries and feeds the insert. Its row lock serialises the namespace's appends, so
 * sequences follow commit order, and is held only for this statement.
 */
const LOG_APPEND = `WITH c AS (
  INSERT INTO stowage_counter AS c (ns, kind, value) VALUES (?, 'log', ?)
  ON CONFLICT (ns, kind) DO UPDATE SET value = c.value + excluded.value RETURNING value)
INSERT INTO stowage_log (ns, seq, key, value, ts)
SELECT ?, c.value - ? + e.ord, e.key, e.value, e.ts FROM c, unnest(?::text[], ?::bytea[], ?::bigint[]) WITH ORDINALITY AS e(key, value, ts, ord)
RETURNING seq`;

/** One KV put of a batch. */
export interface PutItem {
  key: string;
  value: Uint8Array;
  expiresAt: number | null;
}

/**
 * Puts a batch to one namespace in one statement, rows in the batch's order (so that a history namespace's change
 * records, written by row triggers, follow it). A statement can write a key only once, so a batch holds distinct keys.
 */
const KV_PUT = `INSERT INTO stowage_kv (ns, key, value, expires_at)
SELECT ?, e.key, e.value, e.expires_at FROM unnest(?::text[], ?::bytea[], ?::bigint[]) WITH ORDINALITY AS e(key, value, expires_at, ord) ORDER BY e.ord
ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`;

const KV_PUT_ONE =
  "INSERT INTO stowage_kv (ns, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";

/** The batch split where a key repeats: each part has distinct keys (ON CONFLICT cannot update a row twice in one statement). */
export function distinctKeyParts<I extends { key: string }>(items: readonly I[]): I[][] {
  const parts: I[][] = [];
  let part: I[] = [];
  let keys = new Set<string>();
  for (const item of items) {
    if (keys.has(item.key)) {
      parts.push(part);
      part = [];
      keys = new Set<string>();
    }
    part.push(item);
    keys.add(item.key);
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/** The puts of a batch, one statement per part of distinct keys (the engine runs several parts in one transaction). */
export function* kvPutBatch(ns: string, items: readonly PutItem[]): SqlProgram<void[]> {
  for (const part of distinctKeyParts(items)) {
    const [only] = part;
    // One put alone (the common case at low load) takes the plain statement: cheaper to run than the unnest.
    if (part.length === 1 && only !== undefined) yield* run(KV_PUT_ONE, [ns, only.key, only.value, only.expiresAt]);
    else yield* run(KV_PUT, [ns, part.map((i) => i.key), part.map((i) => i.value), part.map((i) => i.expiresAt)]);
  }
  return items.map(() => undefined);
}

/** See `stowage_queue_push` in the schema: a bound check needs a fresh snapshot after the lock, which a CTE lacks. */
const QUEUE_PUSH = "SELECT stowage_queue_push(?, ?::text[], ?::bytea[], ?::bigint[], ?::bigint[], ?::boolean[]) AS ids";

/** The sequences of a batch of appends, in the batch's order. */
export function* logAppendBatch(ns: string, items: readonly AppendItem[]): SqlProgram<number[]> {
  const n = items.length;
  const rows = yield* all(LOG_APPEND, [ns, n, ns, n, items.map((i) => i.key), items.map((i) => i.value), items.map((i) => i.now)]);
  // The sequences are consecutive in the batch's order; RETURNING does not promise an order, so sort.
  return rows.map((row) => Number(row.seq)).sort((a, b) => a - b);
}

/** Per push of a batch, in order: its id, or minus its queue's length when the queue refused it (see `pushResult`). */
export function* queuePushBatch(ns: string, items: readonly PushItem[]): SqlProgram<number[]> {
  const ids = yield* value(QUEUE_PUSH, [
    ns,
    items.map((i) => i.key),
    items.map((i) => i.value),
    items.map((i) => i.now),
    items.map((i) => i.bound.maxLen),
    items.map((i) => i.bound.overflow === "reject"),
  ]);
  return (ids as unknown[]).map(Number);
}

/** A push's id from its batch result; a refused push throws the same LIMIT_EXCEEDED as on every engine. */
export function pushResult(ns: string, item: PushItem, result: number): number {
  if (result < 0) itemsToDrop(ns, item.key, -result, item.bound);
  return result;
}

/** A produce's entries in one statement: the records travel as arrays and come back as rows WITH ORDINALITY. */
const STREAM_INSERT = `INSERT INTO stowage_stream (ns, space, segment, seq, ts, value, headers, compression)
SELECT ?, ?, ?, ? + e.ord, ?, e.value, e.headers, e.compression
FROM unnest(?::bytea[], ?::text[], ?::text[]) WITH ORDINALITY AS e(value, headers, compression, ord)`;

function* insertStreamEntries(ns: string, space: string, segment: string, before: number, ts: number, records: readonly StoredStreamRecord[]): SqlProgram<void> {
  yield* run(STREAM_INSERT, [
    ns,
    space,
    segment,
    before,
    ts,
    records.map((r) => r.value),
    records.map((r) => r.headers),
    records.map((r) => r.compression),
  ]);
}

/**
 * A KV delete in a namespace with history takes the namespace's advisory lock before any row lock, as a put does in
 * its BEFORE INSERT trigger (a BEFORE DELETE trigger runs only after the row is locked): with the opposite order, a
 * transaction that put a key and a delete of it would deadlock. An uncorrelated subquery, so PostgreSQL evaluates it
 * once, as a one-time filter ahead of the scan; it takes no lock in a namespace without history.
 */
const KV_LOCK_FIRST = " AND (SELECT count(*) FROM stowage_kv_history h WHERE h.ns = ? AND stowage_kv_history_lock(h.ns) IS NULL) >= 0";

/** The keys as a text array. */
const ARRAY_KEY_LIST: KeyList = { sql: "SELECT unnest(?::text[])", param: (keys) => [...keys] };

/**
 * The shared SQL programs with PostgreSQL's one-statement append and push (batches of one), produce and history
 * turn-on. On SQLite the multi-statement programs cost nothing extra (the statements run in process); on PostgreSQL
 * each statement is a round trip, and a transaction around several would keep the namespace's counter row locked
 * across all of them.
 */
export const POSTGRES_PROGRAMS: SqlPrograms = {
  ...sqlPrograms(PG_SCHEMA_VERSION, { insertStreamEntries, keyList: ARRAY_KEY_LIST, kvLockFirst: KV_LOCK_FIRST, rowSet: ARRAY_ROW_SET }),

  *kvHistoryStart(ns, maxNamespaces) {
    // One function call: turning history on rewrites the recording triggers under a lock (see the schema). It
    // answers the count of namespaces with history instead when there is no room for one more.
    const state = (yield* value("SELECT stowage_kv_history_start(?, ?) AS state", [ns, maxNamespaces])) as unknown[];
    if (state.length === 1) checkHistoryRoom(ns, Number(state[0]), maxNamespaces);
    return { lastSeq: Number(state[0]), trimmedThrough: Number(state[1]) };
  },

  *logAppend(ns, key, bytes, now) {
    const [seq] = yield* logAppendBatch(ns, [{ key, value: bytes, now }]);
    return seq as number;
  },

  *queuePush(ns, key, bytes, now, bound) {
    const item = { key, value: bytes, now, bound };
    const [result] = yield* queuePushBatch(ns, [item]);
    return pushResult(ns, item, result as number);
  },
};

/** The operations that are one statement on PostgreSQL: the shared ones, plus append and push. */
export const POSTGRES_SINGLE_STATEMENT_OPS: ReadonlySet<keyof SqlPrograms> = new Set<keyof SqlPrograms>([
  ...SINGLE_STATEMENT_OPS,
  "logAppend",
  "queuePush",
  "kvHistoryStart",
]);
