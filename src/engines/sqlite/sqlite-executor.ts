import type Database from "better-sqlite3";
import type { SqlExecutor, SqlRow } from "../sql/sql-executor.js";

/** Runs the shared SQL on one better-sqlite3 connection, with each statement prepared once and cached. */
export class SqliteExecutor implements SqlExecutor {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  all(sql: string, params: readonly unknown[]): SqlRow[] {
    const statement = this.prepare(sql);
    if (statement.reader) return statement.all(...params) as SqlRow[];
    statement.run(...params);
    return [];
  }

  run(sql: string, params: readonly unknown[]): number {
    return this.prepare(sql).run(...params).changes;
  }

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
