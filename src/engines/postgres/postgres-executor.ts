import type pg from "pg";
import type { SqlExecutor, SqlRow } from "../sql/sql-executor.js";

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

  async all(sql: string, params: readonly unknown[]): Promise<SqlRow[]> {
    const statement = prepare(sql);
    const result = await this.target.query({ name: statement.name, text: statement.text, values: params.map(param) });
    return result.rows as SqlRow[];
  }

  async get(sql: string, params: readonly unknown[]): Promise<SqlRow | undefined> {
    return (await this.all(sql, params))[0];
  }

  async value(sql: string, params: readonly unknown[]): Promise<unknown> {
    const row = await this.get(sql, params);
    return row === undefined ? undefined : Object.values(row)[0];
  }

  async run(sql: string, params: readonly unknown[]): Promise<number> {
    const statement = prepare(sql);
    const result = await this.target.query({ name: statement.name, text: statement.text, values: params.map(param) });
    return result.rowCount ?? 0;
  }
}
