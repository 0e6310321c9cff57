/**
 * Feeds that share an AbortSignal: one signal given to many feeds (a service's shutdown signal) must not trip Node's
 * listener-leak warning, and aborting it must still end every feed. The store's own closing signal is shared by all of
 * its feeds the same way.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { utf8 } from "../src/index.js";
import { withMemoryStore } from "./helpers/memory-store.js";

const FEEDS = 50;

/** The warnings the process emits while `body` runs (Node emits them on a later tick, so it waits one turn). */
async function warningsDuring(body: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (warning: Error) => void seen.push(`${warning.name}: ${warning.message}`);
  process.on("warning", listener);
  try {
    await body();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off("warning", listener);
  }
  return seen;
}

test(`${FEEDS} feeds on one AbortSignal print no MaxListenersExceededWarning, and aborting it ends every one`, async () => {
  await withMemoryStore(async (store) => {
    const warnings = await warningsDuring(async () => {
      const stop = new AbortController();
      const log = store.log("feeds", { codec: utf8 });
      const stream = store.stream("feeds", { codec: utf8 });
      const kv = store.kv("feeds", { codec: utf8 });
      const feeds = Array.from({ length: FEEDS }, (_, i) => {
        const feed = i % 3 === 0 ? log.tail("k", { signal: stop.signal }) : i % 3 === 1 ? stream.subscribe("sp", "g", { signal: stop.signal }) : kv.watch(["k"], { signal: stop.signal });
        return feed[Symbol.asyncIterator]();
      });
      const nexts = feeds.map((feed) => feed.next());
      await log.append("k", "one");
      await stream.produce("sp", "g", [{ value: "one" }]);
      await kv.put("k", "one");
      assert.deepEqual(new Set((await Promise.all(nexts)).map((next) => next.value?.value)), new Set(["one"]));
      const ends = feeds.map((feed) => feed.next());
      stop.abort();
      assert.ok((await Promise.all(ends)).every((next) => next.done === true), "every feed ended");
    });
    assert.deepEqual(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning")), []);
  });
});

test(`${FEEDS} feeds without a signal print no warning either (they share the store's closing signal), and close ends them`, async () => {
  const warnings = await warningsDuring(async () => {
    await withMemoryStore(async (store) => {
      const log = store.log("feeds", { codec: utf8 });
      const feeds = Array.from({ length: FEEDS }, () => log.tail("k")[Symbol.asyncIterator]());
      const nexts = feeds.map((feed) => feed.next());
      await log.append("k", "one");
      assert.equal((await Promise.all(nexts)).length, FEEDS);
      const ends = feeds.map((feed) => feed.next());
      await store.close();
      assert.ok((await Promise.all(ends)).every((next) => next.done === true), "closing the store ended every feed");
    });
  });
  assert.deepEqual(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning")), []);
});
