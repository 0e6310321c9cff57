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
  const bytesColumns = columns.flatMap(([, type], i) => (type === "bytes" ? [i] : []));
  return {
    sql,
    params(rows) {
      const blobs = bytesColumns.map((i) => Buffer.concat(rows.map((row) => row[i] as Uint8Array)));
      const starts = bytesColumns.map(() => 1);
      const json = rows.map((row) =>
        row.flatMap((cell, i) => {
          const b = bytesColumns.indexOf(i);
          if (b < 0) return [cell];
          const length = (cell as Uint8Array).byteLength;
          const start = starts[b] as number;
          starts[b] = start + length;
          return [start, length];
        }),
      );
      return [...blobs, JSON.stringify(json)];
    },
  };
};

const PG_ARRAY_TYPES: Record<ColumnType, string> = { text: "text[]", bytes: "bytea[]", int: "bigint[]" };

/** PostgreSQL: one array parameter per column, expanded together by unnest. */
export const ARRAY_ROW_SET: RowSetDialect = (columns) => ({
  sql: `unnest(${columns.map(([, type]) => `?::${PG_ARRAY_TYPES[type]}`).join(", ")}) WITH ORDINALITY AS e(${columns.map(([name]) => name).join(", ")}, ord)`,
  params: (rows) => columns.map((_, i) => rows.map((row) => row[i])),
});
