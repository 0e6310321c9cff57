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
            UNION ALL SELECT ns, 'queue' AS kind, max(id) AS top FROM stowage_queue GROUP BY ns) m
          LEFT JOIN stowage_counter c ON c.ns = m.ns AND c.kind = m.kind
          WHERE c.value IS NULL OR c.value < m.top`,
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
