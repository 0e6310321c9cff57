/**
 * stowage's unstorage driver (`stowage/unstorage`) through unstorage's `createStorage`, on memory and SQLite:
 *
 * - the shared driver cases every unstorage driver passes (the behaviour of unstorage's test/drivers/utils.ts at
 *   v1.17, written here from that behaviour: init from a snapshot, empty state, set/get with a query string, keys by
 *   base and depth, serialization, raw values, setItems/getItems, falsy values, removeItem, clear; the storage is
 *   cleared after each case);
 * - then what this driver adds: TTL (seconds, by the store clock), `base`, the keys as stowage stores them, typed
 *   errors for keys stowage refuses, an atomic setItems, store ownership, and `watch` on a namespace-wide feed built on
 *   `kv.watch` (across two stores on one SQLite file, as two processes would be).
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { join } from "node:path";
import { createStorage, restoreSnapshot, type Storage, type WatchEvent } from "unstorage";
import { isStowageError, LIMITS, openStore, utf8, type OpenStoreOptions, type Store } from "../src/index.js";
import { stowageDriver, type StowageDriverOptions } from "../src/integrations/unstorage-driver.js";
import { killAll, startChild, tempDir, type Child } from "./helpers/child.js";

type EngineName = "memory" | "sqlite";

/** A store clock the tests move by hand: TTLs are judged by it, never by waiting. */
function manualClock(start = 1_750_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** Opens a fresh store of `engine` (a file in a temp folder for SQLite); `options` opens the same store again. */
async function openEngine(engine: EngineName, name: string, clock?: () => number): Promise<{ store: Store; options: OpenStoreOptions; remove: () => Promise<void> }> {
  const tmp = tempDir(`unstorage-${name}`);
  const options: OpenStoreOptions = engine === "memory" ? { backend: "memory" } : { backend: "sqlite", path: join(tmp.dir, "store.db") };
  const store = await openStore({ ...options, sweepIntervalMs: 0, ...(clock === undefined ? {} : { clock }) });
  return {
    store,
    options,
    remove: async () => {
      await store.close();
      tmp.remove();
    },
  };
}

/** Waits (bounded) until `ready()` holds: feeds deliver asynchronously. */
async function until(ready: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ready()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sorted = (keys: string[]): string[] => [...keys].sort();

for (const engine of ["memory", "sqlite"] as const) {
  describe(`${engine}: the shared unstorage driver cases`, () => {
    let opened: Awaited<ReturnType<typeof openEngine>>;
    let storage: Storage;
    before(async () => {
      opened = await openEngine(engine, `shared-${engine}`);
      storage = createStorage({ driver: stowageDriver({ store: opened.store }) });
    });
    after(async () => {
      await storage.dispose();
      await opened.remove();
    });
    afterEach(async () => {
      await storage.clear();
    });

    it("init: a snapshot restored into the storage reads back", async () => {
      await restoreSnapshot(storage, { initial: "works" });
      assert.equal(await storage.getItem("initial"), "works");
      await storage.clear();
    });

    it("initial state: nothing is there", async () => {
      assert.equal(await storage.hasItem("s1:a"), false);
      assert.equal(await storage.getItem("s2:a"), null);
      assert.deepEqual(await storage.getKeys(), []);
    });

    it("setItem: items read back, and a key's query string is not part of it", async () => {
      await storage.setItem("s1:a", "test_data");
      await storage.setItem("s2:a", "test_data");
      await storage.setItem("s3:a?q=1", "test_data");
      assert.equal(await storage.hasItem("s1:a"), true);
      assert.equal(await storage.getItem("s1:a"), "test_data");
      assert.equal(await storage.getItem("s3:a?q=2"), "test_data");
    });

    it("getKeys: every key, and the keys under a base", async () => {
      await storage.setItem("s1:a", "test_data");
      await storage.setItem("s2:a", "test_data");
      await storage.setItem("s3:a?q=1", "test_data");
      assert.deepEqual(sorted(await storage.getKeys()), ["s1:a", "s2:a", "s3:a"]);
      assert.deepEqual(await storage.getKeys("s1"), ["s1:a"]);
    });

    it("getKeys with depth: maxDepth counts the separators of a key", async () => {
      for (const key of ["depth0_0", "depth0:depth1:depth2_0", "depth0:depth1:depth2_1", "depth0:depth1_0", "depth0:depth1_1"]) await storage.setItem(key, "test_data");
      assert.deepEqual(await storage.getKeys(undefined, { maxDepth: 0 }), ["depth0_0"]);
      assert.deepEqual(sorted(await storage.getKeys(undefined, { maxDepth: 1 })), ["depth0:depth1_0", "depth0:depth1_1", "depth0_0"]);
      assert.deepEqual(sorted(await storage.getKeys(undefined, { maxDepth: 2 })), [
        "depth0:depth1:depth2_0",
        "depth0:depth1:depth2_1",
        "depth0:depth1_0",
        "depth0:depth1_1",
        "depth0_0",
      ]);
    });

    it("serialize (object): an object reads back equal, under a key given with slashes", async () => {
      await storage.setItem("/data/test.json", { json: "works" });
      assert.deepEqual(await storage.getItem("/data/test.json"), { json: "works" });
    });

    it("serialize (primitive): true reads back as true", async () => {
      await storage.setItem("/data/true.json", true);
      assert.equal(await storage.getItem("/data/true.json"), true);
    });

    it("serialize (lossy object with toJSON()): what toJSON returns is stored", async () => {
      await storage.setItem("/data/serialized1.json", { toJSON: () => "SERIALIZED" });
      assert.equal(await storage.getItem("/data/serialized1.json"), "SERIALIZED");
      class WithToJson {
        toJSON() {
          return { serializedObj: "works" };
        }
      }
      await storage.setItem("/data/serialized2.json", new WithToJson());
      assert.deepEqual(await storage.getItem("/data/serialized2.json"), { serializedObj: "works" });
    });

    it("serialize (error for non primitives): an instance without toJSON is refused", async () => {
      class Opaque {}
      await assert.rejects(storage.setItem("/data/badvalue.json", new Opaque()), /\[unstorage\] Cannot stringify value!/);
      assert.equal(await storage.hasItem("/data/badvalue.json"), false);
    });

    it("raw support: bytes set raw read back raw, byte for byte", async () => {
      const value = new Uint8Array([1, 2, 3]);
      await storage.setItemRaw("/data/raw.bin", value);
      const read = await storage.getItemRaw<Uint8Array>("/data/raw.bin");
      assert.ok(read instanceof Uint8Array);
      assert.equal(read.byteLength, value.length);
      assert.equal(Buffer.from(read).toString("base64"), Buffer.from(value).toString("base64"));
    });

    it("setItems: a batch of items reads back", async () => {
      await storage.setItems([
        { key: "t:1", value: "test_data_t1" },
        { key: "t:2", value: "test_data_t2" },
        { key: "t:3", value: "test_data_t3" },
      ]);
      assert.equal(await storage.getItem("t:1"), "test_data_t1");
      assert.equal(await storage.getItem("t:2"), "test_data_t2");
      assert.equal(await storage.getItem("t:3"), "test_data_t3");
    });

    it("getItems: items in the order asked, keys without their query string, null for a missing one", async () => {
      await storage.setItem("v3:a?q=1", "test_data_v3:a?q=1");
      await storage.setItem("v2:a", "test_data_v2:a");
      await storage.setItem("v1:a", "test_data_v1:a");
      assert.deepEqual(await storage.getItems([{ key: "v1:a" }, "v2:a", { key: "v3:a?q=1" }, "v4:undefined"]), [
        { key: "v1:a", value: "test_data_v1:a" },
        { key: "v2:a", value: "test_data_v2:a" },
        { key: "v3:a", value: "test_data_v3:a?q=1" },
        { key: "v4:undefined", value: null },
      ]);
    });

    it("getItem: falsy values (0, false) read back as set", async () => {
      await storage.setItem("zero", 0);
      assert.equal(await storage.getItem("zero"), 0);
      await storage.setItem("my-false-flag", false);
      assert.equal(await storage.getItem("my-false-flag"), false);
    });

    it("removeItem: a removed item is gone", async () => {
      await storage.setItem("s1:a", "test_data");
      await storage.removeItem("s1:a", false);
      assert.equal(await storage.hasItem("s1:a"), false);
      assert.equal(await storage.getItem("s1:a"), null);
    });

    it("clear: leaves no key, and clears an empty storage too", async () => {
      await storage.setItem("s1:a", "test_data");
      await storage.clear();
      assert.deepEqual(await storage.getKeys(), []);
      await storage.clear();
      assert.deepEqual(await storage.getKeys(), []);
    });
  });

  describe(`${engine}: what the stowage driver adds`, () => {
    it("TTL: a setItem's ttl (seconds) and the driver's default ttl expire by the store clock", async () => {
      const clock = manualClock();
      const opened = await openEngine(engine, `ttl-${engine}`, clock.now);
      try {
        const storage = createStorage({ driver: stowageDriver({ store: opened.store }) });
        const withDefault = createStorage({ driver: stowageDriver({ store: opened.store, base: "d", ttl: 5 }) });
        await storage.setItem("short", "x", { ttl: 2 });
        await storage.setItem("kept", "y");
        await withDefault.setItem("default", "z");
        await withDefault.setItem("longer", "w", { ttl: 60 });
        clock.advance(1_999);
        assert.equal(await storage.getItem("short"), "x", "alive before its deadline");
        clock.advance(1);
        assert.equal(await storage.getItem("short"), null);
        assert.equal(await storage.hasItem("short"), false);
        clock.advance(3_000);
        assert.equal(await withDefault.getItem("default"), null, "the driver's ttl applies");
        assert.equal(await withDefault.getItem("longer"), "w", "a setItem's own ttl wins");
        assert.equal(await storage.getItem("kept"), "y", "no ttl: kept");
        assert.deepEqual(sorted(await storage.getKeys()), ["d:longer", "kept"]);
        await assert.rejects(storage.setItem("bad", "v", { ttl: -1 }), (error) => isStowageError(error, "INVALID_ARGUMENT") && error.key === "bad");
      } finally {
        await opened.remove();
      }
    });

    it("base: drivers with other bases share a KV namespace, each seeing and clearing only its own keys, stored as base:key", async () => {
      const opened = await openEngine(engine, `base-${engine}`);
      try {
        const driverA = stowageDriver({ store: opened.store, base: "app/a" });
        const a = createStorage({ driver: driverA });
        const b = createStorage({ driver: stowageDriver({ store: opened.store, base: "app:b:" }) });
        await a.setItem("x:1", "a1");
        await a.setItem("x:2", "a2");
        await b.setItem("x:1", "b1");
        assert.equal(await a.getItem("x:1"), "a1");
        assert.equal(await b.getItem("x:1"), "b1");
        assert.deepEqual(sorted(await a.getKeys()), ["x:1", "x:2"]);
        assert.deepEqual(await b.getKeys("x"), ["x:1"]);
        const stored = await opened.store.kv("unstorage", { codec: utf8 }).list();
        assert.deepEqual(stored.entries, [
          { key: "app:a:x:1", value: "a1" },
          { key: "app:a:x:2", value: "a2" },
          { key: "app:b:x:1", value: "b1" },
        ]);
        await a.clear();
        assert.deepEqual(await a.getKeys(), []);
        assert.deepEqual(await b.getKeys(), ["x:1"]);
        // A base that is a prefix of another key's first part does not reach it.
        // (Called on the driver: unstorage's clear(base) reaches only mounts under the base, not the root mount.)
        await a.setItem("x1:k", "v");
        await a.setItem("x:k", "v");
        await driverA.clear?.("x:", {});
        assert.deepEqual(await a.getKeys(), ["x1:k"]);
      } finally {
        await opened.remove();
      }
    });

    it("keys stowage refuses fail with its typed error naming the namespace and the key; setItems writes all or none", async () => {
      const opened = await openEngine(engine, `keys-${engine}`);
      try {
        const driver = stowageDriver({ store: opened.store, kvNamespace: "pages" });
        const storage = createStorage({ driver });
        const long = "k".repeat(LIMITS.maxKeyBytes + 1);
        await assert.rejects(storage.setItem(long, "v"), (error) => isStowageError(error, "LIMIT_EXCEEDED") && error.namespace === "pages" && error.key === long);
        // (unstorage refuses an empty key itself; the driver, called directly, refuses it too.)
        await assert.rejects(async () => driver.setItem?.("", "v", {}), (error) => isStowageError(error, "INVALID_ARGUMENT") && error.namespace === "pages");
        await assert.rejects(storage.getItem("a\u0000b"), (error) => isStowageError(error, "INVALID_ARGUMENT") && error.key === "a\u0000b");
        await assert.rejects(
          storage.setItems([
            { key: "ok:1", value: "1" },
            { key: long, value: "2" },
          ]),
          (error) => isStowageError(error, "LIMIT_EXCEEDED"),
        );
        assert.deepEqual(await storage.getKeys(), [], "nothing of the refused batch was written");
        await assert.rejects(storage.setItemRaw("raw", { not: "bytes" }), (error) => isStowageError(error, "INVALID_ARGUMENT") && error.key === "raw");
      } finally {
        await opened.remove();
      }
    });

    it("raw bytes that are not UTF-8 read through getItem as unstorage's base64: text; raw text reads back as text", async () => {
      const opened = await openEngine(engine, `raw-${engine}`);
      try {
        const storage = createStorage({ driver: stowageDriver({ store: opened.store }) });
        const binary = new Uint8Array([0xff, 0x00, 0xfe]);
        await storage.setItemRaw("bin", binary);
        assert.equal(await storage.getItem("bin"), `base64:${Buffer.from(binary).toString("base64")}`);
        assert.deepEqual(await storage.getItemRaw("bin"), binary);
        await storage.setItemRaw("text", Buffer.from("héllo"));
        assert.equal(await storage.getItem("text"), "héllo");
        await storage.setItemRaw("buffer", binary.buffer);
        assert.deepEqual(await storage.getItemRaw("buffer"), binary);
        assert.equal(await storage.getItemRaw("missing"), null);
      } finally {
        await opened.remove();
      }
    });

    it("a driver opened from options owns its store (dispose closes it); a given store stays open", async () => {
      const opened = await openEngine(engine, `own-${engine}`);
      try {
        const given = stowageDriver({ store: opened.store });
        const storage = createStorage({ driver: given });
        await storage.setItem("k", "v");
        await storage.dispose();
        assert.equal(await opened.store.kv("unstorage", { codec: utf8 }).get("k"), "v", "the given store is still open");
        await assert.rejects(Promise.resolve(given.getItem("k")), (error) => isStowageError(error, "CLOSED"));
      } finally {
        await opened.remove();
      }
      const tmp = tempDir(`unstorage-open-${engine}`);
      try {
        const options: OpenStoreOptions = engine === "memory" ? { backend: "memory" } : { backend: "sqlite", path: join(tmp.dir, "own.db") };
        const driver = stowageDriver({ open: options });
        const storage = createStorage({ driver });
        await storage.setItem("k", "v");
        assert.equal(await storage.getItem("k"), "v");
        const store = await (driver.getInstance as () => Promise<Store>)();
        await storage.dispose();
        await assert.rejects(async () => store.kv("unstorage").get("k"), (error) => isStowageError(error, "CLOSED"), "dispose closed the store it opened");
      } finally {
        tmp.remove();
      }
      assert.throws(() => stowageDriver({} as StowageDriverOptions), (error) => isStowageError(error, "INVALID_ARGUMENT"));
    });

    it("watch: every write through a watching driver, by any storage on the store, reaches storage.watch once, in order; clear and unwatch end as documented", async () => {
      const opened = await openEngine(engine, `watch-${engine}`);
      try {
        const watched = createStorage({ driver: stowageDriver({ store: opened.store, watch: true }) });
        const writer = createStorage({ driver: stowageDriver({ store: opened.store, watch: true }) });
        const otherBase = createStorage({ driver: stowageDriver({ store: opened.store, watch: true, base: "other" }) });
        const events: Array<[WatchEvent, string]> = [];
        const baseEvents: Array<[WatchEvent, string]> = [];
        const unwatch = await watched.watch((event, key) => events.push([event, key]));
        await otherBase.watch((event, key) => baseEvents.push([event, key]));
        await writer.setItem("a:1", "one");
        await watched.setItem("a:2", { two: 2 });
        await writer.setItems([
          { key: "b:1", value: 1 },
          { key: "b:2", value: 2 },
        ]);
        await writer.setItemRaw("raw", new Uint8Array([1]));
        await writer.removeItem("a:1");
        await otherBase.setItem("mine", "x");
        const expected: Array<[WatchEvent, string]> = [
          ["update", "a:1"],
          ["update", "a:2"],
          ["update", "b:1"],
          ["update", "b:2"],
          ["update", "raw"],
          ["remove", "a:1"],
          ["update", "other:mine"],
        ];
        await until(() => events.length >= expected.length, "the watched events");
        assert.deepEqual(events, expected);
        await until(() => baseEvents.length >= 1, "the other base's event");
        assert.deepEqual(baseEvents, [["update", "mine"]], "a driver with a base reports its own keys, relative to it");
        await unwatch();
        await writer.setItem("after", "unwatch");
        await writer.clear();
        await otherBase.setItem("last", "y");
        await until(() => baseEvents.length >= 2, "the other base's last event");
        assert.deepEqual(baseEvents, [["update", "mine"], ["update", "last"]], "clear reports nothing");
        assert.equal(events.length, expected.length, "an ended watch reports nothing more");
        await otherBase.dispose();
        await watched.dispose();
        await writer.dispose();
      } finally {
        await opened.remove();
      }
    });
  });
}

it("sqlite: watch follows writes of another store on the same file (as another process's), from the moment it resolves", async () => {
  const opened = await openEngine("sqlite", "watch-two-stores");
  const second = await openStore({ ...opened.options, sweepIntervalMs: 0 });
  try {
    await createStorage({ driver: stowageDriver({ store: second, watch: true }) }).setItem("before", "watch");
    const events: Array<[WatchEvent, string]> = [];
    const watched = createStorage({ driver: stowageDriver({ store: opened.store, watch: true }) });
    await watched.watch((event, key) => events.push([event, key]));
    const writer = createStorage({ driver: stowageDriver({ store: second, watch: true }) });
    for (let i = 0; i < 20; i++) await writer.setItem(`k:${i}`, i);
    await writer.removeItem("k:0");
    await until(() => events.length >= 21, "the other store's writes");
    assert.deepEqual(events, [...Array.from({ length: 20 }, (_, i): [WatchEvent, string] => ["update", `k:${i}`]), ["remove", "k:0"]]);
    await watched.dispose();
  } finally {
    await second.close();
    await opened.remove();
  }
});

it("sqlite: watch reports the writes of two other processes, each exactly once and in its order", async () => {
  const opened = await openEngine("sqlite", "watch-processes");
  const children: Child[] = [];
  try {
    const events: Array<[WatchEvent, string]> = [];
    const watched = createStorage({ driver: stowageDriver({ store: opened.store, watch: true }) });
    await watched.watch((event, key) => events.push([event, key]));
    const items = 30;
    for (const id of ["p1", "p2"]) children.push(startChild("unstorage-writer", [JSON.stringify(opened.options), id, String(items)]));
    for (const child of children) assert.ok(await child.waitFor((lines) => lines.includes("ready"), 30_000), child.describe());
    for (const child of children) child.send("go");
    for (const child of children) assert.ok(await child.waitFor((lines) => lines.includes("done"), 60_000), child.describe());
    await until(() => events.length >= 2 * (items + 1), "both processes' writes");
    assert.equal(events.length, 2 * (items + 1), "each write once");
    for (const id of ["p1", "p2"]) {
      const own = events.filter(([, key]) => key.startsWith(`${id}:`));
      const expected: Array<[WatchEvent, string]> = [...Array.from({ length: items }, (_, i): [WatchEvent, string] => ["update", `${id}:${i}`]), ["remove", `${id}:0`]];
      assert.deepEqual(own, expected, `${id}'s writes in its order`);
    }
    await watched.dispose();
  } finally {
    await killAll(children);
    await opened.remove();
  }
});
