import assert from "node:assert/strict";
import { test } from "node:test";
import { checkMemoryData } from "../src/engines/memory/memory-check.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { MemoryData } from "../src/engines/memory/memory-ops.js";
import type { StoredWorkRow } from "../src/engines/engine.js";
import { createStore } from "../src/index.js";

/** The memory engine's data behind a store, to break on purpose (the public API cannot). */
async function filledData(): Promise<MemoryData> {
  const engine = new MemoryEngine();
  const store = createStore(engine, { sweepIntervalMs: 0 });
  await store.kv("k").put("a", new Uint8Array([1]));
  await store.kv("k").put("b", new Uint8Array([2]));
  await store.log("l").append("x", new Uint8Array([1]));
  await store.log("l").append("y", new Uint8Array([1]));
  await store.queue("q").push("x", new Uint8Array([1]));
  const work = store.workQueue("w", { retry: { maxAttempts: 1 } });
  await work.pushMany("x", [{ value: new Uint8Array([1]), dedupKey: "d" }, { value: new Uint8Array([2]) }]);
  const [claimed] = await work.claim("x");
  await work.fail(claimed!, "dead");
  assert.deepEqual(await store.check(), { ok: true, problems: [] });
  // Left open: closing releases the engine's data.
  return (engine as unknown as { data: MemoryData }).data;
}

test("memory check: sound data passes; a row missing from the key order, a reused seq, an id past the counter fail", async () => {
  let data = await filledData();
  assert.deepEqual(checkMemoryData(data), []);

  data.kv.get("k")?.rows.set("c", { value: new Uint8Array(), expiresAt: null });
  assert.match(checkMemoryData(data).join("\n"), /kv k: the key order holds 2 keys, the rows 3/);

  data = await filledData();
  const log = data.log.get("l");
  log?.byKey.get("y")?.push({ seq: 1, key: "y", value: new Uint8Array(), timestamp: 0 });
  assert.match(checkMemoryData(data).join("\n"), /log l\/y: seq 1 out of order[\s\S]*log l: seq 1 used twice/);

  data = await filledData();
  const queue = data.queue.get("q");
  queue?.byKey.get("x")?.set(9, { id: 9, value: new Uint8Array(), pushedAt: 0 });
  assert.match(checkMemoryData(data).join("\n"), /queue q\/x: item 9 out of order or beyond the counter/);
});

test("memory check: a work row outside its indexes, a dead row with a token, a stale dedup entry, an id past the counter fail", async () => {
  const workOf = (data: MemoryData) => data.work.get("w")!.byKey.get("x")!;
  const replaced = (data: MemoryData, id: number, change: Partial<StoredWorkRow>): void => {
    const items = workOf(data).items;
    items.set(id, { ...items.get(id)!, ...change });
  };
  let data = await filledData();
  replaced(data, 2, { visibleAt: 1 });
  assert.match(checkMemoryData(data).join("\n"), /work w\/x: the visibility order lacks 1 of the rows' entries and holds 1 others/);

  data = await filledData();
  replaced(data, 1, { token: 5 });
  assert.match(checkMemoryData(data).join("\n"), /work w\/x: dead item 1 holds a lease token/);

  data = await filledData();
  workOf(data).dedup.set("d", 1);
  assert.match(checkMemoryData(data).join("\n"), /work w\/x: dedup key "d" names item 1, which is not a live item with that key/);

  data = await filledData();
  data.work.get("w")!.lastId = 1;
  assert.match(checkMemoryData(data).join("\n"), /work w\/x: item 2 is outside 1..1/);
});
