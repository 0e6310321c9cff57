import assert from "node:assert/strict";
import { dec, enc, namespacesOf, sleep, type CaseGroup } from "./harness.js";

export const ttlCases: CaseGroup = {
  "an entry is visible until its deadline and never at or after it, in every read": async ({ store, clock }) => {
    const kv = store.kv("ns");
    await kv.put("session", enc("s"), { ttlMs: 1_000 });
    await kv.put("forever", enc("f"));
    clock.advance(999);
    assert.equal(dec(await kv.get("session")), "s");
    assert.equal(await kv.count(), 2);
    clock.advance(1);
    assert.equal(await kv.get("session"), undefined);
    assert.deepEqual((await kv.list()).entries.map((e) => e.key), ["forever"]);
    assert.deepEqual((await kv.list({ keysOnly: true, reverse: true })).entries, [{ key: "forever" }]);
    assert.equal(await kv.count(), 1);
    assert.equal(await kv.count({ prefix: "sess" }), 0);
    assert.equal(await kv.delete("session"), false, "an expired entry does not count as existing");
  },

  "a later put without ttlMs clears the deadline; with ttlMs it resets it": async ({ store, clock }) => {
    const kv = store.kv("ns");
    await kv.put("k", enc("1"), { ttlMs: 100 });
    await kv.put("k", enc("2"));
    clock.advance(1_000);
    assert.equal(dec(await kv.get("k")), "2");
    await kv.put("k", enc("3"), { ttlMs: 100 });
    clock.advance(50);
    await kv.put("k", enc("4"), { ttlMs: 100 });
    clock.advance(60);
    assert.equal(dec(await kv.get("k")), "4");
    clock.advance(40);
    assert.equal(await kv.get("k"), undefined);
  },

  "an expired key can be written again": async ({ store, clock }) => {
    const kv = store.kv("ns");
    await kv.put("k", enc("old"), { ttlMs: 10 });
    clock.advance(10);
    await kv.put("k", enc("new"));
    assert.equal(dec(await kv.get("k")), "new");
    assert.equal(await kv.count(), 1);
  },

  "deleteRange counts only live entries and removes expired ones too": async ({ store, clock }) => {
    const kv = store.kv("ns");
    await kv.put("a", enc("1"), { ttlMs: 10 });
    await kv.put("b", enc("2"));
    clock.advance(10);
    assert.equal(await kv.deleteRange({}), 1);
    assert.equal((await store.info()).storedRows, 0);
  },

  "sweep removes expired entries from storage and leaves live ones": async ({ store, clock }) => {
    const kv = store.kv("ns");
    for (let i = 0; i < 50; i++) await kv.put(`t${i}`, enc("x"), { ttlMs: 100 + i });
    await kv.put("keep", enc("k"));
    await store.kv("other").put("t", enc("x"), { ttlMs: 1 });
    assert.equal((await store.info()).storedRows, 52);
    clock.advance(125);
    assert.equal(await kv.count(), 25);
    assert.equal(await store.sweep(), 27);
    assert.equal((await store.info()).storedRows, 25);
    clock.advance(1_000);
    assert.equal(await store.sweep(), 24);
    assert.equal(await store.sweep(), 0);
    const info = await store.info();
    assert.equal(info.storedRows, 1);
    assert.deepEqual(namespacesOf(info.namespaces), [{ primitive: "kv", namespace: "ns", count: 1 }]);
    assert.equal(dec(await kv.get("keep")), "k");
  },

  "the background sweep removes expired entries by itself": async ({ open, clock }) => {
    const store = await open({ clock: clock.now, sweepIntervalMs: 20 });
    const kv = store.kv("ns");
    for (let i = 0; i < 10; i++) await kv.put(`t${i}`, enc("x"), { ttlMs: 5 });
    clock.advance(5);
    let stored = (await store.info()).storedRows;
    for (let tries = 0; stored > 0 && tries < 100; tries++) {
      await sleep(20);
      stored = (await store.info()).storedRows;
    }
    assert.equal(stored, 0, "the background sweep did not run within 2 s");
  },
};
