/**
 * The conformance suite over wrapped stores, on memory and SQLite: a wrapper must not change what any call means.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { runConformance } from "../src/conformance/index.js";
import { isStowageError, LIMITS, openStore, withCache, withMetrics, withRateLimit, withSizeLimits, type Store, type StoreOptions } from "../src/index.js";
import { layerStore } from "../src/wrappers/layer.js";
import type { EngineSupports } from "../src/engines/engine.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { SqliteEngine } from "../src/engines/sqlite/sqlite-engine.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-wrapped-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const bases: Record<string, (options: StoreOptions) => Promise<Store>> = {
  memory: (options) => openStore({ backend: "memory", ...options }),
  sqlite: (options) => openStore({ backend: "sqlite", path: join(dir, `store-${++files}.db`), ...options }),
};
/** Each base engine's manifest: a wrapper passes it on unchanged, and it decides what runs. */
const manifests: Record<string, EngineSupports> = { memory: MemoryEngine.supports, sqlite: SqliteEngine.supports };

/** A layer that passes every call through untouched: the floor every other wrapper builds on. */
const passThrough = (store: Store): Store =>
  layerStore(store, { begin: () => undefined, op: (_call, run) => run(), end: () => undefined }, {});

const wrappers: Record<string, (store: Store) => Store> = {
  "pass-through layer": passThrough,
  cache: (store) => withCache(store, { maxEntries: 1_000 }),
  "rate limit": (store) => withRateLimit(store, { ratePerSec: 1e9, burst: 1e9, onLimit: { waitMaxMs: 1_000 } }),
  "size limits": (store) => withSizeLimits(store, { maxKeyBytes: LIMITS.maxKeyBytes, maxValueBytes: LIMITS.maxValueBytes }),
  metrics: (store) => withMetrics(store),
  // Every wrapper at once, in the order the README suggests: what callers see is measured, then limited, then cached.
  "stack of all": (store) =>
    withMetrics(
      withRateLimit(withSizeLimits(withCache(store, { maxEntries: 1_000 }), { maxKeyBytes: LIMITS.maxKeyBytes, maxValueBytes: LIMITS.maxValueBytes }), {
        ratePerSec: 1e9,
        burst: 1e9,
        onLimit: { waitMaxMs: 1_000 },
      }),
    ),
};

for (const [engine, open] of Object.entries(bases)) {
  for (const [name, wrap] of Object.entries(wrappers)) {
    runConformance(`${engine} + ${name}`, async (options) => wrap(await open(options)), { supports: manifests[engine] });
  }
}

test("a call of the wrapped store, or of a sibling wrapper, inside the wrapper's transaction body fails at once instead of deadlocking", async () => {
  for (const open of Object.values(bases)) {
    const inner = await open({ sweepIntervalMs: 0 });
    const outer = withMetrics(inner);
    const sibling = withCache(inner);
    for (const other of [inner, sibling, outer]) {
      await assert.rejects(
        outer.transaction(async () => other.kv("ns").put("k", new Uint8Array([1]))),
        (error: unknown) => isStowageError(error, "INVALID_ARGUMENT") && /is refused/.test((error as Error).message),
      );
    }
    // The other way round too: the wrapper's call inside the inner store's body.
    await assert.rejects(inner.transaction(async () => outer.kv("ns").get("k")), { code: "INVALID_ARGUMENT" });
    assert.equal(await inner.kv("ns").get("k"), undefined, "nothing was written");
    await outer.transaction(async (tx) => tx.kv("ns").put("k", new Uint8Array([2])));
    assert.deepEqual(await sibling.kv("ns").get("k"), new Uint8Array([2]), "after the bodies, every store works");
    await outer.close();
    await sibling.close();
  }
});

test("closing: the last of two sibling wrappers closes the store beneath; closing it directly makes a wrapper's calls CLOSED", async () => {
  for (const open of Object.values(bases)) {
    const inner = await open({ sweepIntervalMs: 0 });
    const cached = withCache(inner);
    const metered = withMetrics(inner);
    await cached.close();
    await metered.kv("ns").put("k", new Uint8Array([1]));
    assert.deepEqual(await inner.kv("ns").get("k"), new Uint8Array([1]), "a sibling's close leaves the store open");
    await metered.close();
    await assert.rejects(async () => inner.kv("ns").get("k"), { code: "CLOSED" }, "the last wrapper closed it");

    const base = await open({ sweepIntervalMs: 0 });
    const wrapped = withMetrics(base);
    await base.close();
    await assert.rejects(wrapped.kv("ns").get("k"), { code: "CLOSED" });
    await assert.rejects(wrapped.kv("ns").put("k", new Uint8Array([1])), { code: "CLOSED" });
    await assert.rejects(wrapped.transaction(async () => undefined), { code: "CLOSED" });
    await assert.rejects(wrapped.check(), { code: "CLOSED" });
    const health = await wrapped.health();
    assert.equal(health.status, "unhealthy");
    assert.match(health.reasons.join("\n"), /CLOSED/);
    await wrapped.close();
  }
});

test("work a transaction body schedules that runs after the body ended is not refused, even while another store's body runs", async () => {
  const store = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const other = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  let later: Promise<unknown> | undefined;
  await store.transaction(async (tx) => {
    await tx.kv("ns").put("k", new Uint8Array([1]));
    later = new Promise((resolve) => setTimeout(resolve, 20)).then(() => store.kv("ns").get("k"));
  });
  // An unrelated store's body is running when the timer fires: the first body's token is no longer active.
  await other.transaction(async () => new Promise((resolve) => setTimeout(resolve, 60)));
  assert.deepEqual(await later, new Uint8Array([1]));
  await store.close();
  await other.close();
});
