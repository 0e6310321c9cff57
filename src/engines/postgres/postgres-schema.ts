import type pg from "pg";
import { StowageError } from "../../api/errors.js";

/** The schema version this code writes. A database with a higher one was migrated by a newer stowage. */
export const PG_SCHEMA_VERSION = 6;

/** Migration N brings a schema from version N - 1 to N. Append only; never edit a released one. */
export const MIGRATIONS: readonly string[] = [
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
  // 2: each queue key's length kept by triggers (a push's bound check and length() are one lookup, not a count), and
  // a batch of pushes as one function call: one round trip, the namespace's counter row locked for that statement only.
  // The queue table is locked first: processes still on version 1 may be pushing and acking, and a change between
  // the backfill's count and the trigger's creation would leave a length wrong for good.
  `LOCK TABLE stowage_queue IN SHARE ROW EXCLUSIVE MODE;
   CREATE TABLE stowage_queue_len (
     ns TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, len BIGINT NOT NULL,
     PRIMARY KEY (ns, key));
   INSERT INTO stowage_queue_len (ns, key, len) SELECT ns, key, count(*) FROM stowage_queue GROUP BY ns, key;
   CREATE FUNCTION stowage_queue_count() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
   BEGIN
     IF TG_OP = 'INSERT' THEN
       INSERT INTO stowage_queue_len AS l (ns, key, len) VALUES (NEW.ns, NEW.key, 1)
         ON CONFLICT (ns, key) DO UPDATE SET len = l.len + excluded.len;
     ELSE
       UPDATE stowage_queue_len SET len = len - 1 WHERE ns = OLD.ns AND key = OLD.key;
       DELETE FROM stowage_queue_len WHERE ns = OLD.ns AND key = OLD.key AND len = 0;
     END IF;
     RETURN NULL;
   END $$;
   CREATE TRIGGER stowage_queue_count AFTER INSERT OR DELETE ON stowage_queue
     FOR EACH ROW EXECUTE FUNCTION stowage_queue_count();
   CREATE FUNCTION stowage_queue_push(p_ns TEXT, p_keys TEXT[], p_values BYTEA[], p_now BIGINT[], p_max BIGINT[], p_reject BOOLEAN[])
   RETURNS BIGINT[] LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
   -- Pushes a batch to one namespace, in order. For each item: its id; or, when its queue is full and refuses,
   -- minus the queue's length (that item alone is not written).
   DECLARE
     v_ids BIGINT[] := '{}';
     v_next BIGINT;
     v_len BIGINT;
   BEGIN
     -- The counter row first, locked to commit: it serialises the namespace's pushes, so ids follow commit order and
     -- each length read below is exact (at READ COMMITTED each statement here sees what committed before it).
     INSERT INTO stowage_counter AS c (ns, kind, value) VALUES (p_ns, 'queue', 0)
       ON CONFLICT (ns, kind) DO UPDATE SET value = c.value RETURNING c.value INTO v_next;
     FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
       SELECT l.len INTO v_len FROM stowage_queue_len l WHERE l.ns = p_ns AND l.key = p_keys[i];
       v_len := coalesce(v_len, 0);
       IF v_len >= p_max[i] AND p_reject[i] THEN
         v_ids := v_ids || -v_len;
         CONTINUE;
       END IF;
       IF v_len >= p_max[i] THEN
         DELETE FROM stowage_queue WHERE ns = p_ns AND key = p_keys[i] AND id IN (
           SELECT q.id FROM stowage_queue q WHERE q.ns = p_ns AND q.key = p_keys[i] ORDER BY q.id LIMIT v_len - p_max[i] + 1);
       END IF;
       v_next := v_next + 1;
       INSERT INTO stowage_queue (ns, key, id, value, pushed_at) VALUES (p_ns, p_keys[i], v_next, p_values[i], p_now[i]);
       v_ids := v_ids || v_next;
     END LOOP;
     UPDATE stowage_counter SET value = v_next WHERE ns = p_ns AND kind = 'queue';
     RETURN v_ids;
   END $$;`,
  // 3: streams (see the SQLite schema), and the notifications of live feeds.
  `CREATE TABLE stowage_stream_segment (
     ns TEXT COLLATE "C" NOT NULL, space TEXT COLLATE "C" NOT NULL, segment TEXT COLLATE "C" NOT NULL,
     last_seq BIGINT NOT NULL, last_ts BIGINT NOT NULL, count BIGINT NOT NULL,
     PRIMARY KEY (ns, space, segment));
   CREATE TABLE stowage_stream (
     ns TEXT COLLATE "C" NOT NULL, space TEXT COLLATE "C" NOT NULL, segment TEXT COLLATE "C" NOT NULL,
     seq BIGINT NOT NULL, ts BIGINT NOT NULL, value BYTEA NOT NULL, headers TEXT, compression TEXT,
     PRIMARY KEY (ns, space, segment, seq));
   CREATE INDEX stowage_stream_time ON stowage_stream (ns, space, ts, segment, seq);
   -- Live feeds: a statement that adds log or stream entries notifies at commit (once per transaction and table),
   -- but only while some process listens: a NOTIFY serialises the commits of every notifying transaction of the
   -- database, a price only stores with live feeds should pay. Listeners register their backend here.
   CREATE TABLE stowage_listeners (pid INTEGER PRIMARY KEY, since BIGINT NOT NULL);
   CREATE FUNCTION stowage_notify() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
   BEGIN
     IF EXISTS (SELECT 1 FROM stowage_listeners) THEN
       PERFORM pg_notify('stowage_changes', current_schema() || ':' || TG_TABLE_NAME);
     END IF;
     RETURN NULL;
   END $$;
   CREATE TRIGGER stowage_log_notify AFTER INSERT ON stowage_log FOR EACH STATEMENT EXECUTE FUNCTION stowage_notify();
   CREATE TRIGGER stowage_stream_notify AFTER INSERT ON stowage_stream FOR EACH STATEMENT EXECUTE FUNCTION stowage_notify();`,
  // 4: KV change history for the namespaces that asked for it (kv.watch): the SQLite schema's tables, without the
  // history row's counter (see below).
  // Row triggers write the change records. Their WHEN clauses name the namespaces with history, and
  // stowage_kv_history_start rewrites them when one is added: trigger definitions are read from the catalog at each
  // statement, not from a transaction's snapshot, so a transaction that began earlier (even SERIALIZABLE) records its
  // later writes. The rewrite takes a lock that waits for every transaction that has written stowage_kv, so none
  // commits an unrecorded write after it. A history namespace's writers take a transaction-level advisory lock (in a
  // BEFORE trigger, ahead of the row's own lock) and number their records from a sequence while holding it, so the
  // numbers follow commit order — without a counter row, whose updates would make every SERIALIZABLE transaction of
  // the namespace conflict with every other writer. Numbers grow but skip (the sequence serves every namespace, and a
  // rollback burns its numbers). Change records notify live feeds like log and stream entries do.
  `CREATE TABLE stowage_kv_history (ns TEXT COLLATE "C" NOT NULL PRIMARY KEY, trimmed BIGINT NOT NULL);
   CREATE TABLE stowage_kv_change (
     ns TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, key TEXT COLLATE "C" NOT NULL, value BYTEA,
     PRIMARY KEY (ns, seq));
   CREATE SEQUENCE stowage_kv_change_seq;
   CREATE FUNCTION stowage_kv_history_lock(p_ns TEXT) RETURNS void LANGUAGE sql AS $$
     SELECT pg_advisory_xact_lock(hashtext('stowage_kv_history:' || current_schema()), hashtext(p_ns)) $$;
   CREATE FUNCTION stowage_kv_lock() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
   BEGIN
     IF TG_OP = 'DELETE' THEN
       PERFORM stowage_kv_history_lock(OLD.ns);
       RETURN OLD;
     END IF;
     PERFORM stowage_kv_history_lock(NEW.ns);
     RETURN NEW;
   END $$;
   CREATE FUNCTION stowage_kv_record() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
   BEGIN
     -- The BEFORE trigger took the lock for inserts (upserts) and deletes; a plain UPDATE statement takes it here.
     IF TG_OP = 'DELETE' THEN
       PERFORM stowage_kv_history_lock(OLD.ns);
       INSERT INTO stowage_kv_change (ns, seq, key, value) VALUES (OLD.ns, nextval('stowage_kv_change_seq'), OLD.key, NULL);
     ELSE
       PERFORM stowage_kv_history_lock(NEW.ns);
       INSERT INTO stowage_kv_change (ns, seq, key, value) VALUES (NEW.ns, nextval('stowage_kv_change_seq'), NEW.key, NEW.value);
     END IF;
     RETURN NULL;
   END $$;
   CREATE FUNCTION stowage_kv_history_start(p_ns TEXT, p_max INTEGER) RETURNS BIGINT[] LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
   DECLARE
     v_trimmed BIGINT;
     v_names TEXT;
     v_tries INTEGER := 0;
     v_count INTEGER;
   BEGIN
     -- At REPEATABLE READ the list below would be read from before the lock, and could drop a namespace.
     IF current_setting('transaction_isolation') <> 'read committed' THEN
       RAISE EXCEPTION 'turning a KV history on needs READ COMMITTED, not %', current_setting('transaction_isolation');
     END IF;
     SELECT trimmed INTO v_trimmed FROM stowage_kv_history WHERE ns = p_ns;
     IF NOT FOUND THEN
       -- The lock waits for every transaction that has written stowage_kv, and holds new writes back until this
       -- commits. Tried without queueing first, for up to a second: a queued request holds back every KV write
       -- behind it while it waits.
       LOOP
         BEGIN
           LOCK TABLE stowage_kv IN SHARE ROW EXCLUSIVE MODE NOWAIT;
           EXIT;
         EXCEPTION WHEN lock_not_available THEN
           v_tries := v_tries + 1;
           IF v_tries >= 200 THEN
             LOCK TABLE stowage_kv IN SHARE ROW EXCLUSIVE MODE;
             EXIT;
           END IF;
           PERFORM pg_sleep(0.005);
         END;
       END LOOP;
       -- Counted under the lock, which serialises turn-ons: no room answers the count alone (the caller refuses).
       SELECT count(*) INTO v_count FROM stowage_kv_history WHERE ns <> p_ns;
       IF v_count >= p_max THEN RETURN ARRAY[v_count]; END IF;
       INSERT INTO stowage_kv_history (ns, trimmed) VALUES (p_ns, 0) ON CONFLICT (ns) DO NOTHING;
       SELECT string_agg(quote_literal(ns), ', ' ORDER BY ns) INTO v_names FROM stowage_kv_history;
       EXECUTE format('CREATE OR REPLACE TRIGGER stowage_kv_locked BEFORE INSERT ON stowage_kv FOR EACH ROW '
         'WHEN (NEW.ns IN (%s)) EXECUTE FUNCTION stowage_kv_lock()', v_names);
       EXECUTE format('CREATE OR REPLACE TRIGGER stowage_kv_locked_delete BEFORE DELETE ON stowage_kv FOR EACH ROW '
         'WHEN (OLD.ns IN (%s)) EXECUTE FUNCTION stowage_kv_lock()', v_names);
       EXECUTE format('CREATE OR REPLACE TRIGGER stowage_kv_written AFTER INSERT OR UPDATE ON stowage_kv FOR EACH ROW '
         'WHEN (NEW.ns IN (%s)) EXECUTE FUNCTION stowage_kv_record()', v_names);
       EXECUTE format('CREATE OR REPLACE TRIGGER stowage_kv_deleted AFTER DELETE ON stowage_kv FOR EACH ROW '
         'WHEN (OLD.ns IN (%s)) EXECUTE FUNCTION stowage_kv_record()', v_names);
       v_trimmed := 0;
     END IF;
     -- The last change committed: every earlier one of the namespace committed before it (see above).
     RETURN ARRAY[coalesce((SELECT max(seq) FROM stowage_kv_change WHERE ns = p_ns), v_trimmed), v_trimmed];
   END $$;
   CREATE TRIGGER stowage_kv_change_notify AFTER INSERT ON stowage_kv_change FOR EACH STATEMENT EXECUTE FUNCTION stowage_notify();`,
  // 5: queue lengths kept by statement triggers over the statement's rows (transition tables) instead of row
  // triggers: a restore's INSERT of 1,000 items to 8 keys updated each key's length row 125 times in one statement
  // (a new row version each time), now once per key. stowage_queue_push inserts one item per statement, and a
  // statement's AFTER triggers fire when it ends, so the next item's bound check still reads an exact length. An
  // insert takes the length rows in key order. The queue table is locked first, as in 2: no push or ack of a process
  // still on version 4 falls between dropping the row trigger and creating these.
  `LOCK TABLE stowage_queue IN SHARE ROW EXCLUSIVE MODE;
   DROP TRIGGER stowage_queue_count ON stowage_queue;
   DROP FUNCTION stowage_queue_count();
   CREATE FUNCTION stowage_queue_count_added() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
   BEGIN
     INSERT INTO stowage_queue_len AS l (ns, key, len)
       SELECT ns, key, count(*) FROM stowage_queue_added GROUP BY ns, key ORDER BY ns, key
       ON CONFLICT (ns, key) DO UPDATE SET len = l.len + excluded.len;
     RETURN NULL;
   END $$;
   CREATE FUNCTION stowage_queue_count_removed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
   DECLARE
     r RECORD;
     v_len BIGINT;
   BEGIN
     -- Key by key, each a primary-key lookup: a join the planner might make a scan of the length table, which at
     -- SERIALIZABLE would make every ack conflict with every other. A key left empty loses its row.
     FOR r IN SELECT ns, key, count(*) AS n FROM stowage_queue_removed GROUP BY ns, key ORDER BY ns, key LOOP
       UPDATE stowage_queue_len SET len = len - r.n WHERE ns = r.ns AND key = r.key RETURNING len INTO v_len;
       IF v_len = 0 THEN
         DELETE FROM stowage_queue_len WHERE ns = r.ns AND key = r.key;
       END IF;
     END LOOP;
     RETURN NULL;
   END $$;
   CREATE TRIGGER stowage_queue_count_added AFTER INSERT ON stowage_queue
     REFERENCING NEW TABLE AS stowage_queue_added FOR EACH STATEMENT EXECUTE FUNCTION stowage_queue_count_added();
   CREATE TRIGGER stowage_queue_count_removed AFTER DELETE ON stowage_queue
     REFERENCING OLD TABLE AS stowage_queue_removed FOR EACH STATEMENT EXECUTE FUNCTION stowage_queue_count_removed();`,
  // 6: work queues (see the SQLite schema's version 5). A statement that adds items notifies at commit, as log and
  // stream entries do, so that other processes' idle workers can wake. Each item's row is inserted, updated at every
  // claim and settle, then deleted: dead tuples pile up at the head of the claim index unless vacuumed often.
  `CREATE TABLE stowage_work (
     ns TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, id BIGINT NOT NULL, dead BOOLEAN NOT NULL DEFAULT false,
     priority INTEGER NOT NULL, visible_at BIGINT NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
     token BIGINT, policy TEXT NOT NULL, dedup TEXT COLLATE "C", last_error TEXT, dead_at BIGINT,
     pushed_at BIGINT NOT NULL, value BYTEA NOT NULL,
     PRIMARY KEY (ns, key, id));
   CREATE INDEX stowage_work_claim ON stowage_work (ns, key, priority DESC, visible_at, id) WHERE NOT dead;
   CREATE UNIQUE INDEX stowage_work_dedup ON stowage_work (ns, key, dedup) WHERE dedup IS NOT NULL AND NOT dead;
   CREATE TRIGGER stowage_work_notify AFTER INSERT ON stowage_work FOR EACH STATEMENT EXECUTE FUNCTION stowage_notify();
   ALTER TABLE stowage_work SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_cost_delay = 0);`,
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
  // READ COMMITTED (the pool's default is SERIALIZABLE): the version is read after the lock, from a fresh snapshot; at
  // SERIALIZABLE it would come from the snapshot taken before the wait, and a second process would migrate again.
  await client.query("BEGIN ISOLATION LEVEL READ COMMITTED");
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
