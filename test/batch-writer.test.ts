/**
 * BatchWriter on memory and SQLite: flushes split into transactions by count and by bytes, flushes on interval and
 * on close, writes that fail on their own reported and rejected alone while every other write commits, and writes
 * committing in the order they were made.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { isStowageError, LIMITS, openStore, utf8, withRateLimit, type Store } from "../src/index.js";
import { ManualClock } from "../src/conformance/harness.js";
import { BatchWriter, type FlushReport } from "../src/index.js";
import { tempDir } from "./helpers/child.js";

type Engine = "memory" | "sqlite";

/** A fresh store of `engine` for `body`, closed and removed after; `transactions` counts the store's transactions. */
async function withStore(engine: Engine, body: (store: Store, counted: { transactions: number; store: Pick<Store, "transaction"> }) => Promise<void>): Promise<void> {
  const tmp = tempDir("batch-writer");
  const store = await openStore(engine === "memory" ? { backend: "memory", sweepIntervalMs: 0 } : { backend: "sqlite", path: join(tmp.dir, "store.db"), sweepIntervalMs: 0 });
  const counted = {
    transactions: 0,
    store: {
      transaction: ((body, options) => {
        counted.transactions += 1;
        return store.transaction(body, options);
      }) as Store["transaction"],
    },
  };
  try {
    await body(store, counted);
  } finally {
    await store.close();
    tmp.remove();
  }
}

const bytesOf = (text: string) => utf8.encode(text);
const pad = (i: number) => String(i).padStart(4, "0");
const codeOf = (result: PromiseSettledResult<unknown>) => (result.status === "rejected" && isStowageError(result.reason) ? result.reason.code : result.status);

for (const engine of ["memory", "sqlite"] as const) {
  test(`${engine}: 2,500 puts with maxWrites 500 commit as 5 transactions, all readable`, async () => {
    await withStore(engine, async (store, counted) => {
      const writer = new BatchWriter(counted.store, { maxWrites: 500, flushIntervalMs: 0 });
      const puts = Array.from({ length: 2_500 }, (_, i) => writer.put("items", `item/${pad(i)}`, bytesOf(`v${i}`)));
      const report = await writer.flush();
      await Promise.all(puts);
      assert.equal(counted.transactions, 5);
      assert.deepEqual({ writes: report.writes, committed: report.committed, transactions: report.transactions, failed: report.failed }, { writes: 2_500, committed: 2_500, transactions: 5, failed: [] });
      assert.deepEqual({ ...writer.stats(), lastFlushMs: 0 }, { flushes: 1, transactions: 5, rolledBack: 0, writesCommitted: 2_500, writesFailed: 0, pending: 0, pendingBytes: 0, lastFlushMs: 0 });
      const items = store.kv("items", { codec: utf8 });
      assert.equal(await items.count(), 2_500);
      assert.equal(await items.get("item/2499"), "v2499");
      await writer.close();
    });
  });

  test(`${engine}: maxBytes splits a flush; a write larger than maxBytes goes alone`, async () => {
    await withStore(engine, async (store, counted) => {
      const writer = new BatchWriter(counted.store, { maxBytes: 4_000, flushIntervalMs: 0 });
      const value = new Uint8Array(998); // + a 2-byte key: 1,000 bytes a write
      const writes = [0, 1, 2, 3, 4].map((i) => writer.put("blobs", `a${i}`, value));
      writes.push(writer.put("blobs", "big", new Uint8Array(5_000)));
      writes.push(...[5, 6, 7, 8, 9].map((i) => writer.put("blobs", `a${i}`, value)));
      await writer.flush();
      await Promise.all(writes);
      // [a0..a3] 4,000 bytes, [a4] (a fifth would pass 4,000), [big] alone, [a5..a8], [a9].
      assert.equal(counted.transactions, 5);
      assert.equal(writer.stats().transactions, 5);
      assert.equal(await store.kv("blobs").count(), 11);
    });
  });

  test(`${engine}: a flush starts flushIntervalMs after a write, without flush()`, { timeout: 10_000 }, async () => {
    await withStore(engine, async (store) => {
      let reported: (report: FlushReport) => void = () => undefined;
      const flushed = new Promise<FlushReport>((resolve) => (reported = resolve));
      const writer = new BatchWriter(store, { flushIntervalMs: 20, onFlush: (report) => reported(report) });
      const seq = await writer.append("events", "orders", bytesOf("created"));
      assert.equal(seq, 1);
      const report = await flushed;
      assert.deepEqual([report.trigger, report.writes, report.committed], ["interval", 1, 1]);
      assert.equal(writer.stats().flushes, 1);
      assert.equal((await store.log("events", { codec: utf8 }).list("orders"))[0]?.value, "created");
      await writer.close();
    });
  });

  test(`${engine}: close() flushes what is pending, then refuses writes with CLOSED; the store stays open`, async () => {
    await withStore(engine, async (store) => {
      await store.kv("state").put("old", bytesOf("x"));
      const reports: FlushReport[] = [];
      const writer = new BatchWriter(store, { flushIntervalMs: 0, onFlush: (report) => reports.push(report) });
      const buffer = bytesOf("first");
      const put = writer.put("state", "a", buffer, { ttlMs: 60_000 });
      buffer.set(bytesOf("XXXXX")); // reusing the buffer before the flush changes nothing
      const deleted = writer.delete("state", "old");
      const id = writer.push("jobs", "q", bytesOf("job"), { maxLen: 10 });
      assert.equal(writer.stats().pending, 3);
      await writer.close();
      assert.deepEqual(await Promise.all([put, deleted, id]), [undefined, true, 1]);
      assert.deepEqual(reports.map((r) => [r.trigger, r.writes, r.transactions]), [["close", 3, 1]]);
      assert.equal(await store.kv("state", { codec: utf8 }).get("a"), "first");
      assert.equal(await store.kv("state").get("old"), undefined);
      await assert.rejects(writer.put("state", "b", bytesOf("late")), (error: unknown) => isStowageError(error, "CLOSED"));
      await writer.close(); // idempotent
      assert.equal(await store.queue("jobs").len("q"), 1, "the store is still open");
    });
  });

  test(`${engine}: only the writes that fail on their own reject; every other write commits, and the report lists exactly them`, async () => {
    await withStore(engine, async (store) => {
      const reports: FlushReport[] = [];
      const writer = new BatchWriter(store, { flushIntervalMs: 0, onFlush: (report) => reports.push(report) });
      const full = { maxLen: 2, overflow: "reject" } as const;
      const writes: Promise<unknown>[] = [
        writer.put("state", "a", bytesOf("a")),
        writer.append("events", "orders", bytesOf("e1")),
        writer.push("jobs", "q", bytesOf("j1"), full),
        writer.push("jobs", "q", bytesOf("j2"), full),
        writer.push("jobs", "q", bytesOf("j3"), full), // the queue is full: LIMIT_EXCEEDED
        writer.put("state", "", bytesOf("no key")), // INVALID_ARGUMENT
        writer.put("state", "big", new Uint8Array(LIMITS.maxValueBytes + 1)), // LIMIT_EXCEEDED
        writer.append("events", "orders", bytesOf("e2")),
        writer.put("state", "b", bytesOf("b")),
      ];
      await writer.flush();
      const outcomes = await Promise.allSettled(writes);
      assert.deepEqual(outcomes.map(codeOf), ["fulfilled", "fulfilled", "fulfilled", "fulfilled", "LIMIT_EXCEEDED", "INVALID_ARGUMENT", "LIMIT_EXCEEDED", "fulfilled", "fulfilled"]);
      assert.deepEqual(
        reports.flatMap((r) => r.failed.map(({ op, namespace, key, code }) => ({ op, namespace, key, code }))),
        [
          { op: "push", namespace: "jobs", key: "q", code: "LIMIT_EXCEEDED" },
          { op: "put", namespace: "state", key: "", code: "INVALID_ARGUMENT" },
          { op: "put", namespace: "state", key: "big", code: "LIMIT_EXCEEDED" },
        ],
      );
      const { writesCommitted, writesFailed, flushes } = writer.stats();
      assert.deepEqual({ writesCommitted, writesFailed, flushes }, { writesCommitted: 6, writesFailed: 3, flushes: 1 });
      assert.deepEqual(await store.queue("jobs", { codec: utf8 }).peek("q", 10).then((items) => items.map((i) => i.value)), ["j1", "j2"]);
      assert.deepEqual((await store.log("events", { codec: utf8 }).list("orders")).map((e) => [e.seq, e.value]), [[1, "e1"], [2, "e2"]]);
      assert.deepEqual((await store.kv("state", { codec: utf8 }).list()).entries, [{ key: "a", value: "a" }, { key: "b", value: "b" }]);
      assert.deepEqual(await store.check(), { ok: true, problems: [] });
      await writer.close();
    });
  });

  test(`${engine}: writes commit in the order they were made, across transactions, flushes and a failed write`, async () => {
    await withStore(engine, async (store) => {
      const writer = new BatchWriter(store, { maxWrites: 7, flushIntervalMs: 0 });
      const appends: Promise<number>[] = [];
      let rejected: Promise<unknown> | undefined;
      for (let i = 0; i < 60; i++) {
        appends.push(writer.append("events", `key-${i % 3}`, bytesOf(String(i))));
        if (i === 20) void writer.flush(); // a flush under way while writes keep coming
        if (i === 33) rejected = writer.push("jobs", "q", bytesOf("x"), { maxLen: 0 }); // a bad option: rejected alone
      }
      await writer.close();
      await assert.rejects(rejected as Promise<unknown>, (error: unknown) => isStowageError(error, "INVALID_ARGUMENT"));
      const seqs = await Promise.all(appends);
      assert.deepEqual(seqs, Array.from({ length: 60 }, (_, i) => i + 1), "sequences follow the calls");
      const log = store.log("events", { codec: utf8 });
      for (const key of ["key-0", "key-1", "key-2"]) {
        const entries = await log.list(key);
        assert.deepEqual(entries.map((e) => Number(e.value)), entries.map((e) => e.seq - 1));
      }
      assert.ok(writer.stats().transactions >= 9, "60 writes at 7 a transaction");
    });
  });

  test(`${engine}: a failure of the transaction as a whole rejects each of its writes with that error, none silently`, async () => {
    await withStore(engine, async (store) => {
      const reports: FlushReport[] = [];
      const writer = new BatchWriter(store, { maxWrites: 2, flushIntervalMs: 0, onFlush: (report) => reports.push(report) });
      const writes = [1, 2, 3].map((i) => writer.put("state", `k${i}`, bytesOf("v")));
      await store.close(); // before the queued flush runs
      await writer.flush();
      assert.deepEqual((await Promise.allSettled(writes)).map(codeOf), ["CLOSED", "CLOSED", "CLOSED"]);
      assert.deepEqual(reports[0]?.failed.map((f) => [f.key, f.code]), [["k1", "CLOSED"], ["k2", "CLOSED"], ["k3", "CLOSED"]]);
      assert.deepEqual({ ...writer.stats(), lastFlushMs: 0 }, { flushes: 1, transactions: 0, rolledBack: 2, writesCommitted: 0, writesFailed: 3, pending: 0, pendingBytes: 0, lastFlushMs: 0 });
    });
  });
}

test("maxPending bounds what waits; bad options are INVALID_ARGUMENT", async () => {
  await withStore("memory", async (store) => {
    const writer = new BatchWriter(store, { maxPending: 2, flushIntervalMs: 0 });
    const kept = [writer.put("state", "a", bytesOf("a")), writer.put("state", "b", bytesOf("b"))];
    await assert.rejects(writer.put("state", "c", bytesOf("c")), (error: unknown) => isStowageError(error, "LIMIT_EXCEEDED"));
    await writer.close();
    await Promise.all(kept);
    for (const options of [{ maxWrites: 0 }, { maxWrites: LIMITS.maxTransactionWrites + 1 }, { maxBytes: LIMITS.maxTransactionBytes + 1 }, { flushIntervalMs: -1 }, { onFlush: 1 }, { maxWrite: 5 }]) {
      assert.throws(() => new BatchWriter(store, options as never), (error: unknown) => isStowageError(error, "INVALID_ARGUMENT"), JSON.stringify(options));
    }
  });
});

test("a write inside a transaction body of the writer's store is refused at once instead of waiting for the flush forever", async () => {
  const store = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const writer = new BatchWriter(store, { flushIntervalMs: 5 });
  const early = writer.put("ns", "before", new Uint8Array([1])); // its flush timer is running
  await assert.rejects(
    store.transaction(async () => writer.put("ns", "inside", new Uint8Array([2]))),
    (error: unknown) => isStowageError(error, "INVALID_ARGUMENT") && /tx handles/.test((error as Error).message),
  );
  await early;
  await writer.close();
  assert.deepEqual((await store.kv("ns").list({ keysOnly: true })).entries, [{ key: "before" }]);
  await store.close();
});

test("over withRateLimit, a rate-limited write rejects alone: its neighbours commit (issue 17, defect 14)", async () => {
  const base = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  // Keys under limited/ share one token that never refills; other keys are not limited.
  const store = withRateLimit(base, { ratePerSec: 0.001, burst: 1, by: (_ns, key) => (key?.startsWith("limited/") ? "limited" : undefined), clock: () => 0 });
  try {
    const reports: FlushReport[] = [];
    const writer = new BatchWriter(store, { flushIntervalMs: 0, onFlush: (report) => reports.push(report) });
    const writes = [writer.put("ns", "free/a", bytesOf("a")), writer.put("ns", "limited/x", bytesOf("x")), writer.put("ns", "limited/y", bytesOf("y")), writer.put("ns", "free/b", bytesOf("b"))];
    await writer.flush();
    const outcomes = (await Promise.allSettled(writes)).map(codeOf);
    assert.deepEqual([outcomes[0], outcomes[2], outcomes[3]], ["fulfilled", "RATE_LIMITED", "fulfilled"], "free/a and free/b commit; limited/y rejects alone");
    // limited/x drew the only token in the first try, which limited/y rolled back: it may fail too, on its own.
    const failed = reports[0]?.failed.map((f) => [f.key, f.code]) ?? [];
    assert.deepEqual(failed, outcomes[1] === "fulfilled" ? [["limited/y", "RATE_LIMITED"]] : [["limited/x", "RATE_LIMITED"], ["limited/y", "RATE_LIMITED"]]);
    assert.deepEqual((await base.kv("ns", { codec: utf8 }).list({ prefix: "free/" })).entries.map((e) => e.key), ["free/a", "free/b"]);
    await writer.close();
  } finally {
    await store.close();
  }
});

test("a batched put's TTL counts from writer.put, not from the flush (issue 17, suspected)", async () => {
  const clock = new ManualClock();
  const store = await openStore({ backend: "memory", sweepIntervalMs: 0, clock: clock.now });
  try {
    const writer = new BatchWriter(store, { flushIntervalMs: 0 });
    const put = writer.put("state", "session", bytesOf("v"), { ttlMs: 1_000 });
    const late = writer.put("state", "stale", bytesOf("v"), { ttlMs: 100 });
    await store.kv("state").put("stale", bytesOf("old"));
    clock.advance(600); // the writes wait for their flush
    await writer.flush();
    await Promise.all([put, late]);
    const kv = store.kv("state", { codec: utf8 });
    assert.equal(await kv.get("session"), "v");
    clock.advance(1);
    assert.equal(await kv.get("stale"), undefined, "its TTL ran out while it waited: it replaced the old value, then expired (1 ms on)");
    clock.advance(398);
    assert.equal(await kv.get("session"), "v");
    clock.advance(1);
    assert.equal(await kv.get("session"), undefined, "1,000 ms after writer.put");
    await writer.close();
  } finally {
    await store.close();
  }
});
