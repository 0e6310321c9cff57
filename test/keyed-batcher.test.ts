import assert from "node:assert/strict";
import { test } from "node:test";
import { KeyedBatcher } from "../src/engines/keyed-batcher.js";

/** A batch runner whose batches finish only when the test releases them, recording every batch it was given. */
function controlled() {
  const batches: Array<{ key: string; items: number[]; release(fail?: Error): void }> = [];
  const runBatch = (key: string, items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      batches.push({ key, items, release: (fail) => (fail === undefined ? resolve(items.map((n) => n * 10)) : reject(fail)) });
    });
  return { batches, runBatch };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("a call on an idle key runs at once and alone; calls arriving meanwhile share the next batch", async () => {
  const { batches, runBatch } = controlled();
  const batcher = new KeyedBatcher(runBatch, () => 1, { maxItems: 100, maxBytes: 1000 });
  const first = batcher.submit("a", 1);
  assert.deepEqual(batches.map((b) => b.items), [[1]], "the first call did not wait");
  const later = [2, 3, 4].map((n) => batcher.submit("a", n));
  const other = batcher.submit("b", 9);
  assert.deepEqual(batches.map((b) => [b.key, b.items]), [["a", [1]], ["b", [9]]], "another key does not wait for the busy one");
  batches[0]?.release();
  assert.equal(await first, 10);
  await tick();
  assert.deepEqual(batches[2]?.items, [2, 3, 4]);
  batches[2]?.release();
  assert.deepEqual(await Promise.all(later), [20, 30, 40]);
  batches[1]?.release();
  assert.equal(await other, 90);
});

test("batches close at maxItems and at maxBytes, and always take at least one item", async () => {
  const { batches, runBatch } = controlled();
  const batcher = new KeyedBatcher(runBatch, (n: number) => n, { maxItems: 3, maxBytes: 10 });
  const all = [1, 1, 1, 1, 1, 6, 6, 50, 2].map((n) => batcher.submit("k", n));
  for (let i = 0; i < 10 && batches.length < 6; i++) {
    batches[batches.length - 1]?.release();
    await tick();
  }
  assert.deepEqual(
    batches.map((b) => b.items),
    [[1], [1, 1, 1], [1, 6], [6], [50], [2]],
  );
  batches[batches.length - 1]?.release();
  assert.deepEqual(await Promise.all(all), [10, 10, 10, 10, 10, 60, 60, 500, 20]);
});

test("a failed batch rejects its own calls only; the next batch still runs", async () => {
  const { batches, runBatch } = controlled();
  const batcher = new KeyedBatcher(runBatch, () => 1, { maxItems: 100, maxBytes: 1000 });
  const first = batcher.submit("k", 1);
  const second = [2, 3].map((n) => batcher.submit("k", n));
  const failure = new Error("server gone");
  batches[0]?.release(failure);
  await assert.rejects(first, (error) => error === failure);
  await tick();
  batches[1]?.release();
  assert.deepEqual(await Promise.all(second), [20, 30]);
});

test("a runner answering the wrong number of results fails the batch instead of misassigning answers", async () => {
  let calls = 0;
  const batcher = new KeyedBatcher(async (_key: string, items: number[]) => (++calls === 1 ? items.slice(1) : items), () => 1, { maxItems: 10, maxBytes: 10 });
  await assert.rejects(batcher.submit("k", 1), /returned 0 results/);
  assert.equal(await batcher.submit("k", 5), 5, "the key is idle again and serves the next call");
});
