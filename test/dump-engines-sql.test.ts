import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LIMITS } from "../src/api/limits.js";
import type { Engine, EngineOps, StoredKvRow, StoredLogEntry, StoredQueueRow } from "../src/engines/engine.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { PostgresEngine } from "../src/engines/postgres/postgres-engine.js";
import { SqliteEngine } from "../src/engines/sqlite/sqlite-engine.js";
import { dec, enc, rejectsWith } from "../src/conformance/harness.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

/*
 * The dump and restore operations of the memory engine and the SQL family beyond the conformance cases: snapshots
 * that do not hold writers back (and release what they hold), restores at the engines' commit limits, and the
 * refusals and bookkeeping a later operation relies on.
 */

const server = usePostgresServer();
const dir = mkdtempSync(join(tmpdir(), "stowage-dump-engines-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let opened = 0;

const FAMILIES: Record<string, () => Promise<Engine>> = {
  memory: async () => new MemoryEngine(),
  sqlite: () => SqliteEngine.open({ path: join(dir, `store-${++opened}.db`) }),
  postgres: () => PostgresEngine.open({ dsn: server().dsn, schema: `dump_${++opened}`, poolSize: 3 }),
};

async function withEngine(open: () => Promise<Engine>, use: (engine: Engine) => Promise<void>): Promise<void> {
  const engine = await open();
  try {
    await use(engine);
    assert.deepEqual(await engine.check(), []);
  } finally {
    await engine.close();
  }
}

const snapshotOf = <T>(engine: Engine, body: (ops: EngineOps) => Promise<T>): Promise<T> => engine.snapshot!(body);
const kv = (key: string, value = key, expiresAt: number | null = null): StoredKvRow => ({ key, value: enc(value), expiresAt });
const item = (key: string, id: number): StoredQueueRow => ({ key, id, value: enc(`${key}${id}`), pushedAt: 1_000 + id });
const entry = (seq: number, key = "k"): StoredLogEntry => ({ seq, key, value: enc(`e${seq}`), timestamp: 2_000 + seq });

for (const [family, open] of Object.entries(FAMILIES)) {
  test(`${family}: a snapshot keeps its point in time while writes go on and commit; its writes fail INTERNAL`, () =>
    withEngine(open, async (engine) => {
      await engine.write({ op: "kvPut", args: ["s", "a", enc("before"), null] });
      const seen = await snapshotOf(engine, async (ops) => {
        const first = dec(await ops.kvGet("s", "a", 0));
        // Awaited inside the body: a snapshot that held writers back would never get past this line.
        await engine.write({ op: "kvPut", args: ["s", "a", enc("during"), null] });
        await engine.write({ op: "logAppend", args: ["l", "k", enc("x"), 5] });
        await engine.transaction(async (tx) => tx.kvPut("s", "b", enc("in a transaction"), null));
        await rejectsWith(async () => ops.logAppend("l", "k", enc("y"), 5), "INTERNAL", "read-only");
        await rejectsWith(async () => ops.kvRestore("s", [kv("c")]), "INTERNAL");
        return {
          first,
          later: dec(await ops.kvGet("s", "a", 0)),
          rows: (await ops.kvDump("s", null, 10, 0)).map((row) => row.key),
          logLastSeq: await ops.logLastSeq("l"),
          described: (await ops.describe(0)).namespaces.map((info) => `${info.primitive}:${info.namespace}`),
        };
      });
      assert.deepEqual(seen, { first: "before", later: "before", rows: ["a"], logLastSeq: 0, described: ["kv:s"] });
      assert.equal(dec(await engine.read({ op: "kvGet", args: ["s", "a", 0] })), "during");
      assert.equal(await engine.read({ op: "logLastSeq", args: ["l"] }), 1);
    }));

  test(`${family}: a snapshot is released when its body throws, every time`, () =>
    withEngine(open, async (engine) => {
      await engine.write({ op: "kvPut", args: ["s", "a", enc("v"), null] });
      // More failed snapshots than PostgreSQL's pool has connections: each gave its connection back.
      for (let i = 0; i < 5; i++) {
        await assert.rejects(
          snapshotOf(engine, async (ops) => {
            assert.equal(dec(await ops.kvGet("s", "a", 0)), "v");
            throw new Error(`body ${i} fails`);
          }),
          { message: `body ${i} fails` },
        );
      }
      assert.equal(await snapshotOf(engine, async (ops) => dec(await ops.kvGet("s", "a", 0))), "v");
      await engine.write({ op: "kvPut", args: ["s", "a", enc("after"), null] });
      assert.equal(dec(await engine.read({ op: "kvGet", args: ["s", "a", 0] })), "after");
    }));

  test(`${family}: restores take a batch at the engine's limits in one call`, () =>
    withEngine(open, async (engine) => {
      const { maxTransactionWrites, maxTransactionBytes } = engine.supports.limits;
      const rows = Array.from({ length: maxTransactionWrites }, (_, i) => kv(`k${String(i).padStart(6, "0")}`, `v${i}`, i % 2 === 0 ? null : 10_000 + i));
      await engine.write({ op: "kvRestore", args: ["big", rows] });
      const dumped = await snapshotOf(engine, async (ops) => ops.kvDump("big", null, maxTransactionWrites + 1, 0));
      assert.deepEqual(
        dumped.map((row) => ({ ...row, value: dec(row.value) })),
        rows.map((row) => ({ ...row, value: dec(row.value) })),
      );
      // Close to the byte limit: a few large values (each below the value limit).
      const size = Math.min(LIMITS.maxValueBytes, 1024 * 1024) - 64;
      const large = Array.from({ length: Math.floor((maxTransactionBytes - 1024) / size) }, (_, i): StoredLogEntry => ({ ...entry(i + 1), value: new Uint8Array(size).fill(i) }));
      await engine.write({ op: "logRestore", args: ["bigLog", large] });
      const read = await engine.read({ op: "logReadAll", args: ["bigLog", 0, large.length] });
      assert.deepEqual(
        read.map((e) => [e.seq, e.value.byteLength, e.value[0]]),
        large.map((e) => [e.seq, size, e.value[0]]),
      );
      assert.equal(await engine.write({ op: "logAppend", args: ["bigLog", "k", enc("next"), 1] }), large.length + 1);
    }));

  test(`${family}: a log restore may leave gaps, a queue restore any order; what follows goes on after them`, () =>
    withEngine(open, async (engine) => {
      await engine.write({ op: "logRestore", args: ["log", [entry(3, "a"), entry(7, "b"), entry(8, "a")]] });
      assert.equal(await engine.read({ op: "logLastSeq", args: ["log"] }), 8);
      assert.deepEqual((await engine.read({ op: "logRead", args: ["log", "a", 0, 10] })).map((e) => e.seq), [3, 8]);
      assert.equal(await engine.write({ op: "logAppend", args: ["log", "a", enc("x"), 1] }), 9);
      await rejectsWith(engine.write({ op: "logRestore", args: ["log", [entry(9)]] }), "CONFLICT", "log");

      await engine.write({ op: "queueRestore", args: ["q", [item("b", 9), item("a", 4), item("a", 2)], 12] });
      await engine.write({ op: "queueRestore", args: ["q", [item("a", 3)], 12] });
      assert.deepEqual((await engine.read({ op: "queuePeek", args: ["q", "a", 0, 10] })).map((i) => i.id), [2, 3, 4]);
      assert.deepEqual((await engine.read({ op: "queuePeek", args: ["q", "a", 2, 10] })).map((i) => i.id), [3, 4]);
      assert.equal(await engine.read({ op: "queueLen", args: ["q", "a"] }), 3);
      assert.equal(await engine.read({ op: "queueLastId", args: ["q"] }), 12);
      assert.equal(await engine.write({ op: "queuePush", args: ["q", "a", enc("new"), 1, { maxLen: 3, overflow: "drop-oldest" }] }), 13);
      assert.deepEqual((await engine.read({ op: "queuePeek", args: ["q", "a", 0, 10] })).map((i) => i.id), [3, 4, 13]);
      assert.deepEqual(
        (await snapshotOf(engine, async (ops) => ops.queueDump("q", { key: "a", id: 3 }, 10))).map((i) => `${i.key}${i.id}`),
        ["a4", "a13", "b9"],
      );
      // An id the key holds, or one named twice (under any keys), is refused, and nothing of the batch is written.
      await rejectsWith(engine.write({ op: "queueRestore", args: ["q", [item("c", 20), item("b", 9)], 30] }), "CONFLICT", "9");
      await rejectsWith(engine.write({ op: "queueRestore", args: ["q", [item("c", 21), item("d", 21)], 30] }), "CONFLICT");
      assert.equal(await engine.read({ op: "queueLen", args: ["q", "c"] }), 0);
      assert.equal(await engine.read({ op: "queueLastId", args: ["q"] }), 13);
      // A drained queue's last id alone.
      await engine.write({ op: "queueRestore", args: ["drained", [], 40] });
      assert.equal(await engine.write({ op: "queuePush", args: ["drained", "k", enc("x"), 1, { maxLen: 10, overflow: "reject" }] }), 41);
    }));

  test(`${family}: a restore in a transaction that goes on after another one's CONFLICT leaves none of the refused one`, () =>
    withEngine(open, async (engine) => {
      await engine.write({ op: "streamProduce", args: ["st", "sp", "g", [{ value: enc("p1"), headers: null, compression: null }], 100, null] });
      await engine.transaction(async (tx) => {
        await tx.kvRestore("kv", [kv("a")]);
        await rejectsWith(async () => tx.streamRestore("st", "sp", "g", [{ seq: 3, timestamp: 50, value: enc("x"), headers: null, compression: null }]), "CONFLICT");
        await rejectsWith(async () => tx.queueRestore("q", [item("k", 1), item("k", 1)], 0), "CONFLICT");
        await tx.streamRestore("st", "sp", "h", [
          { seq: 1, timestamp: 90, value: enc("h1"), headers: '{"t":"1"}', compression: null },
          { seq: 2, timestamp: 120, value: enc("h2"), headers: null, compression: "gzip" },
        ]);
      });
      assert.deepEqual(await engine.read({ op: "streamStatus", args: ["st", "sp", "g"] }), { lastSeq: 1, lastTimestamp: 100, count: 1 });
      assert.deepEqual(await engine.read({ op: "streamStatus", args: ["st", "sp", "h"] }), { lastSeq: 2, lastTimestamp: 120, count: 2 });
      assert.equal(await engine.read({ op: "queueLastId", args: ["q"] }), 0);
      const space = await engine.read({ op: "streamReadSpace", args: ["st", "sp", 0, null, 10] });
      assert.deepEqual(
        space.map((e) => `${e.segment}${e.seq}@${e.timestamp}:${e.headers ?? ""}:${e.compression ?? ""}`),
        ['h1@90:{"t":"1"}:', "g1@100::", "h2@120::gzip"],
      );
      // A produce after the restore continues the segment, its timestamps never going back.
      const status = await engine.write({ op: "streamProduce", args: ["st", "sp", "h", [{ value: enc("h3"), headers: null, compression: null }], 110, 2] });
      assert.deepEqual(status, { lastSeq: 3, lastTimestamp: 120, count: 3 });
    }));

  test(`${family}: a KV restore into a namespace with a change history records each row as a put`, () =>
    withEngine(open, async (engine) => {
      const start = await engine.write({ op: "kvHistoryStart", args: ["h", 16] });
      await engine.write({ op: "kvRestore", args: ["h", [kv("a", "1"), kv("b", "2"), kv("a", "3")]] });
      const page = await engine.read({ op: "kvHistoryRead", args: ["h", ["a", "b"], start.lastSeq, 10] });
      const last = page?.changes.at(-1);
      assert.ok(page !== undefined && last !== undefined);
      // A key named twice keeps its last row: the history records what the restore left.
      assert.deepEqual(
        page.changes.map((change) => `${change.key}=${dec(change.value ?? undefined)}`).sort(),
        ["a=3", "b=2"],
      );
      assert.equal(page.lastSeq, last.seq);
    }));
}

test("sqlite: a snapshot reads its point in time while another connection (another store on the file) commits", async () => {
  const path = join(dir, `shared-${++opened}.db`);
  const reader = await SqliteEngine.open({ path });
  const writer = await SqliteEngine.open({ path });
  try {
    await writer.write({ op: "kvRestore", args: ["kv", [kv("a"), kv("b")]] });
    const seen = await snapshotOf(reader, async (ops) => {
      const before = await ops.kvDump("kv", null, 10, 0);
      await writer.write({ op: "kvRestore", args: ["kv", [kv("c"), kv("a", "changed")]] });
      await writer.write({ op: "kvDelete", args: ["kv", "b", 0] });
      // The writer's commits are on disk: the engine's own reads (another connection) see them now.
      assert.equal(dec(await reader.read({ op: "kvGet", args: ["kv", "a", 0] })), "changed");
      const afterwards = await ops.kvDump("kv", null, 10, 0);
      return [before, afterwards].map((rows) => rows.map((row) => `${row.key}=${dec(row.value)}`));
    });
    assert.deepEqual(seen, [
      ["a=a", "b=b"],
      ["a=a", "b=b"],
    ]);
  } finally {
    await reader.close();
    await writer.close();
  }
});
