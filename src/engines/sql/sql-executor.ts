import type { Awaitable } from "../engine.js";

/** A row as the drivers return it. */
export type SqlRow = Record<string, unknown>;

/**
 * How the shared SQL primitives reach one connection (or one transaction). Statements use `?` placeholders; an
 * executor for a database with another style (PostgreSQL's `$1`) rewrites them once per statement text.
 */
export interface SqlExecutor {
  /** The rows a statement returns. */
  all(sql: string, params: readonly unknown[]): Awaitable<SqlRow[]>;
  /** Runs a statement; the number of rows it changed. */
  run(sql: string, params: readonly unknown[]): Awaitable<number>;
}
