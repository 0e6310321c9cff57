/**
 * PostgreSQL failure modes on a real throwaway server: a restart under an open store, a schema newer than the code,
 * an unreachable server, a statement timeout behind a row lock, two schemas on one database, and a connection
 * killed while a transaction body is between statements (in a child process, so a crash cannot take the test down).
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { test } from "node:test";
import pg from "pg";
import { isStowageError, json, openStore, utf8, type Store } from "../src/index.js";
import { killAll, lastJson, sleep, startChild, type Child } from "./helpers/child.js";
import { freePort, usePostgresServer } from "./helpers/postgres-server.js";

// A real server for this file; if it cannot start, every test that needs it fails rather than skips.
const pgServer = usePostgresServer();


/** Runs `body` with a plain node-postgres client (not stowage), closed afterwards. */
async function withClient<T>(body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgServer().dsn, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** How a call settled and how long it took; a call still pending after `hangMs` is reported as hung, never awaited. */
type Outcome = { ok: true; value: unknown; ms: number } | { ok: false; code: string; message: string; ms: number };

async function settle(call: () => Promise<unknown>, hangMs = 15_000): Promise<Outcome> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, code: "HUNG", message: `still pending after ${hangMs} ms`, ms: Date.now() - started }), hangMs);
  });
  const run = (async (): Promise<Outcome> => {
    try {
      const value = await call();
      return { ok: true, value, ms: Date.now() - started };
    } catch (error) {
      return { ok: false, code: isStowageError(error) ? error.code : `not a StowageError (${String(error)})`, message: String(error), ms: Date.now() - started };
    }
  })();
  try {
    return await Promise.race([run, hung]);
  } finally {
    clearTimeout(timer);
  }
}

function assertFails(outcome: Outcome, code: string, maxMs: number, what: string): void {
  assert.ok(!outcome.ok, `${what} succeeded: ${JSON.stringify(outcome)}`);
  assert.equal(outcome.code, code, `${what}: ${outcome.message}`);
  assert.ok(outcome.ms < maxMs, `${what} took ${outcome.ms} ms (limit ${maxMs} ms)`);
}

test("a server restart under an open store: calls fail fast with BACKEND_UNAVAILABLE, then the same store works and nothing acknowledged is lost", async (t) => {
  const CONNECT_TIMEOUT = 1_000;
  const LIMIT = CONNECT_TIMEOUT + 5_000;
  const srv = pgServer();
  const store = await openStore({
    backend: "postgres",
    dsn: srv.dsn,
    schema: "fail_restart",
    connectTimeoutMs: CONNECT_TIMEOUT,
    statementTimeoutMs: 2_000,
    poolSize: 4,
    sweepIntervalMs: 0,
  });
  let restarted = false;
  try {
    const kv = store.kv("r-kv", { codec: utf8 });
    const log = store.log("r-log", { codec: utf8 });
    const slot = store.slot("r-slot", { codec: utf8 });
    const queue = store.queue("r-queue", { codec: utf8 });
    const seqs: number[] = [];
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      await kv.put(`k${i}`, `v${i}`);
      seqs.push(await log.append("entries", `e${i}`));
      ids.push(await queue.push("q", `item${i}`));
    }
    const version = await slot.upsert("s", "before");
    seqs.push(
      await store.transaction(async (tx) => {
        await tx.kv("r-kv", { codec: utf8 }).put("tx", "committed before the outage");
        return tx.log("r-log", { codec: utf8 }).append("entries", "from a transaction");
      }),
    );
    // Several pooled connections, so the outage leaves more than one dead idle connection behind.
    await Promise.all(Array.from({ length: 4 }, (_, i) => kv.get(`k${i}`)));

    srv.stop();
    const outage: Array<[string, () => Promise<unknown>]> = [
      ["kv.get", () => kv.get("k0")],
      ["kv.put", () => kv.put("during", "the outage")],
      ["log.append", () => log.append("entries", "during the outage")],
      ["log.since", () => log.since("entries", 0)],
      ["slot.cas", () => slot.cas("s", version, "during the outage")],
      ["queue.push", () => queue.push("q", "during the outage")],
      ["transaction", () => store.transaction(async (tx) => tx.kv("r-kv", { codec: utf8 }).put("during-tx", "the outage"))],
      ["info", () => store.info()],
    ];
    // Twice: the first pass may meet dead pooled connections, the second must open new ones (refused).
    let slowest = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (const [what, call] of outage) {
        const outcome = await settle(call);
        assertFails(outcome, "BACKEND_UNAVAILABLE", LIMIT, `${what} during the outage (pass ${pass})`);
        slowest = Math.max(slowest, outcome.ms);
      }
    }
    t.diagnostic(`the slowest call during the outage failed after ${slowest} ms`);

    srv.start();
    restarted = true;
    const after: Array<[string, () => Promise<unknown>]> = [
      ["kv.get", () => kv.get("k0")],
      ["kv.put", () => kv.put("after", "the restart")],
      ["log.append", () => log.append("entries", "after the restart")],
      ["slot.cas", () => slot.cas("s", version, "after the restart")],
      ["queue.push", () => queue.push("q", "after the restart")],
      ["transaction", () => store.transaction(async (tx) => tx.kv("r-kv", { codec: utf8 }).put("after-tx", "the restart"))],
      ["info", () => store.info()],
    ];
    const failuresAfter: string[] = [];
    for (const [what, call] of after) {
      let outcome = await settle(call);
      for (let attempt = 1; !outcome.ok && attempt < 10; attempt++) {
        failuresAfter.push(`${what}: ${outcome.code}`);
        assert.equal(outcome.code, "BACKEND_UNAVAILABLE", `${what} after the restart: ${outcome.message}`);
        await sleep(200);
        outcome = await settle(call);
      }
      assert.ok(outcome.ok, `${what} still fails after the restart: ${JSON.stringify(outcome)}`);
    }
    t.diagnostic(`calls that failed after the restart before succeeding: ${failuresAfter.length === 0 ? "none" : failuresAfter.join("; ")}`);

    // Everything acknowledged before the outage is there; nothing attempted during it is.
    for (let i = 0; i < 10; i++) assert.equal(await kv.get(`k${i}`), `v${i}`);
    assert.equal(await kv.get("tx"), "committed before the outage");
    assert.equal(await kv.get("during"), undefined);
    assert.equal(await kv.get("during-tx"), undefined);
    assert.equal(await kv.get("after"), "the restart");
    const entries = await log.list("entries");
    assert.deepEqual(
      entries.map((entry) => entry.value),
      [...Array.from({ length: 10 }, (_, i) => `e${i}`), "from a transaction", "after the restart"],
    );
    assert.deepEqual(entries.slice(0, 11).map((entry) => entry.seq), seqs, "the seqs acknowledged before the outage");
    assert.deepEqual(
      entries.map((entry) => entry.seq),
      Array.from({ length: 12 }, (_, i) => i + 1),
      "seqs after the restart continue without a hole",
    );
    assert.deepEqual(await slot.get("s"), { version: version + 1, value: "after the restart" });
    const items = await queue.peek("q", 100);
    assert.deepEqual(
      items.map((item) => [item.id, item.value]),
      [...ids.map((id, i) => [id, `item${i}`]), [11, "after the restart"]],
    );
  } finally {
    if (!restarted) {
      try {
        srv.start();
      } catch {
        // the server was not stopped, or the next test reports it
      }
    }
    // Bounded: a call that hung would keep close() waiting for it.
    const closed = await settle(() => store.close(), 10_000);
    assert.ok(closed.ok, `store.close() after the restart: ${JSON.stringify(closed)}`);
  }
});

test("a schema written by a newer stowage: openStore fails with INCOMPATIBLE and changes nothing", async () => {
  const schema = "fail_newer";
  const store = await openStore({ backend: "postgres", dsn: pgServer().dsn, schema, sweepIntervalMs: 0 });
  await store.kv("keep", { codec: utf8 }).put("k", "v");
  await store.log("keep", { codec: utf8 }).append("k", "e");
  await store.close();

  const snapshot = async (client: pg.Client) => {
    const queries: Array<[string, unknown[]]> = [
      [`SELECT name, value FROM ${schema}.stowage_meta ORDER BY name`, []],
      ["SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name", [schema]],
      [`SELECT ns, key, encode(value, 'escape') AS value, expires_at FROM ${schema}.stowage_kv ORDER BY ns, key`, []],
      [`SELECT ns, seq, key, encode(value, 'escape') AS value FROM ${schema}.stowage_log ORDER BY ns, seq`, []],
      [`SELECT ns, kind, value FROM ${schema}.stowage_counter ORDER BY ns, kind`, []],
      ["SELECT nspname FROM pg_namespace WHERE nspname LIKE 'fail\\_newer%' ORDER BY nspname", []],
    ];
    const rows: unknown[] = [];
    for (const [text, values] of queries) rows.push((await client.query(text, values)).rows);
    return rows;
  };

  const before = await withClient(async (client) => {
    await client.query(`UPDATE ${schema}.stowage_meta SET value = '99' WHERE name = 'schema_version'`);
    return snapshot(client);
  });
  assert.deepEqual(before[0], [{ name: "schema_version", value: "99" }]);

  const outcome = await settle(() => openStore({ backend: "postgres", dsn: pgServer().dsn, schema, sweepIntervalMs: 0 }));
  assertFails(outcome, "INCOMPATIBLE", 10_000, "openStore on a schema of version 99");
  assert.match(outcome.ok ? "" : outcome.message, /99/);
  assert.deepEqual(await withClient(snapshot), before, "the failed open changed the schema");

  // A newer schema with nothing but its meta table: still INCOMPATIBLE, and no tables appear.
  const bare = "fail_newer_bare";
  await withClient(async (client) => {
    await client.query(`CREATE SCHEMA ${bare}`);
    await client.query(`CREATE TABLE ${bare}.stowage_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    await client.query(`INSERT INTO ${bare}.stowage_meta VALUES ('schema_version', '99')`);
  });
  assertFails(await settle(() => openStore({ backend: "postgres", dsn: pgServer().dsn, schema: bare, sweepIntervalMs: 0 })), "INCOMPATIBLE", 10_000, "openStore on a bare schema of version 99");
  const tables = await withClient((client) => client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [bare]));
  assert.deepEqual(tables.rows, [{ table_name: "stowage_meta" }]);
});

test("an unreachable server: openStore fails with BACKEND_UNAVAILABLE within connectTimeoutMs", async (t) => {
  const CONNECT_TIMEOUT = 1_000;
  const LIMIT = CONNECT_TIMEOUT + 5_000;
  // Nothing listens: the connection is refused at once.
  const port = await freePort();
  const refused = await settle(() =>
    openStore({ backend: "postgres", dsn: `postgres://stowage@127.0.0.1:${port}/postgres`, connectTimeoutMs: CONNECT_TIMEOUT, sweepIntervalMs: 0 }),
  );
  assertFails(refused, "BACKEND_UNAVAILABLE", LIMIT, "openStore on a closed port");

  // Something accepts the connection but never answers: the connect timeout must end the wait.
  const sockets = new Set<Socket>();
  const silent: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  try {
    const address = silent.address();
    const silentPort = typeof address === "object" && address !== null ? address.port : 0;
    const timedOut = await settle(() =>
      openStore({ backend: "postgres", dsn: `postgres://stowage@127.0.0.1:${silentPort}/postgres`, connectTimeoutMs: CONNECT_TIMEOUT, sweepIntervalMs: 0 }),
    );
    assertFails(timedOut, "BACKEND_UNAVAILABLE", LIMIT, "openStore on a server that never answers");
    assert.ok(!timedOut.ok && timedOut.ms >= CONNECT_TIMEOUT - 50, `the silent server was given up after ${timedOut.ms} ms, before connectTimeoutMs`);
    t.diagnostic(`refused after ${refused.ms} ms; silent server given up after ${timedOut.ms} ms`);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

test("a write blocked by another session's row lock fails with BACKEND_UNAVAILABLE after statementTimeoutMs, then works", async (t) => {
  const STATEMENT_TIMEOUT = 500;
  const LIMIT = STATEMENT_TIMEOUT + 3_000;
  const schema = "fail_lock";
  const store = await openStore({ backend: "postgres", dsn: pgServer().dsn, schema, statementTimeoutMs: STATEMENT_TIMEOUT, sweepIntervalMs: 0 });
  const blocker = new pg.Client({ connectionString: pgServer().dsn });
  await blocker.connect();
  try {
    const slot = store.slot("locked", { codec: utf8 });
    const log = store.log("locked", { codec: utf8 });
    assert.equal(await slot.upsert("s", "v1"), 1);
    assert.equal(await log.append("k", "e1"), 1);

    // The slot row.
    await blocker.query("BEGIN");
    const held = await blocker.query(`SELECT version FROM ${schema}.stowage_slot WHERE ns = 'locked' AND key = 's' FOR UPDATE`);
    assert.equal(held.rowCount, 1);
    const upsert = await settle(() => slot.upsert("s", "blocked"));
    assertFails(upsert, "BACKEND_UNAVAILABLE", LIMIT, "slot.upsert behind a row lock");
    assert.ok(!upsert.ok && upsert.ms >= STATEMENT_TIMEOUT - 50, `the upsert gave up after ${upsert.ms} ms, before the statement timeout`);
    assertFails(await settle(() => slot.cas("s", 1, "blocked")), "BACKEND_UNAVAILABLE", LIMIT, "slot.cas behind a row lock");
    assertFails(
      await settle(() => store.transaction(async (tx) => tx.slot("locked", { codec: utf8 }).upsert("s", "blocked"))),
      "BACKEND_UNAVAILABLE",
      LIMIT,
      "a transaction behind a row lock",
    );
    // Reads do not wait for row locks.
    const read = await settle(() => slot.get("s"), LIMIT);
    assert.ok(read.ok && read.ms < STATEMENT_TIMEOUT, `slot.get behind a row lock: ${JSON.stringify(read)}`);
    assert.deepEqual(read.value, { version: 1, value: "v1" });
    await blocker.query("ROLLBACK");
    assert.equal(await slot.upsert("s", "v2"), 2);
    assert.equal(await slot.cas("s", 2, "v3"), true);

    // The log's counter row, which every append takes first.
    await blocker.query("BEGIN");
    const counter = await blocker.query(`SELECT value FROM ${schema}.stowage_counter WHERE ns = 'locked' AND kind = 'log' FOR UPDATE`);
    assert.equal(counter.rowCount, 1);
    const append = await settle(() => log.append("k", "blocked"));
    assertFails(append, "BACKEND_UNAVAILABLE", LIMIT, "log.append behind the counter lock");
    await blocker.query("COMMIT");
    assert.equal(await log.append("k", "e2"), 2, "the timed-out append left a hole in the seqs");
    assert.deepEqual((await log.list("k")).map((entry) => entry.value), ["e1", "e2"]);
    assert.deepEqual(await slot.get("s"), { version: 3, value: "v3" });
    t.diagnostic(`upsert gave up after ${upsert.ms} ms, append after ${append.ms} ms`);
  } finally {
    await blocker.query("ROLLBACK").catch(() => undefined);
    await blocker.end();
    await store.close();
  }
});

test("two stores with different schemas on one database do not see each other's data", async () => {
  const dsn = pgServer().dsn;
  const a = await openStore({ backend: "postgres", dsn, schema: "fail_iso_a", sweepIntervalMs: 0 });
  const b = await openStore({ backend: "postgres", dsn, schema: "fail_iso_b", sweepIntervalMs: 0 });
  try {
    const write = async (store: Store, who: string) => {
      await store.kv("shared", { codec: utf8 }).put("k", `kv of ${who}`);
      await store.kv("shared", { codec: utf8 }).put(`only-${who}`, who);
      const seq = await store.log("shared", { codec: utf8 }).append("k", `log of ${who}`);
      const version = await store.slot("shared", { codec: utf8 }).upsert("s", `slot of ${who}`);
      const id = await store.queue("shared", { codec: utf8 }).push("q", `item of ${who}`);
      const work = await store.workQueue("shared", { codec: utf8 }).push("w", `job of ${who}`);
      assert.deepEqual(work, { id: 1, duplicate: false }, "each schema numbers its work items from 1");
      await store.transaction(async (tx) => tx.kv("shared", { codec: utf8 }).put("tx", `tx of ${who}`));
      return { seq, version, id };
    };
    // Each store numbers from 1: the counters are not shared either.
    assert.deepEqual(await write(a, "a"), { seq: 1, version: 1, id: 1 });
    assert.deepEqual(await write(b, "b"), { seq: 1, version: 1, id: 1 });
    await a.kv("a-only").put("x", new Uint8Array([1]));

    for (const [store, who, other] of [
      [a, "a", "b"],
      [b, "b", "a"],
    ] as const) {
      const kv = store.kv("shared", { codec: utf8 });
      assert.equal(await kv.get("k"), `kv of ${who}`);
      assert.equal(await kv.get("tx"), `tx of ${who}`);
      assert.equal(await kv.get(`only-${other}`), undefined);
      assert.deepEqual((await kv.list()).entries.map((item) => item.key), [`only-${who}`, "k", "tx"].sort());
      assert.deepEqual((await store.log("shared", { codec: utf8 }).list("k")).map((entry) => entry.value), [`log of ${who}`]);
      assert.equal(await store.log("shared").lastSeq(), 1);
      assert.deepEqual(await store.slot("shared", { codec: utf8 }).get("s"), { version: 1, value: `slot of ${who}` });
      assert.deepEqual((await store.queue("shared", { codec: utf8 }).peek("q", 10)).map((item) => item.value), [`item of ${who}`]);
      assert.deepEqual((await store.workQueue("shared", { codec: utf8 }).claim("w", { limit: 10 })).map((item) => item.value), [`job of ${who}`]);
      const info = await store.info();
      assert.match(info.location, new RegExp(`schema fail_iso_${who}`));
      const kvNamespaces = info.namespaces.filter((n) => n.primitive === "kv").map((n) => [n.namespace, n.count]);
      assert.deepEqual(kvNamespaces, who === "a" ? [["a-only", 1], ["shared", 3]] : [["shared", 3]]);
    }
    // A CAS in one schema does not see the other's version.
    assert.equal(await b.slot("shared", { codec: json<string>() }).cas("new", 0, "b"), true);
    assert.equal(await a.slot("shared", { codec: json<string>() }).cas("new", 0, "a"), true);

    const tables = await withClient((client) =>
      client.query(
        "SELECT table_schema, count(*)::int AS n FROM information_schema.tables WHERE table_name LIKE 'stowage%' AND table_schema LIKE 'fail\\_iso\\_%' GROUP BY table_schema ORDER BY table_schema",
      ),
    );
    assert.deepEqual(tables.rows, [
      { table_schema: "fail_iso_a", n: 13 },
      { table_schema: "fail_iso_b", n: 13 },
    ]);
  } finally {
    await a.close();
    await b.close();
  }
});

/**
 * Runs the pg-tx-outage child in `mode` and ends its transaction's connection from the server side (as a restart or
 * an administrator does): the transaction must fail with BACKEND_UNAVAILABLE, commit nothing, and the process and its
 * store must survive and serve the next write.
 */
async function cutTransaction(t: { diagnostic(message: string): void }, schema: string, mode: "between" | "during"): Promise<void> {
  const dsn = pgServer().dsn;
  // The schema exists first, and `outage/second` exists so that the parent can lock its row.
  const setup = await openStore({ backend: "postgres", dsn, schema, sweepIntervalMs: 0 });
  try {
    await setup.kv("outage", { codec: utf8 }).put("second", "before");
  } finally {
    await setup.close();
  }
  const children: Child[] = [];
  const locker = new pg.Client({ connectionString: dsn });
  await locker.connect();
  try {
    await locker.query("BEGIN");
    const locked = await locker.query(`SELECT key FROM ${schema}.stowage_kv WHERE ns = 'outage' AND key = 'second' FOR UPDATE`);
    assert.equal(locked.rowCount, 1);
    const child = startChild("pg-tx-outage", [dsn, schema, mode]);
    children.push(child);
    assert.ok(await child.waitFor((lines) => lines.includes("in-tx"), 15_000), `the child did not reach its transaction\n${child.describe()}`);
    // "between": the child's connection sits idle in its transaction; "during": it waits for our row lock.
    const wanted =
      mode === "between" ? "state = 'idle in transaction'" : "state = 'active' AND wait_event_type = 'Lock'";
    let terminated = 0;
    // Bounded by time, not by a count of polls: a loaded machine may take a while to run the child's statement.
    const deadline = Date.now() + 15_000;
    while (terminated === 0 && Date.now() < deadline) {
      // The locker polls inside its own open transaction, where pg_stat_activity is a snapshot taken at first
      // access: clear it, or every poll would see the state of the first one.
      await locker.query("SELECT pg_stat_clear_snapshot()");
      const killed = await locker.query(
        `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = 'stowage' AND pid <> pg_backend_pid() AND ${wanted}`,
      );
      terminated = killed.rowCount ?? 0;
      if (terminated === 0) await sleep(10);
    }
    assert.equal(terminated, 1, `exactly the child's transaction connection is terminated\n${child.describe()}`);
    // Let the termination reach the child while its body still waits, then let the body go on.
    await sleep(300);
    await locker.query("ROLLBACK");
    child.send("continue");
    const exit = await child.finish(15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `the child did not survive the killed connection\n${child.describe()}`);
    const results = child.lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
    const tx = results.find((result) => "tx" in result);
    assert.equal(tx?.tx, "failed", `the cut transaction: ${JSON.stringify(tx)}`);
    assert.equal(tx?.code, "BACKEND_UNAVAILABLE", String(tx?.message));
    const afterCut = lastJson<{ after: string; failures: number; code?: string }>(child);
    assert.equal(afterCut.after, "ok", `the store did not recover: ${JSON.stringify(afterCut)}`);
    t.diagnostic(`the store's next write failed ${afterCut.failures} time(s) before it succeeded`);

    const check = await openStore({ backend: "postgres", dsn, schema, sweepIntervalMs: 0 });
    try {
      const kv = check.kv("outage", { codec: utf8 });
      assert.equal(await kv.get("first"), undefined, "a write of the cut transaction committed");
      assert.equal(await kv.get("second"), "before", "a write of the cut transaction committed");
      assert.equal(await kv.get("after"), "written after the cut");
    } finally {
      await check.close();
    }
  } finally {
    await killAll(children);
    await locker.query("ROLLBACK").catch(() => undefined);
    await locker.end();
  }
}

test("a connection killed while a transaction body waits between statements: the transaction fails, the process and store survive", async (t) => {
  await cutTransaction(t, "fail_cut_between", "between");
});

test("a connection killed while a transaction statement runs: the transaction fails, the process and store survive", async (t) => {
  await cutTransaction(t, "fail_cut_during", "during");
});
