/**
 * The ordered-KV family's dumps and restores beyond the conformance suite: restore batches as large as the engine's
 * manifest allows fit one commit of stores with etcd's and Azure Table's commit limits, in their largest shape;
 * `describe` counts past one page; `Engine.snapshot` holds one store snapshot and releases it however the body ends;
 * on LMDB and LevelDB a snapshot does not see what commits while its body runs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { createStore, isStowageError, LIMITS, openStore, utf8, type Store } from "../src/index.js";
import type { Engine, StoredKvRow, StoredLogEntry, StoredQueueRow, StoredSlotRow, StoredStreamEntry } from "../src/engines/engine.js";
import type { EngineCall } from "../src/engines/engine-calls.js";
import { OrderedEngine } from "../src/engines/ordered/ordered-engine.js";
import type { OrderedCommit, OrderedLimits, OrderedSnapshot } from "../src/engines/ordered/ordered-store.js";
import { ETCD_LIMITS } from "../src/engines/etcd/etcd-store.js";
import { AZURE_TABLE_LIMITS } from "../src/engines/azure-table/azure-table-store.js";
import { storeParts } from "../src/wrappers/layer.js";
import { SortedOrderedStore } from "./helpers/sorted-ordered-store.js";
import { tempDir } from "./helpers/child.js";

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

/** A sorted store that counts its commits and the snapshots not released yet. */
class CountingStore extends SortedOrderedStore {
  commits = 0;
  open = 0;
  override async commit(commit: OrderedCommit): Promise<boolean> {
    this.commits += 1;
    return super.commit(commit);
  }
  override snapshot(): OrderedSnapshot | Promise<OrderedSnapshot> {
    const taken = super.snapshot() as OrderedSnapshot;
    this.open += 1;
    let released = false;
    return {
      get: (key) => taken.get(key),
      range: (start, end, options) => taken.range(start, end, options),
      release: () => {
        if (!released) this.open -= 1;
        released = true;
        taken.release();
      },
    };
  }
}

async function withEngine(limits: Partial<OrderedLimits>, body: (store: Store, engine: OrderedEngine, ordered: CountingStore) => Promise<void>): Promise<void> {
  const ordered = new CountingStore(undefined, { limits });
  const engine = await OrderedEngine.open(ordered);
  const store = createStore(engine, { sweepIntervalMs: 0 });
  try {
    await body(store, engine, ordered);
  } finally {
    await store.close();
  }
}

/** Runs `call` and asserts that it committed in exactly one commit of the store. */
async function inOneCommit(engine: Engine, ordered: CountingStore, call: EngineCall): Promise<void> {
  const before = ordered.commits;
  await engine.write(call);
  assert.equal(ordered.commits - before, 1, `${call.op} committed at once`);
}

for (const [name, limits] of [
  ["etcd", ETCD_LIMITS],
  ["azure-table", AZURE_TABLE_LIMITS],
] as const) {
  test(`restores of a batch at the manifest's limits fit one commit of a store with ${name}'s commit limits, in their largest shape`, async () => {
    await withEngine(limits, async (store, engine, ordered) => {
      const { maxTransactionWrites: rows, maxTransactionBytes } = engine.supports.limits;
      const ns = "n".repeat(LIMITS.maxNamespaceLength);
      const longKey = (i: number) => `${String(i).padStart(4, "0")}${"k".repeat(LIMITS.maxKeyBytes - 4)}`;
      // What the restore sink puts in one batch: `rows` items whose keys and values fill the byte limit.
      const valueBytes = Math.floor(maxTransactionBytes / rows) - LIMITS.maxKeyBytes;
      const value = (i: number) => new Uint8Array(valueBytes).fill(i);
      const now = Date.now();

      // KV at its largest: every key replaces an entry with another deadline (its expiry index record moves), and
      // the namespace keeps a history (a change record per entry and its state).
      const kvRows = (deadline: number): StoredKvRow[] => Array.from({ length: rows }, (_, i) => ({ key: longKey(i), value: value(i), expiresAt: deadline }));
      await inOneCommit(engine, ordered, { op: "kvRestore", args: [ns, kvRows(now + 60_000)] });
      await engine.write({ op: "kvHistoryStart", args: [ns, LIMITS.maxKvHistoryNamespaces] });
      await inOneCommit(engine, ordered, { op: "kvRestore", args: [ns, kvRows(now + 120_000)] });
      assert.equal((await engine.snapshot(async (ops) => ops.kvDump(ns, null, 1, now)))[0]?.expiresAt, now + 120_000);

      const entries: StoredLogEntry[] = Array.from({ length: rows }, (_, i) => ({ seq: i + 1, key: longKey(i), value: value(i), timestamp: now }));
      await inOneCommit(engine, ordered, { op: "logRestore", args: [ns, entries] });
      const slots: StoredSlotRow[] = Array.from({ length: rows }, (_, i) => ({ key: longKey(i), version: 7, value: value(i) }));
      await inOneCommit(engine, ordered, { op: "slotRestore", args: [ns, slots] });
      // Each item under a key of its own: a length record per item.
      const items: StoredQueueRow[] = Array.from({ length: rows }, (_, i) => ({ key: longKey(i), id: i + 1, value: value(i), pushedAt: now }));
      await inOneCommit(engine, ordered, { op: "queueRestore", args: [ns, items, rows + 5] });
      const space = "s".repeat(LIMITS.maxKeyBytes);
      const segment = "g".repeat(LIMITS.maxKeyBytes);
      const streamValue = new Uint8Array(Math.floor(maxTransactionBytes / rows) - 2 * LIMITS.maxKeyBytes - 20);
      const stream: StoredStreamEntry[] = Array.from({ length: rows }, (_, i) => ({ seq: i + 1, timestamp: now + i, value: streamValue, headers: '{"h":"v"}', compression: "gzip" }));
      await inOneCommit(engine, ordered, { op: "streamRestore", args: [ns, space, segment, stream] });

      assert.equal(await store.log(ns).append("next", enc("x")), rows + 1);
      assert.equal(await store.queue(ns).push("next", enc("x")), rows + 6);
      assert.equal((await store.stream(ns).produce(space, segment, [{ value: enc("x") }])).lastSeq, rows + 1);
      assert.deepEqual((await store.check()).problems, []);
    });
  });
}

test("describe counts past one page of records, and lists a queue namespace whose every item was acknowledged", async () => {
  await withEngine({}, async (store, engine) => {
    const now = Date.now();
    const rows = Array.from({ length: 2_500 }, (_, i): StoredKvRow => ({ key: `k${i}`, value: enc("v"), expiresAt: i % 100 === 0 ? now - 1 : null }));
    await engine.write({ op: "kvRestore", args: ["many", rows] });
    await engine.write({ op: "slotRestore", args: ["slots", rows.map(({ key, value }) => ({ key, value, version: 1 }))] });
    const queue = store.queue("drained", { codec: utf8 });
    await queue.ack("k", await queue.push("k", "gone"));
    await engine.write({ op: "queueRestore", args: ["moved", [], 40] });
    const described = await engine.read({ op: "describe", args: [now] });
    assert.deepEqual(
      described.namespaces.map(({ primitive, namespace, count }) => `${primitive}:${namespace}:${count}`).sort(),
      ["kv:many:2475", "queue:drained:0", "queue:moved:0", "slot:slots:2500"],
    );
    assert.equal(described.storedRows, 5_000);
  });
});

test("a snapshot reads one store snapshot, refuses writes INTERNAL before reading, and is released when its body resolves or throws", async () => {
  await withEngine({}, async (store, engine, ordered) => {
    const kv = store.kv("s", { codec: utf8 });
    await kv.put("k", "before");
    const seen = await engine.snapshot(async (ops) => {
      assert.equal(ordered.open, 1);
      await kv.put("k", "during");
      assert.throws(() => ops.slotRestore("s", [{ key: "x", version: 1, value: enc("x") }]), (e: unknown) => isStowageError(e, "INTERNAL") && /only reads/.test(e.message));
      return { got: dec(await ops.kvGet("s", "k", Date.now())), dumped: (await ops.kvDump("s", null, 10, Date.now())).map((row) => dec(row.value)) };
    });
    assert.deepEqual(seen, { got: "before", dumped: ["before"] });
    assert.equal(ordered.open, 0);
    await assert.rejects(
      engine.snapshot(async () => {
        throw new Error("the body failed");
      }),
      /the body failed/,
    );
    assert.equal(ordered.open, 0, "released after a throw");
    assert.equal(await kv.get("k"), "during");
  });
});

for (const backend of ["lmdb", "leveldb"] as const) {
  test(`${backend}: a snapshot does not see what the engine commits while its body reads`, async () => {
    const tmp = tempDir(`${backend}-snapshot`);
    const store = await openStore({ backend, path: join(tmp.dir, `data.${backend}`) });
    try {
      const engine = storeParts(store).engine;
      const log = store.log("l", { codec: utf8 });
      const queue = store.queue("q", { codec: utf8 });
      await log.append("k", "one");
      await queue.push("k", "one");
      const seen = await engine.snapshot!(async (ops) => {
        const first = await ops.logLastSeq("l");
        // Committed (awaited) while the snapshot is held: a log entry, a queue item, a slot, a KV entry.
        await Promise.all([log.append("k", "two"), queue.push("k", "two"), store.slot("s").upsert("k", enc("v")), store.kv("kv").put("k", enc("v"))]);
        return {
          first,
          last: await ops.logLastSeq("l"),
          entries: (await ops.logReadAll("l", 0, 10)).length,
          items: (await ops.queueDump("q", null, 10)).length,
          lastId: await ops.queueLastId("q"),
          slots: (await ops.slotDump("s", null, 10)).length,
          kv: (await ops.kvDump("kv", null, 10, Date.now())).length,
          namespaces: (await ops.describe(Date.now())).namespaces.map((info) => info.namespace).sort(),
        };
      });
      assert.deepEqual(seen, { first: 1, last: 1, entries: 1, items: 1, lastId: 1, slots: 0, kv: 0, namespaces: ["l", "q"] });
      assert.equal(await log.append("k", "three"), 3);
    } finally {
      await store.close();
      tmp.remove();
    }
  });
}
