import type pg from "pg";
import type { EngineOps } from "../engine.js";
import type { SqlExecutor, SqlRow } from "../sql/sql-executor.js";
import { SQL_POINT_READS } from "../sql/sql-ops.js";

/** Statement text with `?` placeholders rewritten to `$1…`, and a stable name so each connection prepares it once. */
interface Prepared {
  name: string;
  text: string;
}

const prepared = new Map<string, Prepared>();

function prepare(sql: string): Prepared {
  let statement = prepared.get(sql);
  if (statement === undefined) {
    let n = 0;
    statement = { name: `stowage_${prepared.size + 1}`, text: sql.replace(/\?/g, () => `$${++n}`) };
    prepared.set(sql, statement);
  }
  return statement;
}

/** node-postgres sends Buffers as bytea; plain Uint8Arrays become Buffer views (no copy). */
function param(value: unknown): unknown {
  return value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
}

/** Runs the shared SQL on a pool (one statement per checkout) or on one client inside a transaction. */
export class PostgresExecutor implements SqlExecutor<"async"> {
  constructor(private readonly target: pg.Pool | pg.PoolClient) {}

  // Plain promise chains, not async functions: a point read goes through `value` or `get` on every call.
  all(sql: string, params: readonly unknown[]): Promise<SqlRow[]> {
    return this.query(sql, params).then(rowsOf);
  }

  get(sql: string, params: readonly unknown[]): Promise<SqlRow | undefined> {
    return this.query(sql, params).then(firstRow);
  }

  value(sql: string, params: readonly unknown[]): Promise<unknown> {
    return this.query(sql, params).then(firstValue);
  }

  run(sql: string, params: readonly unknown[]): Promise<number> {
    return this.query(sql, params).then(rowCountOf);
  }

  private query(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    const statement = prepare(sql);
    return this.target.query({ name: statement.name, text: statement.text, values: params.map(param) });
  }
}

const rowsOf = (result: pg.QueryResult): SqlRow[] => result.rows as SqlRow[];
const firstRow = (result: pg.QueryResult): SqlRow | undefined => result.rows[0] as SqlRow | undefined;
const firstValue = (result: pg.QueryResult): unknown => {
  const row = result.rows[0] as SqlRow | undefined;
  return row === undefined ? undefined : Object.values(row)[0];
};
const rowCountOf = (result: pg.QueryResult): number => result.rowCount ?? 0;

/**
 * Binds the point reads (`kvGet`, `kvGetEntry`, `slotGet`) of `ops` to `pool` directly: each is one `pool.query` of
 * its named statement, answered in the query's own `then` (no program, executor or parameter copy on the path a get
 * takes on every call). Their arguments are strings and numbers, sent as they are.
 */
export function bindPointReads(ops: EngineOps, pool: pg.Pool, mapError: (error: unknown) => Error): void {
  const target = ops as unknown as Record<string, unknown>;
  for (const [name, read] of Object.entries(SQL_POINT_READS)) {
    const { name: statementName, text } = prepare(read.sql);
    const finish = read.finish as (result: unknown) => unknown;
    const oneValue = read.kind === "value";
    const answer = (result: pg.QueryResult): unknown => {
      try {
        const row = result.rows[0] as SqlRow | undefined;
        // A one-value read answers its row's only column (named by the result: no Object.values per read).
        return finish(oneValue ? (row === undefined ? undefined : row[(result.fields[0] as pg.FieldDef).name]) : row);
      } catch (error) {
        throw mapError(error);
      }
    };
    const fail = (error: unknown): never => {
      throw mapError(error);
    };
    // A config of three fields, like a plain named query: node-postgres copies it per query, descriptor by descriptor.
    target[name] = (...values: unknown[]) => pool.query({ name: statementName, text, values }).then(answer, fail);
  }
}
