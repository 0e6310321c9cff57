/**
 * A live feed releases its watch (the engine's poll timer or LISTEN connection share) and its listeners as soon as it
 * is aborted or its store closes — also when its consumer is not waiting for an item and never asks again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChangeSignal } from "../src/engines/change-signal.js";
import { follow } from "../src/store/feed.js";

/** A change source that counts its open watches. */
function countingSource(): { source: ChangeSignal; open: () => number } {
  let open = 0;
  const source = new ChangeSignal({ start: () => (open += 1), stop: () => (open -= 1) });
  return { source, open: () => open };
}

for (const how of ["abort", "close"] as const) {
  test(`a feed left suspended after an item releases its watch on ${how}`, async () => {
    const { source, open } = countingSource();
    const closing = new AbortController();
    const stop = new AbortController();
    let n = 0;
    const feed = follow({ changes: source, closing: closing.signal }, stop.signal, async () => ({ items: [++n], more: false }))[Symbol.asyncIterator]();
    assert.deepEqual(await feed.next(), { done: false, value: 1 });
    assert.equal(open(), 1, "the feed watches while it runs");
    (how === "abort" ? stop : closing).abort();
    assert.equal(open(), 0, "released at once, though the consumer never asks again");
    assert.deepEqual(await feed.next(), { done: true, value: undefined });
    assert.equal(open(), 0);
  });
}

test("many feeds aborted while suspended leave no listener on the store's closing signal", async () => {
  const { source } = countingSource();
  const closing = new AbortController();
  let listeners = 0;
  const add = closing.signal.addEventListener.bind(closing.signal);
  const remove = closing.signal.removeEventListener.bind(closing.signal);
  closing.signal.addEventListener = ((...args: Parameters<typeof add>) => (listeners++, add(...args))) as typeof add;
  closing.signal.removeEventListener = ((...args: Parameters<typeof remove>) => (listeners--, remove(...args))) as typeof remove;
  for (let i = 0; i < 20; i++) {
    const stop = new AbortController();
    const feed = follow({ changes: source, closing: closing.signal }, stop.signal, async () => ({ items: [i], more: false }))[Symbol.asyncIterator]();
    await feed.next();
    stop.abort();
  }
  assert.equal(listeners, 0);
});
