/**
 * Many rows as one statement's parameters: how the restores write a batch with one INSERT … SELECT, whatever its
 * size, with one statement text (prepared once) for every batch.
 */

/** A column's type: text, bytes, or an integer (int8), any of them nullable. */
export type ColumnType = "text" | "bytes" | "int";

/** The columns of a row set, by name, in the order each row lists them. */
export type Columns = ReadonlyArray<readonly [name: string, type: ColumnType]>;

/** A row set of given columns: a FROM item `e` with those columns and `ord` (the row's position, from 1), and its parameters. */
export interface RowSet {
  /** The FROM item, with its placeholders. */
  readonly sql: string;
  /** The parameters of `sql` for these rows (each row lists the columns' values in order). */
  params(rows: ReadonlyArray<readonly unknown[]>): unknown[];
}

/** How a dialect passes a row set (see {@link RowSet}); `rowSet` is called once per statement text, not per batch. */
export type RowSetDialect = (columns: Columns) => RowSet;

/** A bytes column of many rows as one blob: the values end to end, and each row's start (from 1) and length there. */
interface PackedBytes {
  blob: Buffer;
  starts: number[];
  lengths: number[];
}

function packBytes(rows: ReadonlyArray<readonly unknown[]>, column: number): PackedBytes {
  const values = rows.map((row) => row[column] as Uint8Array);
  const starts: number[] = [];
  const lengths: number[] = [];
  let at = 1;
  for (const value of values) {
    starts.push(at);
    lengths.push(value.byteLength);
    at += value.byteLength;
  }
  return { blob: Buffer.concat(values), starts, lengths };
}

/** The positions of a row set's bytes columns. */
const bytesColumnsOf = (columns: Columns): number[] => columns.flatMap(([, type], i) => (type === "bytes" ? [i] : []));

/**
 * SQLite: the rows as one JSON array (expanded by json_each), the bytes of each bytes column concatenated into one
 * blob, each row carrying its value's start and length there (read back with substr, which counts bytes in a blob).
 * JSON cannot carry bytes, and a statement with a placeholder per value would need a text per batch size.
 */
export const JSON_ROW_SET: RowSetDialect = (columns) => {
  let at = 0;
  const selected = columns.map(([name, type]) => {
    const field = (i: number) => `json_extract(j.value, '$[${i}]')`;
    if (type !== "bytes") return `${field(at++)} AS ${name}`;
    // substr of an empty blob is NULL, not an empty blob; values are never NULL.
    const sql = `coalesce(substr(?, ${field(at)}, ${field(at + 1)}), x'') AS ${name}`;
    at += 2;
    return sql;
  });
  const sql = `(SELECT ${selected.join(", ")}, j.key + 1 AS ord FROM json_each(?) j) e`;
  const bytesColumns = bytesColumnsOf(columns);
  return {
    sql,
    params(rows) {
      const packed = new Map(bytesColumns.map((i) => [i, packBytes(rows, i)]));
      const json = rows.map((row, r) =>
        row.flatMap((cell, i) => {
          const bytes = packed.get(i);
          return bytes === undefined ? [cell] : [bytes.starts[r], bytes.lengths[r]];
        }),
      );
      return [...[...packed.values()].map((bytes) => bytes.blob), JSON.stringify(json)];
    },
  };
};

const PG_ARRAY_TYPES: Record<Exclude<ColumnType, "bytes">, string> = { text: "text[]", int: "bigint[]" };

/**
 * PostgreSQL: one array parameter per column, expanded together by unnest; a bytes column as one blob (a binary
 * parameter) with arrays of starts and lengths, cut with substr. A bytea[] parameter travels as hex text, which costs
 * the client its encoding and the server its parsing (measured: ~10% of a KV restore's server time, and twice the bytes).
 */
export const ARRAY_ROW_SET: RowSetDialect = (columns) => {
  const bytesColumns = bytesColumnsOf(columns);
  const unnested = columns.flatMap(([name, type]) => (type === "bytes" ? [`${name}_at`, `${name}_len`] : [name]));
  const arrays = columns.flatMap(([, type]) => (type === "bytes" ? ["?::bigint[]", "?::bigint[]"] : [`?::${PG_ARRAY_TYPES[type]}`]));
  const selected = columns.map(([name, type]) => (type === "bytes" ? `substr(?::bytea, u.${name}_at::int, u.${name}_len::int) AS ${name}` : `u.${name}`));
  return {
    sql: `(SELECT ${selected.join(", ")}, u.ord FROM unnest(${arrays.join(", ")}) WITH ORDINALITY AS u(${unnested.join(", ")}, ord)) e`,
    params(rows) {
      const packed = new Map(bytesColumns.map((i) => [i, packBytes(rows, i)]));
      const blobs = [...packed.values()].map((bytes) => bytes.blob);
      const lists = columns.flatMap((_, i) => {
        const bytes = packed.get(i);
        return bytes === undefined ? [rows.map((row) => row[i])] : [bytes.starts, bytes.lengths];
      });
      return [...blobs, ...lists];
    },
  };
};
