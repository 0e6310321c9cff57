import type { Awaitable } from "../engine.js";

/** A row as the drivers return it. */
export type SqlRow = Record<string, unknown>;

/**
 * How the shared SQL programs reach one connection (or one transaction). Statements use `?` placeholders; an
 * executor for a database with another style (PostgreSQL's `$1`) rewrites them once per statement text. A
 * synchronous driver (better-sqlite3) answers at once, so the programs run without a single promise.
 */
export interface SqlExecutor<R extends "sync" | "async" = "sync" | "async"> {
  /** The rows a statement returns. */
  all(sql: string, params: readonly unknown[]): R extends "sync" ? SqlRow[] : Awaitable<SqlRow[]>;
  /** The first row a statement returns, if any. */
  get(sql: string, params: readonly unknown[]): R extends "sync" ? SqlRow | undefined : Awaitable<SqlRow | undefined>;
  /** The first column of the first row a statement returns, if any (no row object is built). */
  value(sql: string, params: readonly unknown[]): R extends "sync" ? unknown : Awaitable<unknown>;
  /** Runs a statement; the number of rows it changed. */
  run(sql: string, params: readonly unknown[]): R extends "sync" ? number : Awaitable<number>;
}
