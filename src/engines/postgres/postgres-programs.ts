import { itemsToDrop } from "../queue-bound.js";
import { SINGLE_STATEMENT_OPS, sqlPrograms } from "../sql/sql-ops.js";
import { value, type SqlPrograms } from "../sql/sql-program.js";
import { PG_SCHEMA_VERSION } from "./postgres-schema.js";

/**
 * An append as one statement: the counter upsert in a data-modifying CTE feeds the insert. Its row lock serialises
 * the namespace's appends (so sequences follow commit order) and is held only for this one autocommit statement.
 */
const LOG_APPEND = `WITH c AS (
  INSERT INTO stowage_counter AS c (ns, kind, value) VALUES (?, 'log', 1)
  ON CONFLICT (ns, kind) DO UPDATE SET value = c.value + 1 RETURNING value)
INSERT INTO stowage_log (ns, seq, key, value, ts) SELECT ?, c.value, ?, ?, ? FROM c RETURNING seq`;

/** See `stowage_queue_push` in the schema: the bound check needs a fresh snapshot after the lock, which a CTE lacks. */
const QUEUE_PUSH = "SELECT stowage_queue_push(?, ?, ?, ?, ?, ?) AS id";

/**
 * The shared SQL programs with PostgreSQL's one-statement append and push. On SQLite the multi-statement programs
 * cost nothing extra (the statements run in process); on PostgreSQL each statement is a round trip, and a
 * transaction around several keeps the namespace's counter row locked across all of them.
 */
export const POSTGRES_PROGRAMS: SqlPrograms = {
  ...sqlPrograms(PG_SCHEMA_VERSION),

  *logAppend(ns, key, bytes, now) {
    return Number(yield* value(LOG_APPEND, [ns, ns, key, bytes, now]));
  },

  *queuePush(ns, key, bytes, now, bound) {
    const id = Number(yield* value(QUEUE_PUSH, [ns, key, bytes, now, bound.maxLen, bound.overflow === "reject"]));
    if (id < 0) itemsToDrop(ns, key, -id, bound); // refused: throws the same LIMIT_EXCEEDED as every engine
    return id;
  },
};

/** The operations that are one statement on PostgreSQL: the shared ones, plus append and push. */
export const POSTGRES_SINGLE_STATEMENT_OPS: ReadonlySet<keyof SqlPrograms> = new Set<keyof SqlPrograms>([
  ...SINGLE_STATEMENT_OPS,
  "logAppend",
  "queuePush",
]);
