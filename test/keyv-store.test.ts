/**
 * stowage's Keyv store (`stowage/keyv`) beyond the published suite (test/keyv-suite.test.ts), on memory and SQLite:
 * entries as stowage stores them, TTL by the store clock, typed errors for keys and values stowage refuses, paged
 * iteration, clear without a Keyv namespace, store ownership, and the iterator Keyv wires (or withKeyvIterator does).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Keyv from "keyv";
import { isStowageError, LIMITS, openStore, utf8, type OpenStoreOptions, type Store } from "../src/index.js";
import { KeyvStowage, withKeyvIterator } from "../src/integrations/keyv-store.js";
import { tempDir } from "./helpers/child.js";

type EngineName = "memory" | "sqlite";

/** Runs `body` on a fresh store of `engine` (SQLite in a temp folder), with the options that open it. */
async function withStore(engine: EngineName, name: string, body: (store: Store, options: OpenStoreOptions) => Promise<void>, clock?: () => number): Promise<void> {
  const tmp = tempDir(`keyv-${name}`);
  const options: OpenStoreOptions = engine === "memory" ? { backend: "memory" } : { backend: "sqlite", path: join(tmp.dir, "store.db") };
  const store = await openStore({ ...options, sweepIntervalMs: 0, ...(clock === undefined ? {} : { clock }) });
  try {
    await body(store, options);
  } finally {
    await store.close();
    tmp.remove();
  }
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

for (const engine of ["memory", "sqlite"] as const) {
  test(`${engine}: Keyv's entries are stowage KV entries under Keyv's prefixed keys, its serialized text as the value`, async () => {
    await withStore(engine, `entries-${engine}`, async (store) => {
      const keyv = new Keyv({ store: new KeyvStowage({ store }), namespace: "sessions" });
      await keyv.set("user-1", { name: "Ada" });
      const other = new Keyv({ store: new KeyvStowage({ store, kvNamespace: "cache" }) });
      await other.set("page", "html");
      const stored = await store.kv("keyv", { codec: utf8 }).list();
      assert.deepEqual(stored.entries.map(({ key }) => key), ["sessions:user-1"]);
      assert.deepEqual(JSON.parse(stored.entries[0]?.value as string), { value: { name: "Ada" } });
      assert.deepEqual((await store.kv("cache", { codec: utf8 }).list()).entries.map(({ key }) => key), ["keyv:page"]);
      assert.deepEqual(await keyv.get("user-1"), { name: "Ada" });
    });
  });

  test(`${engine}: a TTL in ms becomes the entry's stowage TTL (rounded up), judged by the store clock`, async () => {
    let now = 1_750_000_000_000;
    await withStore(
      engine,
      `ttl-${engine}`,
      async (store) => {
        const adapter = new KeyvStowage({ store });
        await adapter.set("keyv:short", "v", 1_500.2);
        await adapter.set("keyv:kept", "w");
        now += 1_500;
        assert.equal(await adapter.get("keyv:short"), "v");
        assert.equal(await adapter.has("keyv:short"), true);
        now += 1;
        assert.equal(await adapter.get("keyv:short"), undefined);
        assert.equal(await adapter.has("keyv:short"), false);
        assert.deepEqual(await adapter.getMany(["keyv:short", "keyv:kept"]), [undefined, "w"]);
        await assert.rejects(adapter.set("keyv:bad", "v", -5), (error) => isStowageError(error, "INVALID_ARGUMENT") && error.key === "keyv:bad");
      },
      () => now,
    );
  });

  test(`${engine}: keys and values stowage refuses fail with its typed error, naming the namespace and the key`, async () => {
    await withStore(engine, `refusals-${engine}`, async (store) => {
      const long = "k".repeat(LIMITS.maxKeyBytes);
      const throwing = new Keyv({ store: new KeyvStowage({ store }), throwOnErrors: true });
      await assert.rejects(throwing.set(long, "v"), (error) => isStowageError(error, "LIMIT_EXCEEDED") && error.namespace === "keyv" && error.key === `keyv:${long}`);
      // Without throwOnErrors Keyv reports the store's error as an event and resolves false.
      const keyv = new Keyv({ store: new KeyvStowage({ store }) });
      const errors: unknown[] = [];
      keyv.on("error", (error) => errors.push(error));
      assert.equal(await keyv.set("a\u0000b", "v"), false);
      assert.ok(isStowageError(errors[0], "INVALID_ARGUMENT") && errors[0].key === "keyv:a\u0000b");
      // Keyv without its serializer hands the store objects: refused, never stored as something else.
      const adapter = new KeyvStowage({ store });
      await assert.rejects(adapter.set("keyv:raw", { value: 1 }), (error) => isStowageError(error, "INVALID_ARGUMENT") && error.key === "keyv:raw");
      assert.equal(await store.kv("keyv").count(), 0, "nothing was written");
    });
  });

  test(`${engine}: the iterator reads every entry of a Keyv namespace in pages, in key order; clear and deleteMany keep to their keys`, async () => {
    await withStore(engine, `iterate-${engine}`, async (store) => {
      const adapter = new KeyvStowage({ store });
      const keys = Array.from({ length: 1_205 }, (_, i) => `big:${String(i).padStart(4, "0")}`);
      await store.transaction(async (tx) => {
        const kv = tx.kv("keyv", { codec: utf8 });
        for (const key of keys) await kv.put(key, `v-${key}`);
        await kv.put("bigger:0", "other namespace");
        await kv.put("small:0", "other namespace");
      });
      const entries = await collect(adapter.iterator("big"));
      assert.deepEqual(entries.map(([key]) => key), keys);
      assert.equal(entries[1_204]?.[1], "v-big:1204");
      assert.equal((await collect(adapter.iterator())).length, 1_207, "no namespace: every entry");
      assert.equal(await adapter.deleteMany(["small:0", "small:1"]), true);
      assert.equal(await adapter.deleteMany(["small:0"]), false);
      assert.deepEqual(await adapter.hasMany(["big:0000", "small:0"]), [true, false]);
      adapter.namespace = "big";
      await adapter.clear();
      assert.deepEqual((await collect(adapter.iterator())).map(([key]) => key), ["bigger:0"], "clear kept to big:");
      await store.kv("keyv-other", { codec: utf8 }).put("x", "y");
      adapter.namespace = undefined;
      await adapter.clear();
      assert.equal(await store.kv("keyv").count(), 0, "no namespace: clear empties the KV namespace");
      assert.equal(await store.kv("keyv-other").count(), 1, "and no other");
    });
  });

  test(`${engine}: a store opened from options is the adapter's (disconnect closes it); a given one stays open`, async () => {
    await withStore(engine, `own-${engine}`, async (store) => {
      const given = new KeyvStowage({ store });
      await new Keyv({ store: given }).set("k", "v");
      await given.disconnect();
      assert.equal(await store.kv("keyv").count(), 1, "the given store is open");
      await assert.rejects(given.get("keyv:k"), (error) => isStowageError(error, "CLOSED"));
    });
    const tmp = tempDir(`keyv-open-${engine}`);
    try {
      const options: OpenStoreOptions = engine === "memory" ? { backend: "memory" } : { backend: "sqlite", path: join(tmp.dir, "own.db") };
      const adapter = new KeyvStowage({ open: options });
      assert.equal(adapter.opts.dialect, engine);
      const keyv = new Keyv({ store: adapter });
      await keyv.set("k", "v");
      assert.equal(await keyv.get("k"), "v");
      const opened = await adapter.stowageStore();
      await keyv.disconnect();
      await assert.rejects(async () => opened.kv("keyv").get("keyv:k"), (error) => isStowageError(error, "CLOSED"));
    } finally {
      tmp.remove();
    }
    assert.throws(() => new KeyvStowage({}), (error) => isStowageError(error, "INVALID_ARGUMENT"));
  });
}

test("Keyv wires its iterator itself for the sqlite dialect; on memory withKeyvIterator does, and leaves a wired one alone", async () => {
  await withStore("sqlite", "iterator-sqlite", async (store) => {
    const keyv = new Keyv({ store: new KeyvStowage({ store }) });
    assert.equal(typeof keyv.iterator, "function");
    const wired = keyv.iterator;
    assert.equal(withKeyvIterator(keyv).iterator, wired);
  });
  await withStore("memory", "iterator-memory", async (store) => {
    const keyv = new Keyv({ store: new KeyvStowage({ store }), namespace: "n" });
    assert.equal(keyv.iterator, undefined, "Keyv 5 does not list the memory dialect");
    withKeyvIterator(keyv);
    await keyv.set("a", 1);
    await keyv.set("b", { two: 2 });
    await new Keyv({ store: new KeyvStowage({ store }), namespace: "other" }).set("c", 3);
    // (Read through a fresh reference: the assertion above narrowed keyv.iterator to undefined.)
    const iterate = Reflect.get(keyv, "iterator") as unknown as () => AsyncIterable<unknown>;
    assert.deepEqual(await collect(iterate()), [
      ["a", 1],
      ["b", { two: 2 }],
    ]);
    const plain = new Keyv();
    assert.equal(withKeyvIterator(plain), plain, "another store: unchanged");
  });
});
