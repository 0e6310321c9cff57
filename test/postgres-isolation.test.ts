/**
 * PostgreSQL transactions against what runs beside them (issue 17, defects 1, 4 and 9): a transaction resolves only
 * if it committed, also when its body caught a failed call; a transaction is ordered against plain reads and writes
 * of other stores as strictly as against other transactions; and a plain KV delete in a namespace with history takes
 * its locks in the same order as a put, so it never deadlocks with a transaction.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import pg from "pg";
import { isStowageError, openStore, utf8, type Store } from "../src/index.js";
import { watchFromNow } from "../src/conformance/harness.js";
import { sleep } from "./helpers/child.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

const pgServer = usePostgresServer();

function open(schema: string, statementTimeoutMs?: number): Promise<Store> {
  return openStore({ backend: "postgres", dsn: pgServer().dsn, schema, sweepIntervalMs: 0, connectTimeoutMs: 10_000, statementTimeoutMs });
}

async function rawClient(schema: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: pgServer().dsn, connectionTimeoutMillis: 10_000, options: `-c search_path=${schema}` });
  await client.connect();
  return client;
}

/** Polls until a backend of the server waits for a lock (at most `ms`). */
async function untilSomeoneWaitsForALock(client: pg.Client, ms = 10_000): Promise<void> {
  for (let waited = 0; waited < ms; waited += 10) {
    const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE NOT granted");
    if (Number(rows[0]?.n) > 0) return;
    await sleep(10);
  }
  throw new Error(`no backend waited for a lock within ${ms} ms`);
}

test("a body that catches a statement timeout and returns does not resolve: the transaction rejects, and nothing of it stays", async () => {
  const store = await open("iso_timeout", 300);
  const holder = await rawClient("iso_timeout");
  try {
    await store.slot("locks", { codec: utf8 }).upsert("held", "v1");
    await holder.query("BEGIN");
    await holder.query("SELECT * FROM stowage_slot WHERE ns = 'locks' AND key = 'held' FOR UPDATE");
    let caught: unknown;
    let runs = 0;
    const outcome = await store
      .transaction(async (tx) => {
        runs += 1;
        await tx.kv("written", { codec: utf8 }).put("before", "kept?");
        try {
          await tx.slot("locks", { codec: utf8 }).upsert("held", "v2");
        } catch (error) {
          caught = error;
        }
        return "resolved";
      })
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
    assert.ok(isStowageError(caught, "BACKEND_UNAVAILABLE"), `the body saw the timeout: ${String(caught)}`);
    assert.ok("error" in outcome, "the transaction must not resolve: the server rolled it back");
    assert.equal(outcome.error, caught, "it rejects with the failure the body caught");
    assert.equal(runs, 1, "a timeout is not a serialization failure: the body runs once");
    assert.equal(await store.kv("written", { codec: utf8 }).get("before"), undefined);
  } finally {
    await holder.query("ROLLBACK").catch(() => undefined);
    await holder.end();
    await store.close();
  }
});

test("a transaction that read a seat is ordered against another store's plain put of it and plain read of the booking", async () => {
  const alice = await open("iso_seat");
  const bob = await open("iso_seat");
  try {
    let runs = 0;
    let bobSawBooking: string | undefined;
    await alice.transaction(async (tx) => {
      runs += 1;
      const seat = await tx.kv("seats", { codec: utf8 }).get("seat-1");
      if (runs === 1) {
        // Bob takes the seat with a plain put, then checks that nobody booked it.
        await bob.kv("seats", { codec: utf8 }).put("seat-1", "bob");
        bobSawBooking = await bob.kv("bookings", { codec: utf8 }).get("seat-1");
      }
      if (seat === undefined) await tx.kv("bookings", { codec: utf8 }).put("seat-1", "alice");
    });
    const holder = await bob.kv("seats", { codec: utf8 }).get("seat-1");
    const booking = await bob.kv("bookings", { codec: utf8 }).get("seat-1");
    assert.equal(holder, "bob");
    assert.equal(bobSawBooking, undefined, "bob's read ran before alice's transaction committed");
    // Serial orders: alice first (bob would have seen the booking), or bob first (alice would have seen the seat taken).
    assert.equal(booking, undefined, "alice booked a seat that bob held while bob saw no booking: not serializable");
    assert.ok(runs >= 2, "alice's transaction ran again after losing the race");
  } finally {
    await alice.close();
    await bob.close();
  }
});

test("a plain delete in a namespace with history takes the writer lock before the row lock: no deadlock with a transaction", async () => {
  const store = await open("iso_lockorder");
  const other = await open("iso_lockorder");
  const observer = await rawClient("iso_lockorder");
  const stop = new AbortController();
  try {
    await watchFromNow(store.kv("hist", { codec: utf8 }), ["k"], stop.signal); // turns the namespace's history on
    stop.abort();
    const kv = store.kv("hist", { codec: utf8 });
    await kv.put("k", "v0");
    const { rows } = await observer.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
    const logPath = join(rows[0]?.dir as string, "..", "server.log");
    const logBefore = readFileSync(logPath, "utf8").length;
    let runs = 0;
    let deleting: Promise<boolean> | undefined;
    await store.transaction(async (tx) => {
      runs += 1;
      const txKv = tx.kv("hist", { codec: utf8 });
      await txKv.put("k2", "in tx"); // holds the namespace's writer lock to commit
      if (runs === 1) {
        deleting = other.kv("hist", { codec: utf8 }).delete("k");
        await untilSomeoneWaitsForALock(observer);
      }
      await txKv.put("k", "from tx");
    });
    assert.equal(await deleting, true, "the delete ran after the transaction and removed its value");
    assert.equal(runs, 1, "the transaction ran once");
    assert.equal(await kv.get("k"), undefined);
    assert.equal(await kv.get("k2"), "in tx");
    const logAfter = readFileSync(logPath, "utf8").slice(logBefore);
    assert.doesNotMatch(logAfter, /deadlock detected/, "the server detected a deadlock");
  } finally {
    stop.abort();
    await observer.end();
    await other.close();
    await store.close();
  }
});
