import type Database from "better-sqlite3";
import type { KeyRange, RangeScan } from "../../api/range.js";
import type { NamespaceInfo } from "../../api/types.js";
import type { EngineDescription, EngineOps, StoredKv, StoredLogEntry, StoredQueueItem, StoredSlot } from "../engine.js";
import { SCHEMA_VERSION } from "./sqlite-schema.js";

const LIVE = "(expires_at IS NULL OR expires_at > @now)";

/** better-sqlite3 returns Buffers; callers get plain Uint8Arrays over the same (fresh) memory. */
function bytesOf(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** The WHERE clause and parameters of a key range. */
function rangeClause(range: KeyRange): string {
  let sql = "";
  if (range.lower !== undefined) sql += range.lowerInclusive ? " AND key >= @lower" : " AND key > @lower";
  if (range.upper !== undefined) sql += " AND key < @upper";
  return sql;
}

function rangeParams(ns: string, range: KeyRange, now: number): Record<string, unknown> {
  const params: Record<string, unknown> = { ns, now };
  if (range.lower !== undefined) params.lower = range.lower;
  if (range.upper !== undefined) params.upper = range.upper;
  return params;
}

/** The primitives in SQL over one better-sqlite3 connection, with statements prepared once and cached. */
export class SqliteOps implements EngineOps {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Takes the next number of a namespace's counter (log sequence, queue id). */
  private nextCounter(ns: string, kind: "log" | "queue"): number {
    const row = this.stmt(
      "INSERT INTO stowage_counter (ns, kind, value) VALUES (?, ?, 1) ON CONFLICT (ns, kind) DO UPDATE SET value = value + 1 RETURNING value",
    ).get(ns, kind) as { value: number };
    return row.value;
  }

  kvGet(ns: string, key: string, now: number): Uint8Array | undefined {
    const row = this.stmt(`SELECT value FROM stowage_kv WHERE ns = @ns AND key = @key AND ${LIVE}`).get({ ns, key, now }) as
      | { value: Buffer }
      | undefined;
    return row === undefined ? undefined : bytesOf(row.value);
  }

  kvPut(ns: string, key: string, value: Uint8Array, expiresAt: number | null): void {
    this.stmt(
      "INSERT INTO stowage_kv (ns, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
    ).run(ns, key, value, expiresAt);
  }

  kvDelete(ns: string, key: string, now: number): boolean {
    const row = this.stmt(`DELETE FROM stowage_kv WHERE ns = @ns AND key = @key RETURNING ${LIVE} AS live`).get({ ns, key, now }) as
      | { live: number }
      | undefined;
    return row?.live === 1;
  }

  kvScan(ns: string, scan: RangeScan, now: number): StoredKv[] {
    const columns = scan.keysOnly ? "key" : "key, value";
    const order = scan.reverse ? "DESC" : "ASC";
    const sql = `SELECT ${columns} FROM stowage_kv WHERE ns = @ns${rangeClause(scan)} AND ${LIVE} ORDER BY key ${order} LIMIT @limit`;
    const rows = this.stmt(sql).all({ ...rangeParams(ns, scan, now), limit: scan.limit }) as Array<{ key: string; value?: Buffer }>;
    return scan.keysOnly ? rows.map((row) => ({ key: row.key })) : rows.map((row) => ({ key: row.key, value: bytesOf(row.value as Buffer) }));
  }

  kvCount(ns: string, range: KeyRange, now: number): number {
    const sql = `SELECT count(*) AS n FROM stowage_kv WHERE ns = @ns${rangeClause(range)} AND ${LIVE}`;
    return (this.stmt(sql).get(rangeParams(ns, range, now)) as { n: number }).n;
  }

  kvDeleteRange(ns: string, range: KeyRange, now: number): number {
    const sql = `DELETE FROM stowage_kv WHERE ns = @ns${rangeClause(range)} RETURNING ${LIVE} AS live`;
    const rows = this.stmt(sql).all(rangeParams(ns, range, now)) as Array<{ live: number }>;
    return rows.reduce((sum, row) => sum + row.live, 0);
  }

  kvSweepExpired(now: number, limit: number): number {
    return this.stmt(
      "DELETE FROM stowage_kv WHERE (ns, key) IN (SELECT ns, key FROM stowage_kv WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)",
    ).run(now, limit).changes;
  }

  logAppend(ns: string, key: string, value: Uint8Array, now: number): number {
    const seq = this.nextCounter(ns, "log");
    this.stmt("INSERT INTO stowage_log (ns, seq, key, value, ts) VALUES (?, ?, ?, ?, ?)").run(ns, seq, key, value, now);
    return seq;
  }

  logRead(ns: string, key: string, afterSeq: number, limit: number): StoredLogEntry[] {
    const rows = this.stmt(
      "SELECT seq, key, value, ts FROM stowage_log WHERE ns = ? AND key = ? AND seq > ? ORDER BY seq LIMIT ?",
    ).all(ns, key, afterSeq, limit) as Array<{ seq: number; key: string; value: Buffer; ts: number }>;
    return rows.map((row) => ({ seq: row.seq, key: row.key, value: bytesOf(row.value), timestamp: row.ts }));
  }

  logLastSeq(ns: string): number {
    const row = this.stmt("SELECT value FROM stowage_counter WHERE ns = ? AND kind = 'log'").get(ns) as { value: number } | undefined;
    return row?.value ?? 0;
  }

  slotGet(ns: string, key: string): StoredSlot | undefined {
    const row = this.stmt("SELECT version, value FROM stowage_slot WHERE ns = ? AND key = ?").get(ns, key) as
      | { version: number; value: Buffer }
      | undefined;
    return row === undefined ? undefined : { version: row.version, value: bytesOf(row.value) };
  }

  slotPut(ns: string, key: string, version: number, value: Uint8Array): void {
    this.stmt(
      "INSERT INTO stowage_slot (ns, key, version, value) VALUES (?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET version = excluded.version, value = excluded.value",
    ).run(ns, key, version, value);
  }

  queuePush(ns: string, key: string, value: Uint8Array, now: number): number {
    const id = this.nextCounter(ns, "queue");
    this.stmt("INSERT INTO stowage_queue (ns, key, id, value, pushed_at) VALUES (?, ?, ?, ?, ?)").run(ns, key, id, value, now);
    return id;
  }

  queuePeek(ns: string, key: string, limit: number): StoredQueueItem[] {
    const rows = this.stmt("SELECT id, value, pushed_at FROM stowage_queue WHERE ns = ? AND key = ? ORDER BY id LIMIT ?").all(ns, key, limit) as Array<{
      id: number;
      value: Buffer;
      pushed_at: number;
    }>;
    return rows.map((row) => ({ id: row.id, value: bytesOf(row.value), pushedAt: row.pushed_at }));
  }

  queueAck(ns: string, key: string, id: number): boolean {
    return this.stmt("DELETE FROM stowage_queue WHERE ns = ? AND key = ? AND id = ?").run(ns, key, id).changes === 1;
  }

  queueDropOldest(ns: string, key: string, count: number): number {
    return this.stmt(
      "DELETE FROM stowage_queue WHERE ns = @ns AND key = @key AND id IN (SELECT id FROM stowage_queue WHERE ns = @ns AND key = @key ORDER BY id LIMIT @count)",
    ).run({ ns, key, count }).changes;
  }

  queueLen(ns: string, key: string): number {
    return (this.stmt("SELECT count(*) AS n FROM stowage_queue WHERE ns = ? AND key = ?").get(ns, key) as { n: number }).n;
  }

  describe(now: number): EngineDescription {
    const namespaces: NamespaceInfo[] = [];
    let storedRows = 0;
    const kv = this.stmt(`SELECT ns, count(*) AS stored, sum(${LIVE}) AS live FROM stowage_kv GROUP BY ns`).all({ now }) as Array<{
      ns: string;
      stored: number;
      live: number;
    }>;
    for (const row of kv) {
      namespaces.push({ primitive: "kv", namespace: row.ns, count: row.live });
      storedRows += row.stored;
    }
    for (const primitive of ["log", "slot", "queue"] as const) {
      const rows = this.stmt(`SELECT ns, count(*) AS n FROM stowage_${primitive} GROUP BY ns`).all() as Array<{ ns: string; n: number }>;
      for (const row of rows) {
        namespaces.push({ primitive, namespace: row.ns, count: row.n });
        storedRows += row.n;
      }
    }
    return { schemaVersion: SCHEMA_VERSION, namespaces, storedRows };
  }
}
