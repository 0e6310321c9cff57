/** The tick batcher: calls of one turn of the event loop share a batch, a batch's failure fails its calls, maxItems splits. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TickBatcher } from "../src/engines/tick-batcher.js";

test("calls made in one turn (its microtasks included) run as one batch; later turns as others", async () => {
  const batches: number[][] = [];
  const batcher = new TickBatcher<number, number>(async (items) => {
    batches.push(items);
    return items.map((item) => item * 10);
  }, 100);
  const first = [batcher.submit(1), Promise.resolve().then(() => batcher.submit(2)), batcher.submit(3)];
  assert.deepEqual(await Promise.all(first), [10, 20, 30]);
  assert.equal(await batcher.submit(4), 40);
  assert.deepEqual(batches, [[1, 3, 2], [4]]);
});

test("a failed batch fails each of its calls; maxItems splits one turn's calls", async () => {
  const sizes: number[] = [];
  const batcher = new TickBatcher<number, number>((items) => {
    sizes.push(items.length);
    return items.includes(0) ? Promise.reject(new Error("refused")) : Promise.resolve(items);
  }, 2);
  const settled = await Promise.allSettled([batcher.submit(0), batcher.submit(1), batcher.submit(2)]);
  assert.deepEqual(sizes, [2, 1]);
  assert.deepEqual(settled.map((s) => s.status), ["rejected", "rejected", "fulfilled"]);
});

test("with runOne, a call made while nothing runs goes out at once, alone; the calls made meanwhile, or in the turn a batch answered, are gathered", async () => {
  const sent: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const batcher = new TickBatcher<number, number>(
    async (items) => {
      sent.push(`batch ${items.join(",")}`);
      return items.map((item) => item * 10);
    },
    100,
    async (item) => {
      sent.push(`one ${item}`);
      if (item === 1) await held;
      if (item === 9) throw new Error("refused");
      return item * 10;
    },
  );
  const first = batcher.submit(1);
  // Sent before submit returned: no wait for the turn's end.
  assert.deepEqual(sent, ["one 1"]);
  const meanwhile = [batcher.submit(2), batcher.submit(3)];
  assert.deepEqual(await Promise.all(meanwhile), [20, 30]);
  release();
  assert.equal(await first, 10);
  // Still the turn the batch's answers came in: a call made now is gathered (the batch's callers call together).
  assert.equal(await batcher.submit(5), 50);
  await new Promise((resolve) => setImmediate(resolve));
  // Nothing runs any more: the next lone call goes alone again, and its failure is its own.
  await assert.rejects(batcher.submit(9), /refused/);
  assert.equal(await batcher.submit(4), 40);
  assert.deepEqual(sent, ["one 1", "batch 2,3", "batch 5", "one 9", "one 4"]);
});
