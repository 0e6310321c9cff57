/**
 * Stowage's own invariants over the sql family's tables, as queries that run unchanged on SQLite and PostgreSQL.
 * Each returns the rows that break its rule, none when the data is sound.
 */
export const SQL_INVARIANTS: ReadonlyArray<{ rule: string; sql: string }> = [
  {
    rule: "a queue key's kept length equals its items",
    sql: `SELECT coalesce(l.ns, q.ns) AS ns, coalesce(l.key, q.key) AS key, l.len AS kept, q.n AS items FROM stowage_queue_len l
          FULL JOIN (SELECT ns, key, count(*) AS n FROM stowage_queue GROUP BY ns, key) q ON q.ns = l.ns AND q.key = l.key
          WHERE l.len IS DISTINCT FROM q.n`,
  },
  {
    rule: "a namespace's counter is not behind the sequences and ids handed out under it",
    sql: `SELECT m.ns, m.kind, c.value AS counter, m.top FROM (
            SELECT ns, 'log' AS kind, max(seq) AS top FROM stowage_log GROUP BY ns
            UNION ALL SELECT ns, 'queue' AS kind, max(id) AS top FROM stowage_queue GROUP BY ns
            UNION ALL SELECT ns, 'work' AS kind, max(id) AS top FROM stowage_work GROUP BY ns) m
          LEFT JOIN stowage_counter c ON c.ns = m.ns AND c.kind = m.kind
          WHERE c.value IS NULL OR c.value < m.top`,
  },
  {
    rule: "a stream segment's row matches its entries (last sequence = count = entries, no gap)",
    sql: `SELECT coalesce(g.ns, e.ns) AS ns, coalesce(g.space, e.space) AS space, coalesce(g.segment, e.segment) AS segment,
            g.last_seq, g.count, e.n AS entries, e.top FROM stowage_stream_segment g
          FULL JOIN (SELECT ns, space, segment, count(*) AS n, max(seq) AS top, min(seq) AS bottom FROM stowage_stream GROUP BY ns, space, segment) e
            ON e.ns = g.ns AND e.space = g.space AND e.segment = g.segment
          WHERE coalesce(g.count, 0) <> coalesce(e.n, 0) OR coalesce(g.last_seq, 0) <> coalesce(e.top, 0) OR coalesce(e.n, 0) <> coalesce(e.top, 0)
            OR coalesce(e.bottom, 1) <> 1`,
  },
  {
    rule: "a namespace's KV changes belong to a history and lie after its trimmed ones",
    sql: `SELECT c.ns, min(c.seq) AS first, h.trimmed FROM stowage_kv_change c
          LEFT JOIN stowage_kv_history h ON h.ns = c.ns GROUP BY c.ns, h.trimmed
          HAVING h.trimmed IS NULL OR min(c.seq) <= h.trimmed`,
  },
  {
    rule: "a work item holds a lease token only while it is not dead",
    sql: "SELECT ns, key, id FROM stowage_work WHERE dead AND token IS NOT NULL",
  },
  {
    rule: "a work item has a dead time exactly when it is dead",
    sql: "SELECT ns, key, id, dead_at FROM stowage_work WHERE (dead AND dead_at IS NULL) OR (NOT dead AND dead_at IS NOT NULL)",
  },
  {
    rule: "slot versions are positive",
    sql: "SELECT ns, key, version FROM stowage_slot WHERE version < 1",
  },
];

/** One line per row that breaks a rule. */
export function describeViolations(rule: string, rows: ReadonlyArray<Record<string, unknown>>): string[] {
  return rows.map((row) => `${rule}: broken by ${JSON.stringify(row)}`);
}
