import type Database from "better-sqlite3";
import type { SqlExecutor, SqlRow } from "../sql/sql-executor.js";

/** Runs the shared SQL on one better-sqlite3 connection, synchronously, with each statement prepared once and cached. */
export class SqliteExecutor implements SqlExecutor<"sync"> {
  private readonly statements = new Map<string, Database.Statement>();
  /** The same statements in pluck mode (first column only), kept apart because the mode belongs to the statement. */
  private readonly plucked = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  all(sql: string, params: readonly unknown[]): SqlRow[] {
    const statement = this.prepare(sql);
    if (statement.reader) return statement.all(...params) as SqlRow[];
    statement.run(...params);
    return [];
  }

  get(sql: string, params: readonly unknown[]): SqlRow | undefined {
    const statement = this.prepare(sql);
    if (statement.reader) return statement.get(...params) as SqlRow | undefined;
    statement.run(...params);
    return undefined;
  }

  value(sql: string, params: readonly unknown[]): unknown {
    return this.prepare(sql, true).get(...params);
  }

  run(sql: string, params: readonly unknown[]): number {
    return this.prepare(sql).run(...params).changes;
  }

  private prepare(sql: string, pluck = false): Database.Statement {
    const cache = pluck ? this.plucked : this.statements;
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      if (pluck) statement.pluck();
      cache.set(sql, statement);
    }
    return statement;
  }
}
