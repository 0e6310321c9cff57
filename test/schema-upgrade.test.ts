/**
 * Upgrading a store written by schema version 1 (queue lengths counted per push) to version 2 (queue lengths kept
 * by triggers): the migration backfills every queue key's length, and bounds, acks and drops keep it exact after.
 * On SQLite and on a real PostgreSQL server. And PostgreSQL's version 4 (lengths kept by a row trigger) to 5 (by
 * statement triggers): the lengths it kept stay right, and writes after the upgrade keep them so. And the work queues'
 * table (SQLite 4 → 5, PostgreSQL 5 → 6): the stored data stays, and work queues work on the upgraded store.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { MIGRATIONS as PG_MIGRATIONS, PG_SCHEMA_VERSION } from "../src/engines/postgres/postgres-schema.js";
import { APPLICATION_ID, MIGRATIONS as SQLITE_MIGRATIONS, SCHEMA_VERSION } from "../src/engines/sqlite/sqlite-schema.js";
import { isStowageError, migrateStore, openStore, utf8, type KvChange, type Store } from "../src/index.js";
import { tempDir } from "./helpers/child.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

// A real server for this file; if it cannot start, every test that needs it fails rather than skips.
const pgServer = usePostgresServer();

/** Queue rows as version 1 stored them: key "a" holds 3 items, key "b" 2, in namespace "jobs"; "other" holds 1. */
const V1_QUEUE_ROWS: Array<[string, string, number]> = [
  ["jobs", "a", 1],
  ["jobs", "a", 2],
  ["jobs", "b", 3],
  ["jobs", "a", 4],
  ["jobs", "b", 5],
  ["other", "a", 1],
];

/** What every engine must show after the upgrade, and how the kept lengths behave under writes. */
async function checkUpgraded(store: Store): Promise<void> {
  const jobs = store.queue("jobs", { codec: utf8 });
  assert.equal(await jobs.len("a"), 3);
  assert.equal(await jobs.len("b"), 2);
  assert.equal(await store.queue("other").len("a"), 1);
  assert.equal(await jobs.len("never"), 0);

  // A bound of 3 on key "a" is already reached: "reject" refuses without writing, "drop-oldest" drops item 1.
  const strict = store.queue("jobs", { codec: utf8, maxLen: 3 });
  await assert.rejects(strict.push("a", "x"), (error: unknown) => isStowageError(error, "LIMIT_EXCEEDED"));
  assert.equal(await jobs.len("a"), 3);
  const rolling = store.queue("jobs", { codec: utf8, maxLen: 3, overflow: "drop-oldest" });
  const id = await rolling.push("a", "new");
  assert.equal(id, 6, "ids go on from the stored counter, with no gap left by the refused push");
  assert.deepEqual((await jobs.peek("a", 10)).map((item) => item.id), [2, 4, 6]);
  assert.equal(await jobs.len("a"), 3);

  assert.equal(await jobs.ack("b", 3), true);
  assert.equal(await jobs.ack("b", 3), false);
  assert.equal(await jobs.len("b"), 1);
  assert.equal(await jobs.dropOldest("a", 2), 2);
  assert.equal(await jobs.len("a"), 1);
  await jobs.ack("b", 5);
  assert.equal(await jobs.len("b"), 0);
  assert.equal(await jobs.push("b", "again"), 7);
  assert.equal(await jobs.len("b"), 1);

  // Version 4's KV change history works on the upgraded store: a watch reports the writes after its start.
  const kv = store.kv("settings", { codec: utf8 });
  const stop = new AbortController();
  const feed = kv.watch(["k"], { signal: stop.signal })[Symbol.asyncIterator]();
  const first = feed.next();
  let reported: IteratorResult<KvChange<string>> | undefined;
  for (let i = 1; reported === undefined; i++) {
    assert.ok(i <= 500, "the watch started");
    await kv.put("k", `v${i}`);
    reported = await Promise.race([first, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5))]);
  }
  assert.match(String(reported.value.value), /^v\d+$/);
  stop.abort();
  assert.deepEqual((await store.check()).problems, []);
}

test("SQLite: a version 1 file is upgraded in place and its queue lengths are backfilled", async () => {
  const tmp = tempDir("upgrade");
  try {
    const path = join(tmp.dir, "v1.db");
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.exec(SQLITE_MIGRATIONS[0] as string);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma("user_version = 1");
    const insert = db.prepare("INSERT INTO stowage_queue (ns, key, id, value, pushed_at) VALUES (?, ?, ?, ?, 0)");
    for (const [ns, key, id] of V1_QUEUE_ROWS) insert.run(ns, key, id, Buffer.from(`v${id}`));
    db.exec("INSERT INTO stowage_counter (ns, kind, value) VALUES ('jobs', 'queue', 5), ('other', 'queue', 1)");
    db.close();

    const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    try {
      assert.equal((await store.info()).schemaVersion, SCHEMA_VERSION);
      await checkUpgraded(store);
    } finally {
      await store.close();
    }
  } finally {
    tmp.remove();
  }
});

test("PostgreSQL: a version 1 schema is upgraded on connect and its queue lengths are backfilled", async () => {
  const schema = "upgrade_v1";
  const client = new pg.Client({ connectionString: pgServer().dsn });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`SET search_path TO ${schema}`);
    await client.query(PG_MIGRATIONS[0] as string);
    await client.query("CREATE TABLE stowage_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)");
    await client.query("INSERT INTO stowage_meta (name, value) VALUES ('schema_version', '1')");
    for (const [ns, key, id] of V1_QUEUE_ROWS) {
      await client.query("INSERT INTO stowage_queue (ns, key, id, value, pushed_at) VALUES ($1, $2, $3, $4, 0)", [ns, key, id, Buffer.from(`v${id}`)]);
    }
    await client.query("INSERT INTO stowage_counter (ns, kind, value) VALUES ('jobs', 'queue', 5), ('other', 'queue', 1)");
  } finally {
    await client.end();
  }

  const store = await openStore({ backend: "postgres", dsn: pgServer().dsn, schema });
  try {
    assert.equal((await store.info()).schemaVersion, PG_SCHEMA_VERSION);
    await checkUpgraded(store);
  } finally {
    await store.close();
  }
});

test("PostgreSQL: a version 4 schema (row trigger) is upgraded to statement triggers and keeps its queue lengths right", async () => {
  const schema = "upgrade_v4";
  const client = new pg.Client({ connectionString: pgServer().dsn });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`SET search_path TO ${schema}`);
    for (const migration of PG_MIGRATIONS.slice(0, 4)) await client.query(migration);
    await client.query("CREATE TABLE stowage_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)");
    await client.query("INSERT INTO stowage_meta (name, value) VALUES ('schema_version', '4')");
    // Pushed as version 4 pushes (its row trigger counts them), plus one pushed and acknowledged: key "c" left empty.
    const push = "SELECT stowage_queue_push($1, $2::text[], $3::bytea[], $4::bigint[], $5::bigint[], $6::boolean[])";
    for (const ns of ["jobs", "other"]) {
      const rows = V1_QUEUE_ROWS.filter((row) => row[0] === ns);
      const many = <T>(value: T) => rows.map(() => value);
      await client.query(push, [ns, rows.map((row) => row[1]), rows.map((row) => Buffer.from(`v${row[2]}`)), many(0), many(1_000), many(false)]);
    }
    await client.query(push, ["spare", ["c"], [Buffer.from("x")], [0], [1_000], [false]]);
    await client.query("DELETE FROM stowage_queue WHERE ns = 'spare'");
    const kept = await client.query("SELECT ns, key, len FROM stowage_queue_len ORDER BY ns, key");
    assert.deepEqual(kept.rows, [
      { ns: "jobs", key: "a", len: "3" },
      { ns: "jobs", key: "b", len: "2" },
      { ns: "other", key: "a", len: "1" },
    ]);
  } finally {
    await client.end();
  }

  const store = await openStore({ backend: "postgres", dsn: pgServer().dsn, schema, sweepIntervalMs: 0 });
  try {
    assert.equal((await store.info()).schemaVersion, PG_SCHEMA_VERSION);
    const triggers = new pg.Client({ connectionString: pgServer().dsn });
    await triggers.connect();
    try {
      const found = await triggers.query(
        "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'stowage_queue' AND NOT t.tgisinternal ORDER BY tgname",
        [schema],
      );
      assert.deepEqual(found.rows.map((row: { tgname: string }) => row.tgname), ["stowage_queue_count_added", "stowage_queue_count_removed"]);
    } finally {
      await triggers.end();
    }
    await checkUpgraded(store);

    // A restore inserts many keys' items in one statement, and a key's items span batches (1,000 rows each): each
    // statement adds its count to a key's length. A drop removes many items in one statement.
    const source = await openStore({ backend: "memory" });
    try {
      const restored = source.queue("restored", { codec: utf8 });
      await source.transaction(async (tx) => {
        for (let i = 0; i < 2_500; i++) await tx.queue("restored").push(`k${i % 4}`, utf8.encode(`item ${i}`));
      });
      await restored.ack("k0", 1);
      // The target holds the namespaces above too, so the migration's validation (whole stores) differs: not asserted.
      assert.equal((await migrateStore(source, store, { allowNonEmpty: true })).items, 2_499);
    } finally {
      await source.close();
    }
    const restored = store.queue("restored", { codec: utf8 });
    assert.deepEqual(await Promise.all(["k0", "k1", "k2", "k3"].map((key) => restored.len(key))), [624, 625, 625, 625]);
    assert.equal(await restored.dropOldest("k1", 600), 600);
    assert.equal(await restored.len("k1"), 25);
    assert.equal(await restored.dropOldest("k1", 100), 25);
    assert.equal(await restored.len("k1"), 0);
    assert.equal(await restored.push("k1", "after"), 2_501, "ids go on from the restored counter");
    assert.equal(await restored.len("k1"), 1);
    assert.deepEqual((await store.check()).problems, []);
  } finally {
    await store.close();
  }
});

/** What the store held before the work queues' migration: a KV entry and two queue items (ids 1 and 2) in "jobs". */
async function checkKeptAndWorking(store: Store): Promise<void> {
  assert.equal(await store.kv("settings", { codec: utf8 }).get("k"), "kept");
  assert.deepEqual((await store.queue("jobs", { codec: utf8 }).peek("a", 10)).map((item) => [item.id, item.value]), [[1, "one"], [2, "two"]]);
  // A work queue and a queue of one name are two: the work queue's ids start at 1.
  const work = store.workQueue("jobs", { codec: utf8, retry: { maxAttempts: 1 } });
  assert.deepEqual(await work.pushMany("a", [{ value: "w1" }, { value: "w2", priority: 1 }]), [{ id: 1, duplicate: false }, { id: 2, duplicate: false }]);
  const [first, second] = await work.claim("a", { limit: 2 });
  assert.ok(first !== undefined && second !== undefined);
  assert.deepEqual([first.value, second.value], ["w2", "w1"]);
  await work.ack(first);
  assert.deepEqual(await work.fail(second, new Error("no")), { dead: true, visibleAt: null });
  assert.deepEqual(await work.counts("a"), { ready: 0, delayed: 0, leased: 0, dead: 1 });
  assert.deepEqual((await store.check()).problems, []);
}

test("SQLite: a version 4 file is upgraded to version 5 (work queues), its data kept", async () => {
  const tmp = tempDir("upgrade-v4");
  try {
    const path = join(tmp.dir, "v4.db");
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    for (const migration of SQLITE_MIGRATIONS.slice(0, 4)) db.exec(migration);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma("user_version = 4");
    db.prepare("INSERT INTO stowage_kv (ns, key, value, expires_at) VALUES ('settings', 'k', ?, NULL)").run(Buffer.from("kept"));
    const insert = db.prepare("INSERT INTO stowage_queue (ns, key, id, value, pushed_at) VALUES ('jobs', 'a', ?, ?, 0)");
    insert.run(1, Buffer.from("one"));
    insert.run(2, Buffer.from("two"));
    db.exec("INSERT INTO stowage_counter (ns, kind, value) VALUES ('jobs', 'queue', 2)");
    db.close();

    const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    try {
      assert.equal((await store.info()).schemaVersion, 5);
      await checkKeptAndWorking(store);
    } finally {
      await store.close();
    }
  } finally {
    tmp.remove();
  }
});

test("PostgreSQL: a version 5 schema is upgraded to version 6 (work queues, with their notify trigger), its data kept", async () => {
  const schema = "upgrade_v5";
  const client = new pg.Client({ connectionString: pgServer().dsn });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`SET search_path TO ${schema}`);
    for (const migration of PG_MIGRATIONS.slice(0, 5)) await client.query(migration);
    await client.query("CREATE TABLE stowage_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)");
    await client.query("INSERT INTO stowage_meta (name, value) VALUES ('schema_version', '5')");
    await client.query("INSERT INTO stowage_kv (ns, key, value, expires_at) VALUES ('settings', 'k', $1, NULL)", [Buffer.from("kept")]);
    await client.query("SELECT stowage_queue_push('jobs', $1::text[], $2::bytea[], $3::bigint[], $4::bigint[], $5::boolean[])", [
      ["a", "a"],
      [Buffer.from("one"), Buffer.from("two")],
      [0, 0],
      [1_000, 1_000],
      [false, false],
    ]);
  } finally {
    await client.end();
  }

  const store = await openStore({ backend: "postgres", dsn: pgServer().dsn, schema, sweepIntervalMs: 0 });
  try {
    assert.equal((await store.info()).schemaVersion, 6);
    await checkKeptAndWorking(store);
    const catalog = new pg.Client({ connectionString: pgServer().dsn });
    await catalog.connect();
    try {
      const found = await catalog.query(
        "SELECT t.tgname, c.reloptions FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'stowage_work' AND NOT t.tgisinternal",
        [schema],
      );
      assert.deepEqual(found.rows, [{ tgname: "stowage_work_notify", reloptions: ["autovacuum_vacuum_scale_factor=0.01", "autovacuum_vacuum_cost_delay=0"] }]);
    } finally {
      await catalog.end();
    }
  } finally {
    await store.close();
  }
});
