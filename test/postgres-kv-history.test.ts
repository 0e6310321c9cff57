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

test("a SERIALIZABLE transaction whose snapshot predates the turn-on records its later writes", async () => {
  await withStore("hist_ssi", async (store) => {
    const writer = await rawClient("hist_ssi");
    try {
      await writer.query("BEGIN ISOLATION LEVEL SERIALIZABLE");
      await writer.query("SELECT count(*) FROM stowage_slot"); // takes the snapshot, touches no KV row
      const stop = new AbortController();
      const feed = await startedWatch(store, "s", ["k"], stop.signal);
      await writer.query(insert, ["s", "k", "from an old snapshot"]);
      await writer.query("COMMIT");
      assert.deepEqual(((await feed.next()).value as KvChange<string>).value, "from an old snapshot");
      // Another namespace is not watched: its writes are not recorded.
      await writer.query(insert, ["other", "k", "free"]);
      const recorded = await writer.query("SELECT DISTINCT ns FROM stowage_kv_change ORDER BY ns");
      assert.deepEqual(recorded.rows.map((row) => row.ns), ["s"]);
      assert.deepEqual((await store.check()).problems, []);
      stop.abort();
    } finally {
      await writer.end();
    }
  });
});

test("store transactions in a watched namespace do not conflict with other keys' writers", async () => {
  await withStore("hist_tx", async (store) => {
    await withStore("hist_tx", async (other) => {
      const stop = new AbortController();
      await startedWatch(store, "h", ["x"], stop.signal);
      // Another store keeps putting other keys of the namespace while this one runs read-modify-write transactions.
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing && i < 5_000; i++) await other.kv("h", { codec: utf8 }).put(`busy${i % 20}`, String(i));
      })();
      let bodyRuns = 0;
      try {
        for (let i = 0; i < 20; i++) {
          await store.transaction(async (tx) => {
            bodyRuns += 1;
            const kv = tx.kv("h", { codec: utf8 });
            const current = Number((await kv.get("x")) ?? "0");
            await sleep(5);
            await kv.put("x", String(current + 1));
          });
        }
      } finally {
        writing = false;
        await writer;
      }
      assert.equal(await store.kv("h", { codec: utf8 }).get("x"), "20");
      assert.ok(bodyRuns <= 30, `20 transactions took ${bodyRuns} body runs`);
      stop.abort();
    });
  });
});

test("a database whose default isolation is REPEATABLE READ still records every history namespace", async () => {
  const admin = new pg.Client({ connectionString: pgServer().dsn, connectionTimeoutMillis: 10_000 });
  await admin.connect();
  try {
    await admin.query("CREATE DATABASE hist_rr");
    await admin.query("ALTER DATABASE hist_rr SET default_transaction_isolation = 'repeatable read'");
  } finally {
    await admin.end();
  }
  const dsn = pgServer().dsn.replace(/\/[^/?]*(\?|$)/, "/hist_rr$1");
  const store = await openStore({ backend: "postgres", dsn, schema: "hist", sweepIntervalMs: 0, connectTimeoutMs: 10_000 });
  try {
    const stop = new AbortController();
    const feeds = await Promise.all(["a", "b"].map((ns) => startedWatch(store, ns, ["k"], stop.signal)));
    for (const [i, ns] of ["a", "b"].entries()) {
      await store.kv(ns, { codec: utf8 }).put("k", `${ns}1`);
      assert.deepEqual(((await (feeds[i] as AsyncIterator<KvChange<string>>).next()).value as KvChange<string>).value, `${ns}1`);
    }
    stop.abort();
  } finally {
    await store.close();
  }
});
