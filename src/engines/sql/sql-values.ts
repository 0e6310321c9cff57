import { ownedBytes } from "../copy-bytes.js";
import type { SqlRow } from "./sql-executor.js";

/*
 * Small pieces the sql family's programs share (sql-ops.ts, sql-work.ts): how driver values become stowage's, and the
 * statements of a namespace's counter row.
 */

/**
 * Drivers return binary columns as Buffers; callers get plain Uint8Arrays of their own: over the same memory when the
 * Buffer owns it (better-sqlite3), a copy when it is a view on Node's shared pool (node-postgres parses small bytea so).
 */
export function bytesOf(value: unknown): Uint8Array {
  return ownedBytes(value as Buffer);
}

/** A numeric column of a row (int8 arrives as a number from both drivers), 0 when the row or value is missing. */
export const num = (row: SqlRow | undefined, column: string): number => Number(row?.[column] ?? 0);

/** A nullable numeric column. */
export const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/** Takes a namespace's counter row, creating it at 0: an upsert, so that it locks the row (PostgreSQL) as appends and pushes do. */
export const COUNTER_TAKE =
  "INSERT INTO stowage_counter (ns, kind, value) VALUES (?, ?, 0) ON CONFLICT (ns, kind) DO UPDATE SET value = stowage_counter.value RETURNING value";
export const COUNTER_SET = "UPDATE stowage_counter SET value = ? WHERE ns = ? AND kind = ?";
