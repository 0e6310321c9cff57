/**
 * Turning a namespace's KV change history on, on PostgreSQL, against transactions that a store's own API cannot
 * stage at will (raw node-postgres clients on the same schema): a transaction that wrote KV rows holds the turn-on
 * back until it ends, and a SERIALIZABLE transaction whose snapshot predates the turn-on cannot commit a write to
 * that namespace unrecorded (it fails with a serialization failure, which stowage retries as a CONFLICT). Every write
 * a watch could see is in the history, in commit order.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { openStore, utf8, type KvChange, type Store } from "../src/index.js";
import { watchFromNow } from "../src/conformance/harness.js";
import { sleep } from "./helpers/child.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

const pgServer = usePostgresServer();

async function withStore<T>(schema: string, body: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ backend: "postgres", dsn: pgServer().dsn, schema, sweepIntervalMs: 0, connectTimeoutMs: 10_000 });
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

async function rawClient(schema: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: pgServer().dsn, connectionTimeoutMillis: 10_000, options: `-c search_path=${schema}` });
  await client.connect();
  return client;
}

/** A started watch of `keys` in `ns` (see `watchFromNow`: its first read turns the history on). */
const startedWatch = (store: Store, ns: string, keys: string[], signal: AbortSignal) => watchFromNow(store.kv(ns, { codec: utf8 }), keys, signal);

const insert = "INSERT INTO stowage_kv (ns, key, value) VALUES ($1, $2, convert_to($3, 'UTF8')) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value";

test("a transaction that wrote KV rows holds the turn-on back until it commits; writes after it are recorded", async () => {
  await withStore("hist_wait", async (store) => {
    const writer = await rawClient("hist_wait");
    try {
      await writer.query("BEGIN");
      await writer.query(insert, ["h", "k", "in flight"]);
      const stop = new AbortController();
      let started = false;
      const watching = startedWatch(store, "h", ["k"], stop.signal).then((feed) => {
        started = true;
        return feed;
      });
      await sleep(300);
      assert.equal(started, false, "the turn-on waits for the open transaction that wrote stowage_kv");
      await writer.query("COMMIT");
      const feed = await watching;
      // The in-flight write committed before the history began: the value is there, and it is not a change after it.
      assert.equal(await store.kv("h", { codec: utf8 }).get("k"), "in flight");
      await writer.query(insert, ["h", "k", "after"]);
      assert.deepEqual(((await feed.next()).value as KvChange<string>).value, "after");
      stop.abort();
    } finally {
      await writer.end();
    }
  });
});

test("a SERIALIZABLE transaction whose snapshot predates the turn-on cannot commit an unrecorded write", async () => {
  await withStore("hist_ssi", async (store) => {
    const writer = await rawClient("hist_ssi");
    try {
      await writer.query("BEGIN ISOLATION LEVEL SERIALIZABLE");
      await writer.query("SELECT count(*) FROM stowage_slot"); // takes the snapshot, touches no KV row
      const stop = new AbortController();
      const feed = await startedWatch(store, "s", ["k"], stop.signal);
      await assert.rejects(writer.query(insert, ["s", "k", "unrecorded"]), (error: { code?: string }) => error.code === "40001");
      await writer.query("ROLLBACK");
      assert.equal(await store.kv("s", { codec: utf8 }).get("k"), undefined, "nothing was written");
      // Through stowage, the same write in a transaction is recorded (a conflict would be retried).
      await store.transaction(async (tx) => tx.kv("s", { codec: utf8 }).put("k", "recorded"));
      assert.deepEqual(((await feed.next()).value as KvChange<string>).value, "recorded");
      // Another namespace is not watched: its writes are not recorded, and an old snapshot writes it freely.
      await writer.query("BEGIN ISOLATION LEVEL SERIALIZABLE");
      await writer.query(insert, ["other", "k", "free"]);
      await writer.query("COMMIT");
      const recorded = await writer.query("SELECT ns, count(*)::int AS n FROM stowage_kv_change GROUP BY ns ORDER BY ns");
      assert.deepEqual(recorded.rows.map((row) => row.ns), ["s"]);
      assert.deepEqual((await store.check()).problems, []);
      stop.abort();
    } finally {
      await writer.end();
    }
  });
});
