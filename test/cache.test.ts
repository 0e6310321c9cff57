/**
 * The read-through cache wrapper: hits and misses, coherence with the store's own writes (in transactions too),
 * never past the KV TTL, its own TTL for writes it cannot see, invalidation through a live feed, LRU bounds.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ManualClock } from "../src/conformance/harness.js";
import { openStore, utf8, withCache, withRateLimit, type Store } from "../src/index.js";
import type { Awaitable } from "../src/engines/engine.js";
import { layerStore, type OpCall } from "../src/wrappers/layer.js";

async function cached(options: Parameters<typeof withCache>[1] = {}, base?: Store, clock = new ManualClock()) {
  const inner = base ?? (await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 }));
  return { inner, store: withCache(inner, options), clock };
}

test("a second get is served from memory; the store's own writes change what it serves at once", async () => {
  const { store } = await cached();
  const kv = store.kv("checkpoints", { codec: utf8 });
  await kv.put("a", "1");
  assert.equal(await kv.get("a"), "1");
  assert.equal(await kv.get("a"), "1");
  assert.deepEqual({ ...store.cache.stats(), bytes: 0 }, { hits: 1, misses: 1, evictions: 0, invalidations: 0, entries: 1, bytes: 0 });
  await kv.put("a", "2");
  assert.equal(await kv.get("a"), "2", "a put replaces the cached value");
  await kv.delete("a");
  assert.equal(await kv.get("a"), undefined, "a delete drops it");
  await kv.put("b", "1");
  await kv.put("c", "1");
  assert.equal(await kv.get("b"), "1");
  assert.equal(await kv.deleteRange({ prefix: "" }), 2);
  assert.equal(await kv.get("b"), undefined, "a range delete drops the namespace's values");
  await kv.put("t", "before");
  assert.equal(await kv.get("t"), "before");
  await store.transaction(async (tx) => {
    await tx.kv("checkpoints", { codec: utf8 }).put("t", "inside");
    assert.equal(await tx.kv("checkpoints", { codec: utf8 }).get("t"), "inside", "a transaction reads its own write");
  });
  assert.equal(await kv.get("t"), "inside", "a committed transaction's write is seen at once");
  await assert.rejects(
    store.transaction(async (tx) => {
      await tx.kv("checkpoints", { codec: utf8 }).put("t", "rolled back");
      throw new Error("abort");
    }),
    /abort/,
  );
  assert.equal(await kv.get("t"), "inside", "a rolled-back write is not served");
  await store.close();
});

test("slot gets are never cached: another store's CAS is seen by the next get", async () => {
  const { inner, store } = await cached();
  const slot = store.slot("snapshots", { codec: utf8 });
  assert.equal(await slot.cas("orders", 0, "a"), true);
  assert.deepEqual(await slot.get("orders"), { version: 1, value: "a" });
  // Another process's write, as the cache sees it: through a store object it does not wrap.
  assert.equal(await inner.slot("snapshots", { codec: utf8 }).cas("orders", 1, "b"), true);
  assert.deepEqual(await slot.get("orders"), { version: 2, value: "b" }, "a slot read is never answered from the cache");
  assert.equal(await slot.cas("orders", 2, "c"), true);
  assert.deepEqual({ hits: store.cache.stats().hits, entries: store.cache.stats().entries }, { hits: 0, entries: 0 });
  await store.close();
});

test("a cached value is never served past its KV TTL, and the cache's own TTL bounds what it cannot see", async () => {
  const { inner, store, clock } = await cached({ ttlMs: 5_000 });
  const kv = store.kv("leases", { codec: utf8 });
  await kv.put("short", "x", { ttlMs: 1_000 });
  assert.equal(await kv.get("short"), "x");
  clock.advance(999);
  assert.equal(await kv.get("short"), "x");
  clock.advance(1);
  assert.equal(await kv.get("short"), undefined, "expired with its TTL, although cached");

  await kv.put("shared", "old");
  assert.equal(await kv.get("shared"), "old");
  // A write the cache cannot see: another store object over the same engine (like another process).
  await inner.kv("leases", { codec: utf8 }).put("shared", "new");
  assert.equal(await kv.get("shared"), "old", "documented: served from the cache until its own TTL");
  clock.advance(5_000);
  assert.equal(await kv.get("shared"), "new");
  store.cache.invalidate("kv", "leases", "shared");
  await inner.kv("leases", { codec: utf8 }).put("shared", "newer");
  assert.equal(await kv.get("shared"), "newer");
  await store.close();
});

test("follow(kv.watch) through the cached store drops values another process changes, within the feed's latency", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stowage-cache-follow-"));
  const path = join(dir, "s.db");
  // Another connection to the same file stands in for another process: the cache cannot see its writes.
  const other = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
  const store = withCache(await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 }), { ttlMs: 3_600_000 });
  try {
    const kv = store.kv("config", { codec: utf8 });
    await kv.put("mode", "a");
    assert.equal(await kv.get("mode"), "a");
    const stop = new AbortController();
    // As the README shows: the watch goes through the cached store, and its polls must not be answered by the cache.
    const following = store.cache.follow("config", store.kv("config").watch(["mode"], { signal: stop.signal }));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the watch takes its starting values
    await other.kv("config", { codec: utf8 }).put("mode", "b");
    let seen: string | undefined;
    for (let i = 0; i < 200 && seen !== "b"; i++) {
      seen = await kv.get("mode");
      if (seen !== "b") await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(seen, "b", "seen within a second (the SQLite feed polls every 20 ms), not after the cache's hour");
    assert.ok(store.cache.stats().invalidations >= 1);
    stop.abort();
    await following.catch(() => undefined);
  } finally {
    await store.close();
    await other.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bounded by entries and bytes, least recently used first; values handed out are copies", async () => {
  const { store } = await cached({ maxEntries: 3, maxBytes: 100_000 });
  const kv = store.kv("ns");
  for (const key of ["a", "b", "c", "d"]) await kv.put(key, new Uint8Array([1]));
  for (const key of ["a", "b", "c"]) await kv.get(key);
  await kv.get("a"); // a is now the most recent
  await kv.get("d"); // evicts b
  assert.equal(store.cache.stats().evictions, 1);
  assert.equal(store.cache.stats().entries, 3);
  const hitsBefore = store.cache.stats().hits;
  await kv.get("a");
  assert.equal(store.cache.stats().hits, hitsBefore + 1, "a stayed");
  await kv.get("b");
  assert.equal(store.cache.stats().hits, hitsBefore + 1, "b was evicted");

  const big = await cached({ maxBytes: 10_000 });
  const bkv = big.store.kv("ns");
  for (let i = 0; i < 10; i++) await bkv.put(`k${i}`, new Uint8Array(3_000));
  for (let i = 0; i < 10; i++) await bkv.get(`k${i}`);
  assert.ok(big.store.cache.stats().bytes <= 10_000);
  assert.equal(big.store.cache.stats().entries, 3);
  const value = (await bkv.get("k9")) as Uint8Array;
  value[0] = 42;
  assert.equal(((await bkv.get("k9")) as Uint8Array)[0], 0, "changing a returned array does not change the cache");
  await assert.rejects(async () => withCache(big.store, { maxEntries: 0 }), { code: "INVALID_ARGUMENT" });
  await assert.rejects(async () => withCache(big.store, { size: 1 } as never), { code: "INVALID_ARGUMENT" });
  await big.store.close();
  await store.close();
});

test("sqlite: coherent with its own writes, across transactions", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stowage-cache-"));
  try {
    const store = withCache(await openStore({ backend: "sqlite", path: join(dir, "s.db"), sweepIntervalMs: 0 }));
    const kv = store.kv("ns", { codec: utf8 });
    for (let round = 0; round < 50; round++) {
      await kv.put("k", `v${round}`);
      assert.equal(await kv.get("k"), `v${round}`);
      assert.equal(await kv.get("k"), `v${round}`);
      await store.transaction(async (tx) => tx.kv("ns", { codec: utf8 }).put("k", `t${round}`));
      assert.equal(await kv.get("k"), `t${round}`);
    }
    assert.deepEqual([store.cache.stats().hits, store.cache.stats().misses], [50, 100], "a write drops the value; the next get fills it again");
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("stacked over a gated wrapper, the cache counts each read once: the gate's dry run runs no hooks above it", async () => {
  const inner = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const store = withCache(withRateLimit(inner, { ratePerSec: 1e9, burst: 1e9 }));
  await store.kv("ns").put("k", new Uint8Array([1]));
  for (let i = 0; i < 3; i++) await store.kv("ns").get("k");
  assert.deepEqual([store.cache.stats().hits, store.cache.stats().misses], [2, 1]);
  assert.equal(store.rateLimit.stats().allowed, 2, "the put and the one miss reached the limiter; hits never leave the cache");
  await store.close();
});

test("a cache stacked over a cache: a miss above and a hit below answer correctly, never past the TTL", async () => {
  const clock = new ManualClock();
  const inner = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
  const below = withCache(inner);
  const above = withCache(below);
  const kv = above.kv("ns", { codec: utf8 });
  await below.kv("ns", { codec: utf8 }).put("k", "v", { ttlMs: 1_000 });
  assert.equal(await below.kv("ns", { codec: utf8 }).get("k"), "v"); // cached below
  assert.equal(await kv.get("k"), "v", "a miss above, answered by the cache below");
  assert.equal(await kv.get("k"), "v", "then a hit above");
  assert.deepEqual([above.cache.stats().hits, above.cache.stats().misses], [1, 1]);
  assert.deepEqual([below.cache.stats().hits, below.cache.stats().misses], [1, 1], "the miss above was one hit below, not two");
  clock.advance(1_000);
  assert.equal(await kv.get("k"), undefined, "the TTL the cache below knew holds above too");
  await above.close();
});

test("over an engine that answers late: a read that raced a write of its key does not fill, one that raced other keys does", async () => {
  const base = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  // A layer beneath the cache whose reads answer 20 ms late with what they read at once, like a database round trip.
  const late = layerStore(
    base,
    {
      begin: () => undefined,
      op: <T>(call: OpCall, run: () => Awaitable<T>): Awaitable<T> => {
        if (call.op !== "kvGetEntry") return run();
        const value = run();
        return new Promise<T>((resolve) => setTimeout(() => resolve(value), 20));
      },
      end: () => undefined,
    },
    {},
  );
  const store = withCache(late);
  const kv = store.kv("ns", { codec: utf8 });
  await kv.put("k1", "a");
  await kv.put("k2", "x");
  const raced = kv.get("k1");
  await kv.put("k2", "y"); // another key written while the read is out
  assert.equal(await raced, "a");
  const hits = store.cache.stats().hits;
  assert.equal(await kv.get("k1"), "a");
  assert.equal(store.cache.stats().hits, hits + 1, "the read filled: only its own key's writes refuse a fill");

  store.cache.invalidate("kv", "ns", "k1");
  const stale = kv.get("k1"); // reads "a" now, answers later
  await kv.put("k1", "b"); // its own key written while the read is out
  assert.equal(await stale, "a", "the read itself ran before the write");
  assert.equal(await kv.get("k1"), "b", "but what it read was not kept");
  await store.close();
});
