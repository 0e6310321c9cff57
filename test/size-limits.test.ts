/**
 * The size-limit wrapper: every write that stores bytes is checked (at the limit passes, one byte over is refused and
 * stores nothing), values measured as stored (after the codec and compression), transactions fail whole, reads,
 * deletes, acks and drops are never refused, per-namespace limits, option checks, and SQLite's group commit.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createStore, json, LIMITS, openStore, utf8, withMetrics, withSizeLimits, type SizeLimitOptions, type Store } from "../src/index.js";
import { DeclaredEngine, declaring } from "./helpers/declared-engine.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-size-limits-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function limited(options: SizeLimitOptions, base?: Store) {
  const inner = base ?? (await openStore({ backend: "memory", sweepIntervalMs: 0 }));
  return { inner, store: withSizeLimits(inner, options) };
}

/** Asserts a LIMIT_EXCEEDED refusal whose message names `size` and `limit`. */
async function tooBig(call: Promise<unknown>, what: string, size: number, limit: number, namespace: string, key: string): Promise<void> {
  await assert.rejects(call, (error: Error & Record<string, unknown>) => {
    assert.equal(error.code, "LIMIT_EXCEEDED", error.message);
    assert.match(error.message, new RegExp(`${what.replace(/[[\]]/g, "\\$&")} is ${size} bytes.*limit is ${limit} bytes`));
    assert.equal(error.namespace, namespace);
    assert.equal(error.key, key);
    return true;
  });
}

const bytesOf = (n: number) => new Uint8Array(n).fill(7);

test("every write that stores bytes is checked: at the limit it passes, one byte over it is refused and stores nothing", async () => {
  const { inner, store } = await limited({ maxKeyBytes: 8, maxValueBytes: 16, maxRecordsPerProduce: 3 });
  const long = "123456789"; // 9 bytes
  const wide = "ééééé"; // 5 characters, 10 bytes of UTF-8

  const kv = store.kv("kv");
  await kv.put("12345678", bytesOf(16));
  await tooBig(kv.put(long, bytesOf(1)), "key", 9, 8, "kv", long);
  await tooBig(kv.put(wide, bytesOf(1)), "key", 10, 8, "kv", wide);
  await tooBig(kv.put("k", bytesOf(17)), "value", 17, 16, "kv", "k");

  const log = store.log("log");
  await log.append("12345678", bytesOf(16));
  await tooBig(log.append(long, bytesOf(1)), "key", 9, 8, "log", long);
  await tooBig(log.append("k", bytesOf(17)), "value", 17, 16, "log", "k");

  const slot = store.slot("slot");
  assert.equal(await slot.upsert("s", bytesOf(16)), 1);
  await tooBig(slot.upsert(long, bytesOf(1)), "key", 9, 8, "slot", long);
  await tooBig(slot.upsert("s", bytesOf(17)), "value", 17, 16, "slot", "s");
  await tooBig(slot.cas("s", 1, bytesOf(17)), "value", 17, 16, "slot", "s");
  await tooBig(slot.cas(long, 0, bytesOf(1)), "key", 9, 8, "slot", long);

  const queue = store.queue("queue");
  await queue.push("12345678", bytesOf(16));
  await tooBig(queue.push(long, bytesOf(1)), "key", 9, 8, "queue", long);
  await tooBig(queue.push("q", bytesOf(17)), "value", 17, 16, "queue", "q");

  const stream = store.stream("stream");
  const record = { value: bytesOf(16) };
  await stream.produce("space", "seg", [record, record, record]);
  await tooBig(stream.produce(long, "seg", [record]), "space", 9, 8, "stream", long);
  await tooBig(stream.produce("space", long, [record]), "segment", 9, 8, "stream", long);
  await tooBig(stream.produce("space", "seg", [record, { value: bytesOf(17) }]), "records[1] value", 17, 16, "stream", "seg");
  await assert.rejects(stream.produce("space", "seg", [record, record, record, record]), (error: Error & Record<string, unknown>) => {
    assert.equal(error.code, "LIMIT_EXCEEDED");
    assert.match(error.message, /4 records in one produce; this store's limit is 3/);
    return error.namespace === "stream" && error.key === "seg";
  });

  // Only the writes at the limit are stored.
  assert.deepEqual((await inner.kv("kv").list({ keysOnly: true })).entries, [{ key: "12345678" }]);
  assert.equal(await inner.log("log").lastSeq(), 1);
  assert.equal((await inner.slot("slot").get("s"))?.version, 1);
  assert.equal(await inner.slot("slot").get(long), undefined);
  assert.equal(await inner.queue("queue").len("12345678"), 1);
  assert.equal(await inner.queue("queue").len("q"), 0);
  assert.equal((await inner.stream("stream").status("space", "seg")).lastSeq, 3);
  assert.deepEqual(await inner.stream("stream").spaces(), ["space"]);
  assert.equal(store.sizeLimits.stats().refused, 15);
  assert.deepEqual(
    { ...store.sizeLimits, stats: undefined },
    { maxKeyBytes: 8, maxValueBytes: 16, maxRecordsPerProduce: 3, maxHeaderBytes: LIMITS.maxHeaderBytes, namespaces: undefined, stats: undefined },
  );
  await store.close();
});

test("a stream record's headers are limited too: maxHeaderBytes, in bytes of their JSON (issue 17, suspected)", async () => {
  const { inner, store } = await limited({ maxHeaderBytes: 32 });
  const stream = store.stream("stream");
  const fits = { k: "x".repeat(32 - '{"k":""}'.length) }; // 32 bytes as JSON
  await stream.produce("space", "seg", [{ value: bytesOf(1), headers: fits }]);
  await assert.rejects(stream.produce("space", "seg", [{ value: bytesOf(1) }, { value: bytesOf(1), headers: { k: `${fits.k}é` } }]), (error: Error & Record<string, unknown>) => {
    assert.equal(error.code, "LIMIT_EXCEEDED");
    assert.match(error.message, /records\[1\] headers are 34 bytes as JSON; this store's limit is 32 bytes/);
    return error.namespace === "stream" && error.key === "seg";
  });
  assert.equal((await inner.stream("stream").status("space", "seg")).lastSeq, 1, "the refused produce stored nothing");
  assert.equal(store.sizeLimits.maxHeaderBytes, 32);
  assert.equal(store.sizeLimits.stats().refused, 1);
  assert.throws(() => withSizeLimits(inner, { maxHeaderBytes: LIMITS.maxHeaderBytes + 1 }), { code: "INVALID_ARGUMENT" });
  await store.close();
});

test("values are measured as stored: after the codec, and after a stream's compression", async () => {
  const { store } = await limited({ maxValueBytes: 100 });
  const kv = store.kv("docs", { codec: json<string>() });
  await kv.put("fits", "x".repeat(98)); // 98 characters and two quotes: 100 bytes
  await tooBig(kv.put("over", "x".repeat(99)), "value", 101, 100, "docs", "over");

  const packed = store.stream("events", { codec: utf8, compression: "deflate" });
  await packed.produce("s", "a", [{ value: "a".repeat(10_000) }]); // 10,000 bytes that store in a few dozen
  const noise = randomBytes(200).toString("base64"); // does not compress below 100 bytes
  await assert.rejects(packed.produce("s", "a", [{ value: noise }]), { code: "LIMIT_EXCEEDED" });
  const plain = store.stream("plain", { codec: utf8 });
  await tooBig(plain.produce("s", "a", [{ value: "a".repeat(101) }]), "records[0] value", 101, 100, "plain", "a");
  assert.equal((await packed.readSegment("s", "a"))[0]?.value.length, 10_000);
  await store.close();
});

test("a write over a limit inside a transaction fails the whole transaction: nothing is stored", async () => {
  const { inner, store } = await limited({ maxValueBytes: 4 });
  await assert.rejects(
    store.transaction(async (tx) => {
      await tx.kv("ckpt").put("a", bytesOf(4));
      await tx.log("audit").append("a", bytesOf(2));
      await tx.queue("out").push("a", bytesOf(5));
    }),
    { code: "LIMIT_EXCEEDED" },
  );
  assert.equal(await inner.kv("ckpt").count(), 0);
  assert.equal(await inner.log("audit").lastSeq(), 0);
  assert.equal(await inner.queue("out").len("a"), 0);
  // The transaction commits when the body catches the refusal itself.
  await store.transaction(async (tx) => {
    await tx.kv("ckpt").put("a", bytesOf(4));
    await assert.rejects(tx.kv("ckpt").put("b", bytesOf(5)), { code: "LIMIT_EXCEEDED" });
  });
  assert.deepEqual((await inner.kv("ckpt").list({ keysOnly: true })).entries, [{ key: "a" }]);
  assert.equal(store.sizeLimits.stats().refused, 2);
  await store.close();
});

test("reads, deletes, acks and drops are never refused: data stored before the limits stays readable and removable", async () => {
  const inner = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const long = "k".repeat(100);
  await inner.kv("kv").put(long, bytesOf(1_000));
  await inner.slot("slot").upsert(long, bytesOf(1_000));
  const id = await inner.queue("queue").push(long, bytesOf(1_000));
  await inner.queue("queue").push(long, bytesOf(1_000));
  await inner.log("log").append(long, bytesOf(1_000));
  await inner.stream("stream").produce(long, long, [{ value: bytesOf(1_000) }]);

  const { store } = await limited({ maxKeyBytes: 10, maxValueBytes: 10 }, inner);
  assert.equal((await store.kv("kv").get(long))?.length, 1_000);
  assert.equal((await store.kv("kv").list()).entries.length, 1);
  assert.equal((await store.slot("slot").get(long))?.value.length, 1_000);
  assert.equal((await store.log("log").list(long)).length, 1);
  assert.equal((await store.stream("stream").readSegment(long, long)).length, 1);
  assert.equal((await store.queue("queue").peek(long, 10)).length, 2);
  assert.equal(await store.queue("queue").ack(long, id), true);
  assert.equal(await store.queue("queue").dropOldest(long, 1), 1);
  assert.equal(await store.kv("kv").delete(long), true);
  assert.equal(store.sizeLimits.stats().refused, 0);
  await store.close();
});

test("namespaces: only writes to those namespaces are checked", async () => {
  const { store } = await limited({ maxValueBytes: 1, namespaces: ["small"] });
  await tooBig(store.kv("small").put("k", bytesOf(2)), "value", 2, 1, "small", "k");
  await store.kv("large").put("k", bytesOf(1_000));
  assert.deepEqual(store.sizeLimits.namespaces, ["small"]);
  await store.close();
});

test("work pushes are checked item by item: key, value and dedup key (issue 21)", async () => {
  // The memory engine under another name, counting the calls that reach it.
  const engine = new DeclaredEngine("declared", declaring({ workQueues: true }));
  const { store } = await limited({ maxKeyBytes: 8, maxValueBytes: 4 }, createStore(engine, { sweepIntervalMs: 0 }));
  const jobs = store.workQueue("jobs");
  await tooBig(jobs.push("email", bytesOf(5)), "items[0] value", 5, 4, "jobs", "email");
  await tooBig(jobs.pushMany("email", [{ value: bytesOf(4) }, { value: bytesOf(6) }]), "items[1] value", 6, 4, "jobs", "email");
  await tooBig(jobs.push("email", bytesOf(1), { dedupKey: "123456789" }), "items[0] dedupKey", 9, 8, "jobs", "123456789");
  await tooBig(jobs.push("long-key-", bytesOf(1)), "key", 9, 8, "jobs", "long-key-");
  assert.equal(engine.calls, 0, `the refusals reached no engine call: ${engine.ops.join(", ")}`);
  assert.deepEqual(await jobs.push("email", bytesOf(4), { dedupKey: "12345678" }), { id: 1, duplicate: false }, "at the limits the push is stored");
  assert.deepEqual(engine.ops, ["workPush"]);
  await store.close();
});

test("limits are checked when the store is wrapped: whole numbers from 1 up to the engine's own", async () => {
  const inner = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const bad: unknown[] = [
    null,
    "small",
    { maxKeyBytes: LIMITS.maxKeyBytes + 1 },
    { maxValueBytes: LIMITS.maxValueBytes + 1 },
    { maxRecordsPerProduce: LIMITS.maxTransactionWrites + 1 },
    { maxKeyBytes: 0 },
    { maxValueBytes: -1 },
    { maxValueBytes: 1.5 },
    { maxKeyBytes: "8" },
    { maxRecordsPerProduce: Number.NaN },
    { maxKeys: 8 },
    { namespaces: [] },
    { namespaces: ["no spaces"] },
    { namespaces: "small" },
  ];
  for (const options of bad) {
    assert.throws(() => withSizeLimits(inner, options as SizeLimitOptions), { code: "INVALID_ARGUMENT" }, JSON.stringify(options));
  }
  assert.throws(() => withSizeLimits({} as Store, {}), { code: "INVALID_ARGUMENT" });
  const engineLimits = withSizeLimits(inner, { maxKeyBytes: LIMITS.maxKeyBytes, maxValueBytes: LIMITS.maxValueBytes });
  assert.equal(engineLimits.sizeLimits.maxRecordsPerProduce, LIMITS.maxTransactionWrites, "a limit left out is the engine's");
  await engineLimits.close();
});

test("SQLite: in a group commit only the write over the limit fails, counted once; its neighbours are stored", async () => {
  const base = await openStore({ backend: "sqlite", path: join(dir, "group.db"), sweepIntervalMs: 0 });
  const { inner, store } = await limited({ maxValueBytes: 8 }, base);
  const kv = store.kv("events");
  // Issued in one turn: one group commit, which SQLite runs again write by write when one of them fails.
  const outcomes = await Promise.allSettled([kv.put("a", bytesOf(8)), kv.put("b", bytesOf(9)), kv.put("c", bytesOf(1))]);
  assert.deepEqual(outcomes.map((o) => o.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal((outcomes[1] as PromiseRejectedResult).reason.code, "LIMIT_EXCEEDED");
  assert.deepEqual((await inner.kv("events").list({ keysOnly: true })).entries, [{ key: "a" }, { key: "c" }]);
  assert.equal(store.sizeLimits.stats().refused, 1);
  await store.close();

  // Checked before any I/O: beneath the limits, the engine sees only the writes that pass (counted by a metrics
  // layer there), so a refused write never enters — nor rolls back — a group commit.
  const counted = withMetrics(await openStore({ backend: "sqlite", path: join(dir, "gate.db"), sweepIntervalMs: 0 }));
  const limitedAbove = withSizeLimits(counted, { maxValueBytes: 8 });
  const puts = Array.from({ length: 51 }, (_, i) => limitedAbove.kv("events").put(`k${i}`, bytesOf(i === 25 ? 9 : 1)));
  const settled = await Promise.allSettled(puts);
  assert.equal(settled.filter((o) => o.status === "rejected").length, 1);
  const reached = limitedAbove.metrics.snapshot().series.find((series) => series.op === "kv.put" && series.namespace === "events");
  assert.equal(reached?.calls, 50, "the oversized put never reached the engine");
  await limitedAbove.close();
});
