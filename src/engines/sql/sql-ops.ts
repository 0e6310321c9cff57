import type { KeyRange, RangeScan } from "../../api/range.js";
import type { NamespaceInfo } from "../../api/types.js";
import type { EngineDescription, EngineOps, StoredKv, StoredLogEntry, StoredQueueItem, StoredSlot } from "../engine.js";
import { itemsToDrop, type QueueBound } from "../queue-bound.js";
import type { SqlExecutor, SqlRow } from "./sql-executor.js";

/** Drivers return binary columns as Buffers; callers get plain Uint8Arrays over the same (fresh) memory. */
function bytesOf(value: unknown): Uint8Array {
  const buffer = value as Buffer;
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

const LIVE = "(expires_at IS NULL OR expires_at > ?)";
const LIVE_FLAG = `CASE WHEN ${LIVE} THEN 1 ELSE 0 END`;

/** The WHERE clause of a key range, and its parameters in order. */
function rangeClause(range: KeyRange): [string, unknown[]] {
  let sql = "";
  const params: unknown[] = [];
  if (range.lower !== undefined) {
    sql += range.lowerInclusive ? " AND key >= ?" : " AND key > ?";
    params.push(range.lower);
  }
  if (range.upper !== undefined) {
    sql += " AND key < ?";
    params.push(range.upper);
  }
  return [sql, params];
}

const num = (row: SqlRow | undefined, column: string): number => Number(row?.[column] ?? 0);

/**
 * The primitives written once in SQL for the sql family (SQLite, PostgreSQL). The dialects differ only in their
 * executor and schema; every statement here runs unchanged on both. Correctness under concurrency comes from the
 * statements themselves: a counter row taken first serialises appends and pushes per namespace (so log sequences
 * follow commit order), and CAS is one conditional UPDATE or INSERT.
 */
export class SqlOps implements EngineOps {
  constructor(
    private readonly sql: SqlExecutor,
    private readonly schemaVersion: number,
  ) {}

  private async one(statement: string, params: readonly unknown[]): Promise<SqlRow | undefined> {
    return (await this.sql.all(statement, params))[0];
  }

  /** Takes the next number of a namespace's counter; the row stays locked to the end of the transaction. */
  private async nextCounter(ns: string, kind: "log" | "queue"): Promise<number> {
    const row = await this.one(
      "INSERT INTO stowage_counter (ns, kind, value) VALUES (?, ?, 1) ON CONFLICT (ns, kind) DO UPDATE SET value = stowage_counter.value + 1 RETURNING value",
      [ns, kind],
    );
    return num(row, "value");
  }

  async kvGet(ns: string, key: string, now: number): Promise<Uint8Array | undefined> {
    const row = await this.one(`SELECT value FROM stowage_kv WHERE ns = ? AND key = ? AND ${LIVE}`, [ns, key, now]);
    return row === undefined ? undefined : bytesOf(row.value);
  }

  async kvPut(ns: string, key: string, value: Uint8Array, expiresAt: number | null): Promise<void> {
    await this.sql.run(
      "INSERT INTO stowage_kv (ns, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
      [ns, key, value, expiresAt],
    );
  }

  async kvDelete(ns: string, key: string, now: number): Promise<boolean> {
    const row = await this.one(`DELETE FROM stowage_kv WHERE ns = ? AND key = ? RETURNING ${LIVE_FLAG} AS live`, [ns, key, now]);
    return num(row, "live") === 1;
  }

  async kvScan(ns: string, scan: RangeScan, now: number): Promise<StoredKv[]> {
    const [where, params] = rangeClause(scan);
    const columns = scan.keysOnly ? "key" : "key, value";
    const order = scan.reverse ? "DESC" : "ASC";
    const rows = await this.sql.all(
      `SELECT ${columns} FROM stowage_kv WHERE ns = ?${where} AND ${LIVE} ORDER BY key ${order} LIMIT ?`,
      [ns, ...params, now, scan.limit],
    );
    return rows.map((row) => (scan.keysOnly ? { key: row.key as string } : { key: row.key as string, value: bytesOf(row.value) }));
  }

  async kvCount(ns: string, range: KeyRange, now: number): Promise<number> {
    const [where, params] = rangeClause(range);
    return num(await this.one(`SELECT count(*) AS n FROM stowage_kv WHERE ns = ?${where} AND ${LIVE}`, [ns, ...params, now]), "n");
  }

  async kvDeleteRange(ns: string, range: KeyRange, now: number): Promise<number> {
    const [where, params] = rangeClause(range);
    const rows = await this.sql.all(`DELETE FROM stowage_kv WHERE ns = ?${where} RETURNING ${LIVE_FLAG} AS live`, [ns, ...params, now]);
    return rows.reduce((sum, row) => sum + num(row, "live"), 0);
  }

  async kvSweepExpired(now: number, limit: number): Promise<number> {
    return this.sql.run(
      "DELETE FROM stowage_kv WHERE (ns, key) IN (SELECT ns, key FROM stowage_kv WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)",
      [now, limit],
    );
  }

  async logAppend(ns: string, key: string, value: Uint8Array, now: number): Promise<number> {
    const seq = await this.nextCounter(ns, "log");
    await this.sql.run("INSERT INTO stowage_log (ns, seq, key, value, ts) VALUES (?, ?, ?, ?, ?)", [ns, seq, key, value, now]);
    return seq;
  }

  async logRead(ns: string, key: string, afterSeq: number, limit: number): Promise<StoredLogEntry[]> {
    const rows = await this.sql.all("SELECT seq, key, value, ts FROM stowage_log WHERE ns = ? AND key = ? AND seq > ? ORDER BY seq LIMIT ?", [
      ns,
      key,
      afterSeq,
      limit,
    ]);
    return rows.map((row) => ({ seq: Number(row.seq), key: row.key as string, value: bytesOf(row.value), timestamp: Number(row.ts) }));
  }

  async logLastSeq(ns: string): Promise<number> {
    return num(await this.one("SELECT value FROM stowage_counter WHERE ns = ? AND kind = 'log'", [ns]), "value");
  }

  async slotGet(ns: string, key: string): Promise<StoredSlot | undefined> {
    const row = await this.one("SELECT version, value FROM stowage_slot WHERE ns = ? AND key = ?", [ns, key]);
    return row === undefined ? undefined : { version: Number(row.version), value: bytesOf(row.value) };
  }

  async slotUpsert(ns: string, key: string, value: Uint8Array): Promise<number> {
    const row = await this.one(
      "INSERT INTO stowage_slot (ns, key, version, value) VALUES (?, ?, 1, ?) ON CONFLICT (ns, key) DO UPDATE SET version = stowage_slot.version + 1, value = excluded.value RETURNING version",
      [ns, key, value],
    );
    return num(row, "version");
  }

  async slotCas(ns: string, key: string, expectedVersion: number, value: Uint8Array): Promise<boolean> {
    if (expectedVersion === 0) {
      const inserted = await this.sql.run("INSERT INTO stowage_slot (ns, key, version, value) VALUES (?, ?, 1, ?) ON CONFLICT (ns, key) DO NOTHING", [
        ns,
        key,
        value,
      ]);
      return inserted === 1;
    }
    const updated = await this.sql.run("UPDATE stowage_slot SET version = version + 1, value = ? WHERE ns = ? AND key = ? AND version = ?", [
      value,
      ns,
      key,
      expectedVersion,
    ]);
    return updated === 1;
  }

  async queuePush(ns: string, key: string, value: Uint8Array, now: number, bound: QueueBound): Promise<number> {
    // The counter first: it locks the namespace's pushes, so the length check below cannot race another push.
    const id = await this.nextCounter(ns, "queue");
    const drop = itemsToDrop(ns, key, await this.queueLen(ns, key), bound);
    if (drop > 0) await this.queueDropOldest(ns, key, drop);
    await this.sql.run("INSERT INTO stowage_queue (ns, key, id, value, pushed_at) VALUES (?, ?, ?, ?, ?)", [ns, key, id, value, now]);
    return id;
  }

  async queuePeek(ns: string, key: string, limit: number): Promise<StoredQueueItem[]> {
    const rows = await this.sql.all("SELECT id, value, pushed_at FROM stowage_queue WHERE ns = ? AND key = ? ORDER BY id LIMIT ?", [ns, key, limit]);
    return rows.map((row) => ({ id: Number(row.id), value: bytesOf(row.value), pushedAt: Number(row.pushed_at) }));
  }

  async queueAck(ns: string, key: string, id: number): Promise<boolean> {
    return (await this.sql.run("DELETE FROM stowage_queue WHERE ns = ? AND key = ? AND id = ?", [ns, key, id])) === 1;
  }

  async queueDropOldest(ns: string, key: string, count: number): Promise<number> {
    return this.sql.run(
      "DELETE FROM stowage_queue WHERE ns = ? AND key = ? AND id IN (SELECT id FROM stowage_queue WHERE ns = ? AND key = ? ORDER BY id LIMIT ?)",
      [ns, key, ns, key, count],
    );
  }

  async queueLen(ns: string, key: string): Promise<number> {
    return num(await this.one("SELECT count(*) AS n FROM stowage_queue WHERE ns = ? AND key = ?", [ns, key]), "n");
  }

  async describe(now: number): Promise<EngineDescription> {
    const namespaces: NamespaceInfo[] = [];
    let storedRows = 0;
    const kv = await this.sql.all(`SELECT ns, count(*) AS stored, sum(${LIVE_FLAG}) AS live FROM stowage_kv GROUP BY ns`, [now]);
    for (const row of kv) {
      namespaces.push({ primitive: "kv", namespace: row.ns as string, count: num(row, "live") });
      storedRows += num(row, "stored");
    }
    for (const primitive of ["log", "slot", "queue"] as const) {
      for (const row of await this.sql.all(`SELECT ns, count(*) AS n FROM stowage_${primitive} GROUP BY ns`, [])) {
        namespaces.push({ primitive, namespace: row.ns as string, count: num(row, "n") });
        storedRows += num(row, "n");
      }
    }
    return { schemaVersion: this.schemaVersion, namespaces, storedRows };
  }
}
