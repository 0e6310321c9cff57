import type pg from "pg";
import { StowageError } from "../../api/errors.js";

/** The schema version this code writes. A database with a higher one was migrated by a newer stowage. */
export const PG_SCHEMA_VERSION = 1;

/** Migration N brings a schema from version N - 1 to N. Append only; never edit a released one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE stowage_kv (
     ns TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, value BYTEA NOT NULL, expires_at BIGINT,
     PRIMARY KEY (ns, key));
   CREATE INDEX stowage_kv_expiry ON stowage_kv (expires_at) WHERE expires_at IS NOT NULL;
   CREATE TABLE stowage_log (
     ns TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, key TEXT COLLATE "C" NOT NULL, value BYTEA NOT NULL, ts BIGINT NOT NULL,
     PRIMARY KEY (ns, seq));
   CREATE INDEX stowage_log_key ON stowage_log (ns, key, seq);
   CREATE TABLE stowage_slot (
     ns TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, version BIGINT NOT NULL, value BYTEA NOT NULL,
     PRIMARY KEY (ns, key));
   CREATE TABLE stowage_queue (
     ns TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, id BIGINT NOT NULL, value BYTEA NOT NULL, pushed_at BIGINT NOT NULL,
     PRIMARY KEY (ns, key, id));
   CREATE TABLE stowage_counter (
     ns TEXT COLLATE "C" NOT NULL, kind TEXT NOT NULL, value BIGINT NOT NULL,
     PRIMARY KEY (ns, kind));`,
];

/** Quotes an identifier (the schema name is validated, but quoting keeps it exact). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Brings the store's schema up to date. Runs in one transaction under an advisory lock keyed by the schema name, so
 * processes connecting for the first time at once migrate exactly once and the others wait, then find it done.
 */
export async function migrate(client: pg.ClientBase, schema: string, location: string): Promise<void> {
  const quoted = quoteIdent(schema);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`stowage:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${quoted}.stowage_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    const found = await client.query(`SELECT value FROM ${quoted}.stowage_meta WHERE name = 'schema_version'`);
    const current = found.rows.length === 0 ? 0 : Number(found.rows[0].value);
    if (current > PG_SCHEMA_VERSION) {
      throw new StowageError(
        "INCOMPATIBLE",
        `schema ${schema} at ${location} has stowage schema version ${current}, newer than this stowage (${PG_SCHEMA_VERSION}); upgrade stowage to use it`,
      );
    }
    await client.query(`SET LOCAL search_path TO ${quoted}`);
    for (let version = current + 1; version <= PG_SCHEMA_VERSION; version++) {
      await client.query(MIGRATIONS[version - 1] as string);
    }
    if (current < PG_SCHEMA_VERSION) {
      await client.query(
        `INSERT INTO ${quoted}.stowage_meta (name, value) VALUES ('schema_version', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
        [String(PG_SCHEMA_VERSION)],
      );
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
