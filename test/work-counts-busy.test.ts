/**
 * `counts` of a busy work queue on a store without snapshot reads (Redis): it reads the key's item states a page at a
 * time, and when commits landed between its pages it used to run again, validated, until it lost 100 times in a row
 * and failed CONFLICT (found by the SIGKILL battery's soak under four busy workers). Here another connection's claim
 * and release land between every two pages of every read, on a real Redis server: `counts` must still answer, with
 * each item counted exactly once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createStore, openStore, utf8 } from "../src/index.js";
import { OrderedEngine } from "../src/engines/ordered/ordered-engine.js";
import type { OrderedSnapshot, OrderedStore } from "../src/engines/ordered/ordered-store.js";
import { openRedisStore } from "../src/engines/redis/redis-store.js";
import { useRedisServer } from "./helpers/redis-server.js";

const server = useRedisServer();
/** One and a half pages of the counts read (1,000 records a page): two range reads, a commit between them. */
const ITEMS = 1_500;

/** `store`, whose snapshots run `between()` after each range read while `armed()` says so. */
function interleaved(store: OrderedStore, armed: () => boolean, between: () => Promise<void>): OrderedStore {
  const wrap = (snapshot: OrderedSnapshot): OrderedSnapshot => ({
    get: (key) => snapshot.get(key),
    range: async (start, end, options) => {
      const entries = await snapshot.range(start, end, options);
      if (armed()) await between();
      return entries;
    },
    release: () => snapshot.release(),
    consistent: () => snapshot.consistent?.() ?? true,
  });
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === "snapshot") return async () => wrap(await target.snapshot());
      const value = Reflect.get(target, name, receiver) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

test("redis: counts answers while other commits land between its pages, each item counted once", async () => {
  const url = server().url;
  const prefix = "busycounts:";
  const churner = await openStore({ backend: "redis", url, prefix, sweepIntervalMs: 0 });
  const busy = churner.workQueue("jobs", { codec: utf8 });
  let armed = false;
  let churns = 0;
  // A claim and a release: the head item's state record changes twice, and the store's commit counter moves.
  const churn = async () => {
    const leases = await busy.claim("k", { limit: 1, visibilityMs: 60_000 });
    await Promise.all(leases.map((lease) => busy.release(lease)));
    churns++;
  };
  const reader = createStore(await OrderedEngine.open(interleaved(await openRedisStore({ url, prefix }), () => armed, churn)), { sweepIntervalMs: 0 });
  try {
    const queue = reader.workQueue("jobs", { codec: utf8 });
    for (let first = 0; first < ITEMS; first += 100) await queue.pushMany("k", Array.from({ length: 100 }, (_, i) => ({ value: `job ${first + i}` })));
    armed = true;
    for (let call = 0; call < 3; call++) {
      const counts = await queue.counts("k");
      // Every item once; one released after the call's clock reading (between two pages) counts as delayed.
      assert.equal(counts.ready + counts.delayed, ITEMS, JSON.stringify(counts));
      assert.deepEqual([counts.leased, counts.dead], [0, 0]);
    }
    armed = false;
    assert.ok(churns >= 3, `commits landed between the pages (${churns})`);
  } finally {
    await reader.close();
    await churner.close();
  }
});
