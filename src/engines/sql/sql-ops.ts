import type { KeyRange } from "../../api/range.js";
import type { NamespaceInfo } from "../../api/types.js";
import type { StoredKv, StoredKvEntry, StoredSlot, StoredStreamEntry, StoredStreamRecord } from "../engine.js";
import { checkLogRestore, checkQueueRestoreIds, checkStreamRestore, lastRowPerKey, queueIdTaken } from "../restore-checks.js";
import { checkExpectedSeq } from "../stream-expectation.js";
import { checkHistoryRoom } from "../history-limit.js";
import { OP_FACTS, OP_NAMES } from "../engine-calls.js";
import { itemsToDrop } from "../queue-bound.js";
import type { SqlRow } from "./sql-executor.js";
import { all, get, run, statement, type SqlProgram, type SqlPrograms } from "./sql-program.js";
import { JSON_ROW_SET, type RowSetDialect } from "./sql-row-set.js";
import { bytesOf, COUNTER_SET, COUNTER_TAKE, num } from "./sql-values.js";
import { workPrograms, type WorkProgramOptions } from "./sql-work.js";

/** A point read's one-statement program. */
function pointRead<T>(read: { kind: "value" | "get"; sql: string; finish: (result: unknown) => T }, params: readonly unknown[]) {
  return statement(read.kind, read.sql, params, read.finish);
}

/** What the point reads make of their one statement's result (made once: they run on every get). */
const kvValueOf = (stored: unknown): Uint8Array | undefined => (stored === undefined ? undefined : bytesOf(stored));
const kvEntryOf = (result: unknown): StoredKvEntry | undefined => {
  const row = result as SqlRow | undefined;
  return row === undefined ? undefined : { value: bytesOf(row.value), expiresAt: row.expires_at === null ? null : Number(row.expires_at) };
};
const slotOf = (result: unknown): StoredSlot | undefined => {
  const row = result as SqlRow | undefined;
  return row === undefined ? undefined : { version: Number(row.version), value: bytesOf(row.value) };
};

const LIVE = "(expires_at IS NULL OR expires_at > ?)";
const LIVE_FLAG = `CASE WHEN ${LIVE} THEN 1 ELSE 0 END`;

/*
 * Statement texts are built once. The executors cache prepared statements by their text, and a text assembled per
 * call is a fresh string that the cache must hash and compare in full (measured: ~0.7 µs of a 5 µs SQLite get).
 */
const KV_GET = `SELECT value FROM stowage_kv WHERE ns = ? AND key = ? AND ${LIVE}`;
const KV_GET_ENTRY = `SELECT value, expires_at FROM stowage_kv WHERE ns = ? AND key = ? AND ${LIVE}`;
const SLOT_GET = "SELECT version, value FROM stowage_slot WHERE ns = ? AND key = ?";
const DESCRIBE_KV = `SELECT ns, count(*) AS stored, sum(${LIVE_FLAG}) AS live FROM stowage_kv GROUP BY ns`;
/** A log or queue namespace is listed while its counter is above 0 too: a queue whose items were all acknowledged keeps its last id, which a dump carries. */
const countedWithCounter = (table: string, kind: "log" | "queue" | "work") =>
  `SELECT ns, sum(n) AS n FROM (SELECT ns, count(*) AS n FROM ${table} GROUP BY ns UNION ALL SELECT ns, 0 AS n FROM stowage_counter WHERE kind = '${kind}' AND value > 0) c GROUP BY ns`;
const DESCRIBE_COUNT = {
  log: countedWithCounter("stowage_log", "log"),
  slot: "SELECT ns, count(*) AS n FROM stowage_slot GROUP BY ns",
  queue: countedWithCounter("stowage_queue", "queue"),
  stream: "SELECT ns, count(*) AS n FROM stowage_stream GROUP BY ns",
  work: countedWithCounter("stowage_work", "work"),
} as const;
/** Takes a segment's row, creating it empty: an upsert, so that it locks the row on PostgreSQL. */
const SEGMENT_TAKE =
  "INSERT INTO stowage_stream_segment (ns, space, segment, last_seq, last_ts, count) VALUES (?, ?, ?, 0, 0, 0) ON CONFLICT (ns, space, segment) DO UPDATE SET last_seq = stowage_stream_segment.last_seq RETURNING last_seq, last_ts, count";
/** Sets a segment's row (its last sequence and time, its count) after entries were added. */
const SEGMENT_SET = "UPDATE stowage_stream_segment SET last_seq = ?, last_ts = ?, count = ? WHERE ns = ? AND space = ? AND segment = ?";
const SPACE_READ = "SELECT segment, seq, ts, value, headers, compression FROM stowage_stream WHERE ns = ? AND space = ? AND ts >= ?";

const entryOf = (row: SqlRow): StoredStreamEntry => ({
  seq: Number(row.seq),
  timestamp: Number(row.ts),
  value: bytesOf(row.value),
  headers: (row.headers as string | null) ?? null,
  compression: (row.compression as string | null) ?? null,
});
/** A KV delete; `lockFirst` is the dialect's {@link SqlDialect.kvLockFirst} (its one parameter: the namespace). */
const kvDeleteSql = (lockFirst: string) => `DELETE FROM stowage_kv WHERE ns = ? AND key = ?${lockFirst} RETURNING ${LIVE_FLAG} AS live`;

/** Memoises statement texts that vary with a few flags, so each variant is one string built once. */
function variants(build: (flags: number) => string): (flags: number) => string {
  const built: string[] = [];
  return (flags) => (built[flags] ??= build(flags));
}

const LOWER = 1;
const LOWER_INCLUSIVE = 2;
const UPPER = 4;
const REVERSE = 8;
const KEYS_ONLY = 16;

/** The WHERE clause of a key range as flags, and its parameters in order. */
function rangeOf(range: KeyRange): [number, unknown[]] {
  let flags = 0;
  const params: unknown[] = [];
  if (range.lower !== undefined) {
    flags |= LOWER | (range.lowerInclusive ? LOWER_INCLUSIVE : 0);
    params.push(range.lower);
  }
  if (range.upper !== undefined) {
    flags |= UPPER;
    params.push(range.upper);
  }
  return [flags, params];
}

function whereOf(flags: number): string {
  const lower = flags & LOWER ? (flags & LOWER_INCLUSIVE ? " AND key >= ?" : " AND key > ?") : "";
  return `ns = ?${lower}${flags & UPPER ? " AND key < ?" : ""}`;
}

const scanSql = variants(
  (f) => `SELECT ${f & KEYS_ONLY ? "key" : "key, value"} FROM stowage_kv WHERE ${whereOf(f)} AND ${LIVE} ORDER BY key ${f & REVERSE ? "DESC" : "ASC"} LIMIT ?`,
);
const countSql = variants((f) => `SELECT count(*) AS n FROM stowage_kv WHERE ${whereOf(f)} AND ${LIVE}`);
const deleteRangeSql = (lockFirst: string) => variants((f) => `DELETE FROM stowage_kv WHERE ${whereOf(f)}${lockFirst} RETURNING ${LIVE_FLAG} AS live`);
/**
 * The sweep's removal. The outer condition checks the deadline again: a row re-put without TTL after the subquery
 * chose it is not expired any more, and a database that re-checks a changed row (PostgreSQL) re-checks it here.
 */
const sweepSql = (lockFirst: string) =>
  `DELETE FROM stowage_kv WHERE (ns, key) IN (SELECT ns, key FROM stowage_kv WHERE ns = ? AND expires_at IS NOT NULL AND expires_at <= ? LIMIT ?) AND expires_at IS NOT NULL AND expires_at <= ?${lockFirst}`;

/** Takes the next number of a namespace's counter; the row stays locked to the end of the transaction. */
function* nextCounter(ns: string, kind: "log" | "queue"): SqlProgram<number> {
  const row = yield* get(
    "INSERT INTO stowage_counter (ns, kind, value) VALUES (?, ?, 1) ON CONFLICT (ns, kind) DO UPDATE SET value = stowage_counter.value + 1 RETURNING value",
    [ns, kind],
  );
  return num(row, "value");
}

/** A queue key's length, kept by triggers on stowage_queue (schema version 2): one lookup, whatever the length. */
function* queueLen(ns: string, key: string): SqlProgram<number> {
  return num(yield* get("SELECT len FROM stowage_queue_len WHERE ns = ? AND key = ?", [ns, key]), "len");
}

function* queueDropOldest(ns: string, key: string, count: number): SqlProgram<number> {
  return yield* run(
    "DELETE FROM stowage_queue WHERE ns = ? AND key = ? AND id IN (SELECT id FROM stowage_queue WHERE ns = ? AND key = ? ORDER BY id LIMIT ?)",
    [ns, key, ns, key, count],
  );
}

/**
 * The operations whose program is exactly one statement, so atomic without an explicit transaction: an engine may run
 * them as a single autocommit statement (one round trip instead of BEGIN, statement, COMMIT). Checked by a test that
 * counts each program's statements.
 */
export const SINGLE_STATEMENT_OPS: ReadonlySet<keyof SqlPrograms> = new Set<keyof SqlPrograms>([
  "kvPut",
  "kvRestore",
  "slotRestore",
  "kvDelete",
  "kvDeleteRange",
  "slotUpsert",
  "slotCas",
  "queueAck",
  "queueDropOldest",
  "workExtend",
]);

/** Inserts a produce's entries with sequences from `before + 1`, all at `ts`. */
export type StreamInsert = (
  ns: string,
  space: string,
  segment: string,
  before: number,
  ts: number,
  records: readonly StoredStreamRecord[],
) => SqlProgram<void>;

const HISTORY_STATE = "SELECT last_seq, trimmed FROM stowage_kv_history WHERE ns = ?";
const HISTORY_NAMESPACES = "SELECT ns FROM stowage_kv_history ORDER BY ns";
const HISTORY_TRIM =
  "DELETE FROM stowage_kv_change WHERE ns = ? AND seq IN (SELECT seq FROM stowage_kv_change WHERE ns = ? AND seq <= ? ORDER BY seq LIMIT ?) RETURNING seq";
const historyState = (row: SqlRow | undefined) => ({ lastSeq: num(row, "last_seq"), trimmedThrough: num(row, "trimmed") });

/**
 * The triggers that write a KV change record for each row written or removed in one of `namespaces` (SQLite; the
 * PostgreSQL schema has its own): re-created whenever a namespace's history is turned on, so that they name exactly
 * the namespaces with history and a write elsewhere costs no lookup. Names are validated namespaces (no quotes); the
 * quoting is belt and braces.
 */
function recordingTriggers(namespaces: readonly string[]): string[] {
  const list = namespaces.map((ns) => `'${ns.replace(/'/g, "''")}'`).join(", ");
  const record = (row: "new" | "old", value: string) =>
    `UPDATE stowage_kv_history SET last_seq = last_seq + 1 WHERE ns = ${row}.ns;
     INSERT INTO stowage_kv_change (ns, seq, key, value) SELECT ns, last_seq, ${row}.key, ${value} FROM stowage_kv_history WHERE ns = ${row}.ns;`;
  const trigger = (name: string, event: string, row: "new" | "old", value: string) => [
    `DROP TRIGGER IF EXISTS ${name}`,
    `CREATE TRIGGER ${name} AFTER ${event} ON stowage_kv WHEN ${row}.ns IN (${list}) BEGIN ${record(row, value)} END`,
  ];
  return [
    ...trigger("stowage_kv_inserted", "INSERT", "new", "new.value"),
    ...trigger("stowage_kv_updated", "UPDATE", "new", "new.value"),
    ...trigger("stowage_kv_deleted", "DELETE", "old", "NULL"),
  ];
}

/** How a dialect matches a column against a list of keys passed as one parameter. */
export interface KeyList {
  /** A subquery yielding the keys, with one placeholder. */
  sql: string;
  param(keys: readonly string[]): unknown;
}

/** SQLite: the keys as a JSON array, expanded by json_each. */
const JSON_KEY_LIST: KeyList = { sql: "SELECT value FROM json_each(?)", param: (keys) => JSON.stringify(keys) };

/** Where a dialect does a step better than the shared SQL (PostgreSQL: one statement instead of one per record). */
export interface SqlDialect {
  insertStreamEntries?: StreamInsert;
  keyList?: KeyList;
  /**
   * A condition (` AND …`, one parameter: the namespace) that KV deletes evaluate once before they lock any row, to
   * take the namespace's writer lock first where it has one, as puts do (PostgreSQL's KV history): every write path
   * then takes its locks in one order. Empty where the engine has one writer (SQLite).
   */
  kvLockFirst?: string;
  /** How a restore passes its batch as one statement's parameters (default: SQLite's JSON and blob). */
  rowSet?: RowSetDialect;
  /** How the work programs differ (default: none of the options). */
  work?: WorkProgramOptions;
}

/**
 * A page of a namespace's KV changes with the history's state, in one statement so that both come from one snapshot
 * (a reader that saw no change of its keys up to the last change may move past it; one that finds `trimmed` beyond
 * its position knows it missed changes). No row: the namespace has no history.
 */
const historyReadSql = (keyList: KeyList): string => `SELECT (SELECT max(seq) FROM stowage_kv_change WHERE ns = ?) AS top, h.trimmed, c.seq, c.key, c.value
FROM stowage_kv_history h
LEFT JOIN (SELECT seq, key, value FROM stowage_kv_change WHERE ns = ? AND key IN (${keyList.sql}) AND seq > ? ORDER BY seq LIMIT ?) c ON 1 = 1
WHERE h.ns = ?`;

/** One INSERT per entry: on SQLite each is an in-process call, as cheap as any batched form. */
function* insertStreamEntriesOneByOne(ns: string, space: string, segment: string, before: number, ts: number, records: readonly StoredStreamRecord[]): SqlProgram<void> {
  for (const [i, record] of records.entries()) {
    yield* run("INSERT INTO stowage_stream (ns, space, segment, seq, ts, value, headers, compression) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
      ns,
      space,
      segment,
      before + i + 1,
      ts,
      record.value,
      record.headers,
      record.compression,
    ]);
  }
}

/**
 * The operations whose program writes with more than one statement: inside a transaction that goes on after one of
 * them failed, an engine must undo the part it did (a counter bumped before a full queue refused the push). The
 * engine-wide op table says which (`steps: "several"`); the sql-programs test checks it against the SQL.
 */
export const MULTI_STATEMENT_WRITE_OPS: ReadonlySet<keyof SqlPrograms> = new Set(OP_NAMES.filter((op) => OP_FACTS[op].kind === "write" && OP_FACTS[op].steps === "several"));

/**
 * The primitives written once in SQL for the sql family (SQLite, PostgreSQL), as programs (see `SqlProgram`). The
 * dialects differ only in their executor and schema; every statement here runs unchanged on both. Correctness under
 * concurrency comes from the statements themselves: a counter row taken first serialises appends and pushes per
 * namespace (so log sequences follow commit order), and CAS is one conditional UPDATE or INSERT.
 */
/**
 * The point reads, as data: one statement whose parameters are the operation's arguments in order, and what makes the
 * answer of its result. Their programs below are built from this table, and the SQLite and PostgreSQL engines also bind
 * each straight to their driver (`bindPointReads` in sqlite-executor.ts and postgres-executor.ts).
 */
export const SQL_POINT_READS = {
  kvGet: { kind: "value", sql: KV_GET, finish: kvValueOf },
  kvGetEntry: { kind: "get", sql: KV_GET_ENTRY, finish: kvEntryOf },
  slotGet: { kind: "get", sql: SLOT_GET, finish: slotOf },
} as const satisfies Record<string, { kind: "value" | "get"; sql: string; finish: (result: unknown) => unknown }>;

const KV_DUMP = `SELECT key, value, expires_at FROM stowage_kv WHERE ns = ? AND ${LIVE} ORDER BY key LIMIT ?`;
const KV_DUMP_AFTER = `SELECT key, value, expires_at FROM stowage_kv WHERE ns = ? AND key > ? AND ${LIVE} ORDER BY key LIMIT ?`;
const SLOT_DUMP = "SELECT key, version, value FROM stowage_slot WHERE ns = ? ORDER BY key LIMIT ?";
const SLOT_DUMP_AFTER = "SELECT key, version, value FROM stowage_slot WHERE ns = ? AND key > ? ORDER BY key LIMIT ?";
const QUEUE_DUMP = "SELECT key, id, value, pushed_at FROM stowage_queue WHERE ns = ? ORDER BY key, id LIMIT ?";
const QUEUE_DUMP_AFTER = "SELECT key, id, value, pushed_at FROM stowage_queue WHERE ns = ? AND (key, id) > (?, ?) ORDER BY key, id LIMIT ?";

/**
 * The restores' statements over a dialect's row sets (see sql-row-set.ts): one INSERT … SELECT per batch. The SELECTs
 * carry `WHERE true`: SQLite's grammar needs a WHERE before an upsert's ON CONFLICT.
 */
function restoreStatements(rowSet: RowSetDialect) {
  const kvRows = rowSet([["key", "text"], ["value", "bytes"], ["expires_at", "int"]]);
  const slotRows = rowSet([["key", "text"], ["version", "int"], ["value", "bytes"]]);
  const logRows = rowSet([["seq", "int"], ["key", "text"], ["value", "bytes"], ["ts", "int"]]);
  const queueRows = rowSet([["key", "text"], ["id", "int"], ["value", "bytes"], ["pushed_at", "int"]]);
  const queueKeys = rowSet([["key", "text"], ["id", "int"]]);
  const streamRows = rowSet([["seq", "int"], ["ts", "int"], ["value", "bytes"], ["headers", "text"], ["compression", "text"]]);
  return {
    /** In the batch's order, so that a history namespace's change records (row triggers) follow it. */
    kv: {
      rows: kvRows,
      sql: `INSERT INTO stowage_kv (ns, key, value, expires_at) SELECT ?, e.key, e.value, e.expires_at FROM ${kvRows.sql} WHERE true ORDER BY e.ord
ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    },
    slot: {
      rows: slotRows,
      sql: `INSERT INTO stowage_slot (ns, key, version, value) SELECT ?, e.key, e.version, e.value FROM ${slotRows.sql} WHERE true
ON CONFLICT (ns, key) DO UPDATE SET version = excluded.version, value = excluded.value`,
    },
    log: { rows: logRows, sql: `INSERT INTO stowage_log (ns, seq, key, value, ts) SELECT ?, e.seq, e.key, e.value, e.ts FROM ${logRows.sql}` },
    queue: {
      rows: queueRows,
      sql: `INSERT INTO stowage_queue (ns, key, id, value, pushed_at) SELECT ?, e.key, e.id, e.value, e.pushed_at FROM ${queueRows.sql}`,
    },
    /**
     * An item the namespace holds already under one of the (key, id) pairs: one primary-key lookup per pair. CROSS
     * JOIN keeps the pairs outside on SQLite, whose planner would otherwise scan the namespace and the pairs inside it.
     */
    queueTaken: {
      rows: queueKeys,
      sql: `SELECT q.key, q.id FROM ${queueKeys.sql} CROSS JOIN stowage_queue q WHERE q.ns = ? AND q.key = e.key AND q.id = e.id LIMIT 1`,
    },
    stream: {
      rows: streamRows,
      sql: `INSERT INTO stowage_stream (ns, space, segment, seq, ts, value, headers, compression) SELECT ?, ?, ?, e.seq, e.ts, e.value, e.headers, e.compression FROM ${streamRows.sql}`,
    },
  };
}

export function sqlPrograms(schemaVersion: number, dialect: SqlDialect = {}): SqlPrograms {
  const insertEntries = dialect.insertStreamEntries ?? insertStreamEntriesOneByOne;
  const keyList = dialect.keyList ?? JSON_KEY_LIST;
  const historyRead = historyReadSql(keyList);
  const lockFirst = dialect.kvLockFirst ?? "";
  const lockParams = (ns: string) => (lockFirst === "" ? [] : [ns]);
  const kvDelete = kvDeleteSql(lockFirst);
  const kvDeleteRange = deleteRangeSql(lockFirst);
  const kvSweep = sweepSql(lockFirst);
  const rowSet = dialect.rowSet ?? JSON_ROW_SET;
  const restore = restoreStatements(rowSet);
  return {
    kvGet: (ns, key, now) => pointRead(SQL_POINT_READS.kvGet, [ns, key, now]),
    kvGetEntry: (ns, key, now) => pointRead(SQL_POINT_READS.kvGetEntry, [ns, key, now]),

    *kvPut(ns, key, value, expiresAt) {
      yield* run(
        "INSERT INTO stowage_kv (ns, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
        [ns, key, value, expiresAt],
      );
    },

    *kvDelete(ns, key, now) {
      const row = yield* get(kvDelete, [ns, key, ...lockParams(ns), now]);
      return num(row, "live") === 1;
    },

    *kvScan(ns, scan, now) {
      const [flags, params] = rangeOf(scan);
      const sql = scanSql(flags | (scan.reverse ? REVERSE : 0) | (scan.keysOnly ? KEYS_ONLY : 0));
      const rows = yield* all(sql, [ns, ...params, now, scan.limit]);
      return rows.map((row): StoredKv => (scan.keysOnly ? { key: row.key as string } : { key: row.key as string, value: bytesOf(row.value) }));
    },

    *kvCount(ns, range, now) {
      const [flags, params] = rangeOf(range);
      return num(yield* get(countSql(flags), [ns, ...params, now]), "n");
    },

    *kvDeleteRange(ns, range, now) {
      const [flags, params] = rangeOf(range);
      const rows = yield* all(kvDeleteRange(flags), [ns, ...params, ...lockParams(ns), now]);
      return rows.reduce((sum, row) => sum + num(row, "live"), 0);
    },

    *kvSweepExpired(now, limit) {
      // One namespace per call: in a namespace with KV history a removal takes the namespace's writer lock to
      // commit (PostgreSQL), and a sweep across namespaces would hold one while waiting for another.
      const first = yield* get("SELECT ns FROM stowage_kv WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT 1", [now]);
      if (first === undefined) return 0;
      const ns = first.ns as string;
      return yield* run(kvSweep, [ns, now, limit, now, ...lockParams(ns)]);
    },

    *kvHistoryStart(ns, maxNamespaces) {
      const found = yield* get(HISTORY_STATE, [ns]);
      if (found !== undefined) return historyState(found);
      checkHistoryRoom(ns, num(yield* get("SELECT count(*) AS n FROM stowage_kv_history", []), "n"), maxNamespaces);
      // SQLite has one writer at a time: whatever commits after this transaction sees the new triggers.
      yield* run("INSERT INTO stowage_kv_history (ns, last_seq, trimmed) VALUES (?, 0, 0)", [ns]);
      const names = (yield* all(HISTORY_NAMESPACES, [])).map((row) => row.ns as string);
      for (const sql of recordingTriggers(names)) yield* run(sql, []);
      return historyState(yield* get(HISTORY_STATE, [ns]));
    },

    *kvHistoryRead(ns, keys, afterSeq, limit) {
      const rows = yield* all(historyRead, [ns, ns, keyList.param(keys), afterSeq, limit, ns]);
      if (rows.length === 0) return undefined;
      const changes = rows
        .filter((row) => row.seq !== null)
        .map((row) => ({ seq: Number(row.seq), key: row.key as string, value: row.value === null ? null : bytesOf(row.value) }))
        .sort((a, b) => a.seq - b.seq);
      const trimmedThrough = num(rows[0], "trimmed");
      return { lastSeq: Math.max(num(rows[0], "top"), trimmedThrough), trimmedThrough, changes };
    },

    *kvHistoryTrim(keep, limit) {
      // By count, not by number: on PostgreSQL the numbers skip. The oldest go first, so `trimmed` (all numbers up to
      // it are gone) is the highest number removed.
      let removed = 0;
      for (const { ns } of yield* all(HISTORY_NAMESPACES, [])) {
        const cut = yield* get("SELECT seq FROM stowage_kv_change WHERE ns = ? ORDER BY seq DESC LIMIT 1 OFFSET ?", [ns, keep]);
        if (cut === undefined) continue;
        const gone = yield* all(HISTORY_TRIM, [ns, ns, num(cut, "seq"), limit]);
        if (gone.length === 0) continue;
        const top = Math.max(...gone.map((row) => num(row, "seq")));
        yield* run("UPDATE stowage_kv_history SET trimmed = ? WHERE ns = ? AND trimmed < ?", [top, ns, top]);
        removed += gone.length;
      }
      return removed;
    },

    *logAppend(ns, key, value, now) {
      const seq = yield* nextCounter(ns, "log");
      yield* run("INSERT INTO stowage_log (ns, seq, key, value, ts) VALUES (?, ?, ?, ?, ?)", [ns, seq, key, value, now]);
      return seq;
    },

    *logRead(ns, key, afterSeq, limit) {
      const rows = yield* all("SELECT seq, key, value, ts FROM stowage_log WHERE ns = ? AND key = ? AND seq > ? ORDER BY seq LIMIT ?", [
        ns,
        key,
        afterSeq,
        limit,
      ]);
      return rows.map((row) => ({ seq: Number(row.seq), key: row.key as string, value: bytesOf(row.value), timestamp: Number(row.ts) }));
    },

    *logReadAll(ns, afterSeq, limit) {
      const rows = yield* all("SELECT seq, key, value, ts FROM stowage_log WHERE ns = ? AND seq > ? ORDER BY seq LIMIT ?", [ns, afterSeq, limit]);
      return rows.map((row) => ({ seq: Number(row.seq), key: row.key as string, value: bytesOf(row.value), timestamp: Number(row.ts) }));
    },

    *logLastSeq(ns) {
      return num(yield* get("SELECT value FROM stowage_counter WHERE ns = ? AND kind = 'log'", [ns]), "value");
    },

    slotGet: (ns, key) => pointRead(SQL_POINT_READS.slotGet, [ns, key]),

    *slotUpsert(ns, key, value) {
      const row = yield* get(
        "INSERT INTO stowage_slot (ns, key, version, value) VALUES (?, ?, 1, ?) ON CONFLICT (ns, key) DO UPDATE SET version = stowage_slot.version + 1, value = excluded.value RETURNING version",
        [ns, key, value],
      );
      return num(row, "version");
    },

    *slotCas(ns, key, expectedVersion, value) {
      if (expectedVersion === 0) {
        const inserted = yield* run("INSERT INTO stowage_slot (ns, key, version, value) VALUES (?, ?, 1, ?) ON CONFLICT (ns, key) DO NOTHING", [
          ns,
          key,
          value,
        ]);
        return inserted === 1;
      }
      const updated = yield* run("UPDATE stowage_slot SET version = version + 1, value = ? WHERE ns = ? AND key = ? AND version = ?", [
        value,
        ns,
        key,
        expectedVersion,
      ]);
      return updated === 1;
    },

    *queuePush(ns, key, value, now, bound) {
      // The counter first: it locks the namespace's pushes, so the length check below cannot race another push.
      const id = yield* nextCounter(ns, "queue");
      const drop = itemsToDrop(ns, key, yield* queueLen(ns, key), bound);
      if (drop > 0) yield* queueDropOldest(ns, key, drop);
      yield* run("INSERT INTO stowage_queue (ns, key, id, value, pushed_at) VALUES (?, ?, ?, ?, ?)", [ns, key, id, value, now]);
      return id;
    },

    *queuePeek(ns, key, afterId, limit) {
      const rows = yield* all("SELECT id, value, pushed_at FROM stowage_queue WHERE ns = ? AND key = ? AND id > ? ORDER BY id LIMIT ?", [ns, key, afterId, limit]);
      return rows.map((row) => ({ id: Number(row.id), value: bytesOf(row.value), pushedAt: Number(row.pushed_at) }));
    },

    *queueAck(ns, key, id) {
      return (yield* run("DELETE FROM stowage_queue WHERE ns = ? AND key = ? AND id = ?", [ns, key, id])) === 1;
    },

    queueDropOldest,

    queueLen,

    *streamProduce(ns, space, segment, records, now, expectedSeq) {
      // The segment row first: the upsert locks it (on PostgreSQL, to the end of the transaction), so concurrent
      // producers to one segment take turns and each sees the last sequence the previous one left.
      const row = yield* get(SEGMENT_TAKE, [ns, space, segment]);
      const before = num(row, "last_seq");
      checkExpectedSeq(ns, space, segment, expectedSeq, before);
      // A segment's timestamps never go back, even when a producer read the clock before another that committed first.
      const ts = Math.max(now, num(row, "last_ts"));
      yield* insertEntries(ns, space, segment, before, ts, records);
      const status = { lastSeq: before + records.length, lastTimestamp: ts, count: num(row, "count") + records.length };
      yield* run(SEGMENT_SET, [status.lastSeq, status.lastTimestamp, status.count, ns, space, segment]);
      return status;
    },

    *streamRead(ns, space, segment, fromSeq, toSeq, limit) {
      const rows = yield* all(
        "SELECT seq, ts, value, headers, compression FROM stowage_stream WHERE ns = ? AND space = ? AND segment = ? AND seq >= ? AND seq <= ? ORDER BY seq LIMIT ?",
        [ns, space, segment, fromSeq, toSeq, limit],
      );
      return rows.map(entryOf);
    },

    *streamReadSpace(ns, space, fromTimestamp, after, limit) {
      const rows =
        after === null
          ? yield* all(`${SPACE_READ} ORDER BY ts, segment, seq LIMIT ?`, [ns, space, fromTimestamp, limit])
          : yield* all(`${SPACE_READ} AND (ts, segment, seq) > (?, ?, ?) ORDER BY ts, segment, seq LIMIT ?`, [
              ns,
              space,
              fromTimestamp,
              after.timestamp,
              after.segment,
              after.seq,
              limit,
            ]);
      return rows.map((row) => ({ ...entryOf(row), segment: row.segment as string }));
    },

    *streamPeek(ns, space, segment) {
      const row = yield* get("SELECT seq, ts, value, headers, compression FROM stowage_stream WHERE ns = ? AND space = ? AND segment = ? ORDER BY seq DESC LIMIT 1", [
        ns,
        space,
        segment,
      ]);
      return row === undefined ? undefined : entryOf(row);
    },

    *streamSpaces(ns, after, limit) {
      const rows = yield* all("SELECT DISTINCT space FROM stowage_stream_segment WHERE ns = ? AND space > ? AND count > 0 ORDER BY space LIMIT ?", [
        ns,
        after ?? "",
        limit,
      ]);
      return rows.map((row) => row.space as string);
    },

    *streamSegments(ns, space, after, limit) {
      const rows = yield* all(
        "SELECT segment FROM stowage_stream_segment WHERE ns = ? AND space = ? AND segment > ? AND count > 0 ORDER BY segment LIMIT ?",
        [ns, space, after ?? "", limit],
      );
      return rows.map((row) => row.segment as string);
    },

    *streamLastSeqs(ns, space) {
      const rows = yield* all("SELECT segment, last_seq FROM stowage_stream_segment WHERE ns = ? AND space = ? AND count > 0 ORDER BY segment", [ns, space]);
      return rows.map((row) => ({ segment: row.segment as string, lastSeq: Number(row.last_seq) }));
    },

    *streamStatus(ns, space, segment) {
      const row = yield* get("SELECT last_seq, last_ts, count FROM stowage_stream_segment WHERE ns = ? AND space = ? AND segment = ?", [ns, space, segment]);
      return { lastSeq: num(row, "last_seq"), lastTimestamp: num(row, "last_ts"), count: num(row, "count") };
    },

    *kvDump(ns, afterKey, limit, now) {
      const rows = afterKey === null ? yield* all(KV_DUMP, [ns, now, limit]) : yield* all(KV_DUMP_AFTER, [ns, afterKey, now, limit]);
      return rows.map((row) => ({ key: row.key as string, value: bytesOf(row.value), expiresAt: row.expires_at === null ? null : Number(row.expires_at) }));
    },

    *slotDump(ns, afterKey, limit) {
      const rows = afterKey === null ? yield* all(SLOT_DUMP, [ns, limit]) : yield* all(SLOT_DUMP_AFTER, [ns, afterKey, limit]);
      return rows.map((row) => ({ key: row.key as string, version: Number(row.version), value: bytesOf(row.value) }));
    },

    *queueDump(ns, after, limit) {
      const rows = after === null ? yield* all(QUEUE_DUMP, [ns, limit]) : yield* all(QUEUE_DUMP_AFTER, [ns, after.key, after.id, limit]);
      return rows.map((row) => ({ key: row.key as string, id: Number(row.id), value: bytesOf(row.value), pushedAt: Number(row.pushed_at) }));
    },

    *queueLastId(ns) {
      return num(yield* get("SELECT value FROM stowage_counter WHERE ns = ? AND kind = 'queue'", [ns]), "value");
    },

    *kvRestore(ns, rows) {
      // One statement cannot upsert a key twice (PostgreSQL); the last row of a key is what the restore leaves anyway.
      const batch = lastRowPerKey(rows);
      if (batch.length === 0) return;
      yield* run(restore.kv.sql, [ns, ...restore.kv.rows.params(batch.map((row) => [row.key, row.value, row.expiresAt]))]);
    },

    *logRestore(ns, entries) {
      const last = entries.at(-1);
      if (last === undefined) return;
      // The counter first: it locks the namespace's appends (PostgreSQL) until this commits.
      checkLogRestore(ns, entries, num(yield* get(COUNTER_TAKE, [ns, "log"]), "value"));
      yield* run(restore.log.sql, [ns, ...restore.log.rows.params(entries.map((e) => [e.seq, e.key, e.value, e.timestamp]))]);
      yield* run(COUNTER_SET, [last.seq, ns, "log"]);
    },

    *slotRestore(ns, rows) {
      const batch = lastRowPerKey(rows);
      if (batch.length === 0) return;
      yield* run(restore.slot.sql, [ns, ...restore.slot.rows.params(batch.map((row) => [row.key, row.version, row.value]))]);
    },

    *queueRestore(ns, items, lastId) {
      checkQueueRestoreIds(ns, items);
      let top = lastId;
      for (const item of items) top = Math.max(top, item.id);
      if (items.length === 0 && top === 0) return;
      // The counter first: it locks the namespace's pushes (PostgreSQL), so none takes an id while this checks them.
      const counter = num(yield* get(COUNTER_TAKE, [ns, "queue"]), "value");
      if (items.length > 0) {
        // Only an id the counter handed out can be held (the counter is never behind the ids: see sql-invariants).
        const suspects = items.filter((item) => item.id <= counter);
        if (suspects.length > 0) {
          const pairs = suspects.map((item) => [item.key, item.id]);
          const [taken] = yield* all(restore.queueTaken.sql, [...restore.queueTaken.rows.params(pairs), ns]);
          if (taken !== undefined) throw queueIdTaken(ns, taken.key as string, Number(taken.id));
        }
        yield* run(restore.queue.sql, [ns, ...restore.queue.rows.params(items.map((item) => [item.key, item.id, item.value, item.pushedAt]))]);
      }
      if (top > counter) yield* run(COUNTER_SET, [top, ns, "queue"]);
    },

    *streamRestore(ns, space, segment, entries) {
      const last = entries.at(-1);
      if (last === undefined) return;
      const row = yield* get(SEGMENT_TAKE, [ns, space, segment]);
      checkStreamRestore(ns, space, segment, entries, num(row, "last_seq"));
      const rows = entries.map((e) => [e.seq, e.timestamp, e.value, e.headers, e.compression]);
      yield* run(restore.stream.sql, [ns, space, segment, ...restore.stream.rows.params(rows)]);
      // A segment's timestamps never go back: a produce after this goes on from the latest restored one.
      let lastTs = num(row, "last_ts");
      for (const entry of entries) lastTs = Math.max(lastTs, entry.timestamp);
      yield* run(SEGMENT_SET, [last.seq, lastTs, num(row, "count") + entries.length, ns, space, segment]);
    },

    *describe(now) {
      const namespaces: NamespaceInfo[] = [];
      let storedRows = 0;
      const kv = yield* all(DESCRIBE_KV, [now]);
      for (const row of kv) {
        namespaces.push({ primitive: "kv", namespace: row.ns as string, count: num(row, "live") });
        storedRows += num(row, "stored");
      }
      for (const primitive of ["log", "slot", "queue", "stream", "work"] as const) {
        for (const row of yield* all(DESCRIBE_COUNT[primitive], [])) {
          namespaces.push({ primitive, namespace: row.ns as string, count: num(row, "n") });
          storedRows += num(row, "n");
        }
      }
      return { schemaVersion, namespaces, storedRows };
    },

    ...workPrograms(rowSet, dialect.work),
  };
}
