import { setTimeout as sleep } from "node:timers/promises";
import type Database from "better-sqlite3";
import { StowageError } from "../../api/errors.js";
import { waitWhileBusy } from "./sqlite-busy.js";

/** Marks a file as stowage's in the SQLite header ("STOW"), so a foreign file is never mistaken for ours. */
export const APPLICATION_ID = 0x53544f57;
/** The schema this code writes. A file with a higher `user_version` was written by a newer stowage. */
export const SCHEMA_VERSION = 5;

/** Migration N brings a file from version N - 1 to N. Append only; never edit a released one. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE stowage_kv (
     ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, expires_at INTEGER,
     PRIMARY KEY (ns, key)) WITHOUT ROWID;
   CREATE INDEX stowage_kv_expiry ON stowage_kv (expires_at) WHERE expires_at IS NOT NULL;
   CREATE TABLE stowage_log (
     ns TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, ts INTEGER NOT NULL,
     PRIMARY KEY (ns, seq)) WITHOUT ROWID;
   CREATE INDEX stowage_log_key ON stowage_log (ns, key, seq);
   CREATE TABLE stowage_slot (
     ns TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, value BLOB NOT NULL,
     PRIMARY KEY (ns, key)) WITHOUT ROWID;
   CREATE TABLE stowage_queue (
     ns TEXT NOT NULL, key TEXT NOT NULL, id INTEGER NOT NULL, value BLOB NOT NULL, pushed_at INTEGER NOT NULL,
     PRIMARY KEY (ns, key, id)) WITHOUT ROWID;
   CREATE TABLE stowage_counter (
     ns TEXT NOT NULL, kind TEXT NOT NULL, value INTEGER NOT NULL,
     PRIMARY KEY (ns, kind)) WITHOUT ROWID;`,
  // 2: each queue key's length kept by triggers, so a push's bound check and length() cost one lookup, not a count.
  `CREATE TABLE stowage_queue_len (
     ns TEXT NOT NULL, key TEXT NOT NULL, len INTEGER NOT NULL,
     PRIMARY KEY (ns, key)) WITHOUT ROWID;
   INSERT INTO stowage_queue_len (ns, key, len) SELECT ns, key, count(*) FROM stowage_queue GROUP BY ns, key;
   CREATE TRIGGER stowage_queue_pushed AFTER INSERT ON stowage_queue BEGIN
     INSERT INTO stowage_queue_len (ns, key, len) VALUES (new.ns, new.key, 1)
       ON CONFLICT (ns, key) DO UPDATE SET len = len + 1;
   END;
   CREATE TRIGGER stowage_queue_removed AFTER DELETE ON stowage_queue BEGIN
     UPDATE stowage_queue_len SET len = len - 1 WHERE ns = old.ns AND key = old.key;
     DELETE FROM stowage_queue_len WHERE ns = old.ns AND key = old.key AND len = 0;
   END;`,
  // 3: streams. Each segment's status has a row of its own (read without touching entries); entries are keyed by
  // segment and sequence, and indexed in (timestamp, segment, seq) order for reads across a space. `compression`
  // records how each value is stored (NULL: as given), so that reads never guess.
  `CREATE TABLE stowage_stream_segment (
     ns TEXT NOT NULL, space TEXT NOT NULL, segment TEXT NOT NULL, last_seq INTEGER NOT NULL, last_ts INTEGER NOT NULL, count INTEGER NOT NULL,
     PRIMARY KEY (ns, space, segment)) WITHOUT ROWID;
   CREATE TABLE stowage_stream (
     ns TEXT NOT NULL, space TEXT NOT NULL, segment TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, value BLOB NOT NULL, headers TEXT, compression TEXT,
     PRIMARY KEY (ns, space, segment, seq)) WITHOUT ROWID;
   CREATE INDEX stowage_stream_time ON stowage_stream (ns, space, ts, segment, seq);`,
  // 4: KV change history, for namespaces that asked for it (kv.watch): a row per such namespace with its change
  // counter, and a change record per row written or removed, numbered in commit order (SQLite has one writer at a
  // time). Triggers on stowage_kv write the records, so every write path (put, delete, range delete, sweep,
  // transactions, any process) is covered. They are created by the first kvHistoryStart and name the namespaces with
  // history (see `recordingTriggers` in sql-ops.ts), so a store without any pays nothing per write.
  `CREATE TABLE stowage_kv_history (
     ns TEXT NOT NULL PRIMARY KEY, last_seq INTEGER NOT NULL, trimmed INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE stowage_kv_change (
     ns TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, value BLOB,
     PRIMARY KEY (ns, seq)) WITHOUT ROWID;`,
  // 5: work queues (store.workQueue): a row per item in every state, dead letters flagged on the same row. Claims read
  // the claim index (live items of a key in claim order); a live item's dedup key is unique per queue key. Ids come
  // from the namespace's counter row of kind 'work'. `token` is the current lease's (a 48-bit integer), NULL when none.
  // The partial indexes say `NOT dead`, as the statements do (sql-work.ts), so that the planner matches them.
  `CREATE TABLE stowage_work (
     ns TEXT NOT NULL, key TEXT NOT NULL, id INTEGER NOT NULL, dead INTEGER NOT NULL DEFAULT 0,
     priority INTEGER NOT NULL, visible_at INTEGER NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
     token INTEGER, policy TEXT NOT NULL, dedup TEXT, last_error TEXT, dead_at INTEGER,
     pushed_at INTEGER NOT NULL, value BLOB NOT NULL,
     PRIMARY KEY (ns, key, id)) WITHOUT ROWID;
   CREATE INDEX stowage_work_claim ON stowage_work (ns, key, priority DESC, visible_at, id) WHERE NOT dead;
   CREATE UNIQUE INDEX stowage_work_dedup ON stowage_work (ns, key, dedup) WHERE dedup IS NOT NULL AND NOT dead;`,
];

interface FileIdentity {
  applicationId: number;
  userVersion: number;
  tables: number;
}

/** Reads the header fields and the schema in one read transaction, so a concurrent creator is seen whole or not at all. */
function identify(db: Database.Database): FileIdentity {
  return db.transaction(() => ({
    applicationId: db.pragma("application_id", { simple: true }) as number,
    userVersion: db.pragma("user_version", { simple: true }) as number,
    tables: (db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }).n,
  }))();
}

/**
 * Switches to WAL. Leaving rollback-journal mode needs an exclusive lock that SQLite takes without a busy handler, so
 * processes opening a new file together try again here, within the busy timeout, instead of failing at once. A file in
 * WAL mode already answers at once, without any lock.
 */
async function enableWal(db: Database.Database, busyTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    const mode = await waitWhileBusy(() => db.pragma("journal_mode = WAL", { simple: true }), Math.max(0, deadline - Date.now()));
    if (mode === "wal") return;
    // SQLite answers with the mode it stayed in when another connection kept it from switching: wait as for a lock.
    if (Date.now() >= deadline) {
      throw new StowageError("BACKEND_UNAVAILABLE", `could not switch to WAL mode (the journal mode stayed ${String(mode)})`);
    }
    await sleep(5);
  }
}

/** Refuses files that are not ours or are newer than this code; true when the file is ours (or new and empty). */
function check(identity: FileIdentity, path: string): void {
  if (identity.applicationId === 0 && identity.tables === 0) return; // a new, empty database
  if (identity.applicationId !== APPLICATION_ID) {
    throw new StowageError(
      "INCOMPATIBLE",
      `${path} is a SQLite database of another program (application_id ${identity.applicationId}, ${identity.tables} schema objects); stowage will not touch it`,
    );
  }
  if (identity.userVersion > SCHEMA_VERSION) {
    throw new StowageError(
      "INCOMPATIBLE",
      `${path} has stowage schema version ${identity.userVersion}, newer than this stowage (${SCHEMA_VERSION}); upgrade stowage to open it`,
    );
  }
}

/** True when the file needs no change: ours, at this code's schema version (WAL mode is checked apart). */
function upToDate(identity: FileIdentity): boolean {
  return identity.applicationId === APPLICATION_ID && identity.userVersion === SCHEMA_VERSION;
}

/**
 * Checks the file's identity before changing anything; a file already up to date is opened without the write lock, so
 * that opening never waits for another process's transaction. Otherwise brings its schema up to date inside one write
 * transaction (re-checked under the lock, so that processes opening a new file at once create it exactly once). Every
 * wait for a lock is asynchronous and bounded by `busyTimeoutMs`.
 */
export async function prepareSchema(db: Database.Database, path: string, busyTimeoutMs: number): Promise<void> {
  const seen = await waitWhileBusy(() => identify(db), busyTimeoutMs);
  check(seen, path);
  await enableWal(db, busyTimeoutMs);
  if (upToDate(seen)) return;
  await waitWhileBusy(() => db.exec("BEGIN IMMEDIATE"), busyTimeoutMs);
  try {
    const identity = identify(db);
    check(identity, path);
    const from = identity.applicationId === APPLICATION_ID ? identity.userVersion : 0;
    for (let version = from + 1; version <= SCHEMA_VERSION; version++) {
      db.exec(MIGRATIONS[version - 1] as string);
    }
    if (from < SCHEMA_VERSION) {
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
    db.exec("COMMIT");
  } catch (error) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw error;
  }
}
