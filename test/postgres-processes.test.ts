/**
 * Several real `node` processes on one PostgreSQL database: CAS on one slot, log appends followed live by a reader,
 * queue pushes (bounded and unbounded), SERIALIZABLE transfers checked by a concurrent reader, and first-connect
 * migrations racing on a new schema. The server is a real throwaway one (test/helpers/postgres-server.ts). The CAS and
 * log scenarios are shared with SQLite (test/helpers/process-scenarios.ts, fixtures cas-racer.ts and log-appender.ts);
 * the other children are the compiled fixtures test/fixtures/pg-*.ts. Each test uses its own schema.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import pg from "pg";
import { json, openStore, type Store } from "../src/index.js";
import { killAll, lastJson, sleep, startChild, waitAllFor, type Child } from "./helpers/child.js";
import { startPostgres, type PostgresServer } from "./helpers/postgres-server.js";
import { PG_SCHEMA_VERSION } from "../src/engines/postgres/postgres-schema.js";
import { assertExitedCleanly, casRaceScenario, kvWatchScenario, logFollowScenario, logTailScenario, produceRaceScenario, streamSubscribeScenario } from "./helpers/process-scenarios.js";

const PROCESSES = 4;

// A real server for this file; if it cannot start, every test fails (dsn() throws) rather than skips.
let server: PostgresServer | undefined;
before(async () => {
  server = await startPostgres();
});
after(() => server?.destroy());

function dsn(): string {
  if (server === undefined) throw new Error("the PostgreSQL test server did not start");
  return server.dsn;
}

function open(schema: string): Promise<Store> {
  return openStore({ backend: "postgres", dsn: dsn(), schema, connectTimeoutMs: 10_000, sweepIntervalMs: 0 });
}

/** Runs `body` with a plain node-postgres client (not stowage), closed afterwards. */
async function withClient<T>(body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: dsn(), connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

test("processes racing CAS on one slot: every version is won by exactly one process", async (t) => {
  // The test migrates the schema before the racers start, so the race is only about the slot.
  const store = { backend: "postgres", dsn: dsn(), schema: "proc_cas", connectTimeoutMs: 10_000 } as const;
  await casRaceScenario(t, {
    store,
    racerStore: { ...store, poolSize: 2 },
    processes: PROCESSES,
    target: 300,
    pauseMs: 1,
    readyTimeoutMs: 15_000,
    finishTimeoutMs: 30_000,
  });
});

test("processes producing to one stream segment with an expected sequence: each sequence won by exactly one batch", async (t) => {
  const store = { backend: "postgres", dsn: dsn(), schema: "proc_stream", poolSize: 2, connectTimeoutMs: 10_000 } as const;
  await produceRaceScenario(t, { store, processes: PROCESSES, target: 300, readyTimeoutMs: 15_000, finishTimeoutMs: 30_000 });
});

test("a live log tail across processes: from the start, from a past position, and on one key, every entry once and in order", async (t) => {
  const store = { backend: "postgres", dsn: dsn(), schema: "proc_tail", poolSize: 2, connectTimeoutMs: 10_000 } as const;
  await logTailScenario(t, { store, processes: PROCESSES, entries: 150, keys: 4, readyTimeoutMs: 15_000, finishTimeoutMs: 30_000 });
});

test("stream subscriptions across processes: on a segment, on a space and joining late, every entry once and in order", async (t) => {
  const store = { backend: "postgres", dsn: dsn(), schema: "proc_subscribe", poolSize: 2, connectTimeoutMs: 10_000 } as const;
  await streamSubscribeScenario(t, { store, processes: PROCESSES, target: 200, readyTimeoutMs: 15_000, finishTimeoutMs: 30_000 });
});

test("kv.watch across processes: every write once and in order, a feed joining from a past seq, and history turned on mid-run", async (t) => {
  const store = { backend: "postgres", dsn: dsn(), schema: "proc_watch", poolSize: 2, connectTimeoutMs: 10_000 } as const;
  await kvWatchScenario(t, { store, processes: PROCESSES, ops: 120, readyTimeoutMs: 15_000, finishTimeoutMs: 60_000 });
});

test("processes appending to one log: unique gapless seqs in commit order, followed live by a reader without gaps", async (t) => {
  const store = { backend: "postgres", dsn: dsn(), schema: "proc_log", connectTimeoutMs: 10_000 } as const;
  await logFollowScenario(t, {
    store,
    writerStore: (inFlight) => ({ ...store, poolSize: Math.max(2, inFlight) }),
    // Two writers append one at a time, two keep 4 appends in flight: those go out on separate pooled connections and
    // may commit in any order, so their seqs are ordered between batches only.
    inFlight: [1, 1, 4, 4],
    inFlightCommitInIssueOrder: false,
    entries: 150,
    keys: 4,
    pauseMs: 2,
    readyTimeoutMs: 15_000,
    finishTimeoutMs: 30_000,
    maxReaderRounds: 100_000,
  });
});

test("processes pushing to one queue key: every push present once, in id order; a bounded queue admits exactly maxLen", async (t) => {
  const PUSHES = 150;
  const IN_FLIGHT = 3;
  const BOUNDED_PUSHES = 25;
  const MAX_LEN = 40;
  const schema = "proc_queue";
  type Item = { w: string; i: number };
  const children: Child[] = [];
  const store = await open(schema);
  const queue = store.queue<Item>("jobs", { codec: json<Item>() });
  try {
    for (let i = 0; i < PROCESSES; i++) {
      children.push(startChild("pg-queue-pusher", [dsn(), schema, `p${i}`, String(PUSHES), String(IN_FLIGHT), String(BOUNDED_PUSHES), String(MAX_LEN)]));
    }
    await waitAllFor(children, "ready", 15_000);
    for (const child of children) child.send("go");
    const exits = await Promise.all(children.map((child) => child.finish(30_000)));
    assertExitedCleanly(children, exits, "pusher");

    type Report = { id: string; shared: Array<[number, number, number]>; bounded: Array<[number, number]>; rejected: Record<string, number> };
    const reports = children.map((child) => lastJson<Report>(child));
    const pushedById = new Map<number, Item>();
    const boundedById = new Map<number, Item>();
    let rejectedTotal = 0;
    for (const report of reports) {
      assert.equal(report.shared.length, PUSHES, `${report.id} did not report every push`);
      // A batch started after the previous one resolved, so its ids are above the previous batch's.
      const maxOfBatch = new Map<number, number>();
      const minOfBatch = new Map<number, number>();
      for (const [i, id, batch] of report.shared) {
        assert.ok(!pushedById.has(id) && !boundedById.has(id), `id ${id} handed out twice`);
        pushedById.set(id, { w: report.id, i });
        maxOfBatch.set(batch, Math.max(maxOfBatch.get(batch) ?? 0, id));
        minOfBatch.set(batch, Math.min(minOfBatch.get(batch) ?? Number.MAX_SAFE_INTEGER, id));
      }
      for (const [batch, min] of minOfBatch) {
        if (batch > 0) assert.ok(min > (maxOfBatch.get(batch - 1) as number), `${report.id}: batch ${batch}'s ids are not above batch ${batch - 1}'s`);
      }
      for (const [i, id] of report.bounded) {
        assert.ok(!pushedById.has(id) && !boundedById.has(id), `id ${id} handed out twice`);
        boundedById.set(id, { w: report.id, i });
      }
      const codes = Object.keys(report.rejected);
      assert.ok(codes.every((code) => code === "LIMIT_EXCEEDED"), `${report.id}'s bounded pushes failed with ${codes.join(", ")}`);
      rejectedTotal += report.rejected.LIMIT_EXCEEDED ?? 0;
      assert.equal(report.bounded.length + (report.rejected.LIMIT_EXCEEDED ?? 0), BOUNDED_PUSHES);
    }
    const total = PROCESSES * PUSHES;
    assert.equal(pushedById.size, total);

    const items = await queue.peek("shared", total + 10);
    assert.equal(items.length, total, "items in the queue");
    assert.equal(await queue.len("shared"), total);
    for (let n = 1; n < items.length; n++) assert.ok((items[n] as { id: number }).id > (items[n - 1] as { id: number }).id, "peek is not in ascending id order");
    assert.deepEqual(
      items.map((item) => ({ id: item.id, value: item.value })),
      [...pushedById.entries()].sort(([a], [b]) => a - b).map(([id, value]) => ({ id, value })),
      "the queue holds exactly the reported pushes",
    );

    // The length check runs under the namespace's counter lock: exactly maxLen pushes fit, whatever the interleaving.
    assert.equal(boundedById.size, MAX_LEN, `bounded pushes admitted (rejected ${rejectedTotal})`);
    assert.equal(rejectedTotal, PROCESSES * BOUNDED_PUSHES - MAX_LEN);
    const boundedItems = await queue.peek("bounded", 1_000);
    assert.deepEqual(
      boundedItems.map((item) => ({ id: item.id, value: item.value })),
      [...boundedById.entries()].sort(([a], [b]) => a - b).map(([id, value]) => ({ id, value })),
    );
    // A rejected push rolls its counter bump back with it: the namespace's ids have no holes.
    const allIds = [...pushedById.keys(), ...boundedById.keys()].sort((a, b) => a - b);
    assert.deepEqual(allIds, Array.from({ length: allIds.length }, (_, i) => i + 1), "queue ids are not exactly 1..pushes");
    t.diagnostic(`${total} pushes, bounded: ${boundedById.size} admitted, ${rejectedTotal} rejected`);
  } finally {
    await killAll(children);
    await store.close();
  }
});

test("processes running SERIALIZABLE transfers: a concurrent transactional reader never sees partial state", async (t) => {
  const TRANSFERS = 75;
  const MAX_ATTEMPTS = 500;
  const START = 200;
  const schema = "proc_tx";
  type Balance = { balance: number };
  type Transfer = { w: string; i: number; from: "a" | "b"; amount: number };
  const children: Child[] = [];
  const store = await open(schema);
  const bank = store.slot<Balance>("bank", { codec: json<Balance>() });
  const bankLog = store.log<Transfer>("bank-log", { codec: json<Transfer>() });
  try {
    // Version 1 of both slots, no log entry: every transfer adds 1 to both versions and one entry to the log.
    await bank.upsert("a", { balance: START });
    await bank.upsert("b", { balance: START });
    for (let i = 0; i < PROCESSES; i++) children.push(startChild("pg-transfer", [dsn(), schema, `t${i}`, String(TRANSFERS), String(MAX_ATTEMPTS)]));
    await waitAllFor(children, "ready", 15_000);
    for (const child of children) child.send("go");

    let running = true;
    const exitsPromise = Promise.all(children.map((child) => child.finish(40_000))).finally(() => {
      running = false;
    });
    let reads = 0;
    const changes = new Set<number>();
    const deadline = Date.now() + 40_000;
    for (let n = 0; running && n < 100_000 && Date.now() < deadline; n++) {
      const view = await store.transaction(
        async (tx) => {
          const b = tx.slot<Balance>("bank", { codec: json<Balance>() });
          const a = await b.get("a");
          const lastSeq = await tx.log("bank-log").lastSeq();
          const bb = await b.get("b");
          return { a, b: bb, lastSeq };
        },
        { maxAttempts: MAX_ATTEMPTS },
      );
      reads++;
      assert.ok(view.a !== undefined && view.b !== undefined);
      assert.equal(view.a.value.balance + view.b.value.balance, 2 * START, `torn read: ${JSON.stringify(view)}`);
      assert.ok(view.a.value.balance >= 0 && view.b.value.balance >= 0, `overdrawn: ${JSON.stringify(view)}`);
      assert.equal(view.a.version, view.b.version, `the slots' versions differ: ${JSON.stringify(view)}`);
      assert.equal(view.a.version, view.lastSeq + 1, `the log and the slots disagree: ${JSON.stringify(view)}`);
      changes.add(view.lastSeq);
      await sleep(1);
    }
    const exits = await exitsPromise;
    assertExitedCleanly(children, exits, "transfer worker");

    type Report = { id: string; committed: Array<[number, "a" | "b", number]>; skipped: number; bodyRuns: number };
    const reports = children.map((child) => lastJson<Report>(child));
    const committed = reports.reduce((sum, report) => sum + report.committed.length, 0);
    for (const report of reports) assert.equal(report.committed.length + report.skipped, TRANSFERS);

    const entries = await bankLog.list("t");
    assert.equal(entries.length, committed, "log entries vs committed transfers");
    for (const report of reports) {
      const logged = entries.filter((entry) => entry.value.w === report.id).map((entry) => [entry.value.i, entry.value.from, entry.value.amount]);
      assert.deepEqual(logged, report.committed, `${report.id}'s logged transfers`);
    }
    let a = START;
    for (const entry of entries) a += entry.value.from === "a" ? -entry.value.amount : entry.value.amount;
    const finalA = await bank.get("a");
    const finalB = await bank.get("b");
    assert.deepEqual(finalA, { version: committed + 1, value: { balance: a } });
    assert.deepEqual(finalB, { version: committed + 1, value: { balance: 2 * START - a } });
    assert.equal(await bankLog.lastSeq(), committed);
    assert.ok(reads > 0);
    const runs = reports.reduce((sum, report) => sum + report.bodyRuns, 0);
    t.diagnostic(`${committed} transfers committed (${PROCESSES * TRANSFERS - committed} skipped), ${runs} body runs; ${reads} reads saw ${changes.size} states`);
  } finally {
    await killAll(children);
    await store.close();
  }
});

test("processes opening the same new schema at once: one migration, every open succeeds", async (t) => {
  const OPENERS = 5;
  const ROUNDS = 3;
  const children: Child[] = [];
  try {
    for (let i = 0; i < OPENERS; i++) children.push(startChild("pg-opener", [dsn(), `o${i}`]));
    await waitAllFor(children, "ready", 15_000);
    for (let round = 0; round < ROUNDS; round++) {
      const schema = `proc_mig_${round}`;
      const exists = await withClient((client) => client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]));
      assert.equal(exists.rowCount, 0, `${schema} exists before the race`);
      const before = children.map((child) => child.lines.length);
      for (const child of children) child.send(`open ${schema}`);
      const done = await Promise.all(children.map((child, i) => child.waitFor((lines) => lines.length > (before[i] as number), 20_000)));
      done.forEach((ok, i) => assert.ok(ok, `opener ${i} did not answer for ${schema}\n${(children[i] as Child).describe()}`));
      const results = children.map((child) => lastJson<{ schema: string; ok: boolean; schemaVersion?: number; code?: string; message?: string; ms?: number }>(child));
      for (const result of results) {
        assert.equal(result.schema, schema);
        assert.ok(result.ok, `an open of ${schema} failed: ${result.code} ${result.message}`);
        assert.equal(result.schemaVersion, PG_SCHEMA_VERSION);
      }

      await withClient(async (client) => {
        const meta = await client.query(`SELECT name, value FROM ${schema}.stowage_meta ORDER BY name`);
        assert.deepEqual(meta.rows, [{ name: "schema_version", value: String(PG_SCHEMA_VERSION) }]);
        const tables = await client.query(
          "SELECT table_schema, table_name FROM information_schema.tables WHERE table_name LIKE 'stowage%' AND table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema = $1 ORDER BY table_name",
          [schema],
        );
        assert.deepEqual(
          tables.rows.map((row: { table_name: string }) => row.table_name),
          ["stowage_counter", "stowage_kv", "stowage_kv_change", "stowage_kv_history", "stowage_listeners", "stowage_log", "stowage_meta", "stowage_queue", "stowage_queue_len", "stowage_slot", "stowage_stream", "stowage_stream_segment", "stowage_work"],
        );
        const openers = await client.query(`SELECT key FROM ${schema}.stowage_kv WHERE ns = 'openers' ORDER BY key`);
        assert.deepEqual(
          openers.rows.map((row: { key: string }) => row.key),
          Array.from({ length: OPENERS }, (_, i) => `o${i}`),
        );
      });
      t.diagnostic(`${schema}: opens took ${results.map((r) => r.ms).join(", ")} ms`);
    }
    // Nothing went to the default schemas.
    const stray = await withClient((client) =>
      client.query("SELECT table_schema, table_name FROM information_schema.tables WHERE table_name LIKE 'stowage%' AND table_schema NOT LIKE 'proc\\_%'"),
    );
    assert.deepEqual(stray.rows, []);
    for (const child of children) child.send("exit");
    const exits = await Promise.all(children.map((child) => child.finish(10_000)));
    assertExitedCleanly(children, exits, "opener");
  } finally {
    await killAll(children);
  }
});
