/**
 * The conformance suite over wrapped stores, on memory and SQLite: a wrapper must not change what any call means.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { runConformance } from "../src/conformance/index.js";
import { LIMITS, openStore, withCache, withMetrics, withRateLimit, withSizeLimits, type Store, type StoreOptions } from "../src/index.js";
import { layerStore } from "../src/wrappers/layer.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-wrapped-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const bases: Record<string, (options: StoreOptions) => Promise<Store>> = {
  memory: (options) => openStore({ backend: "memory", ...options }),
  sqlite: (options) => openStore({ backend: "sqlite", path: join(dir, `store-${++files}.db`), ...options }),
};

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
    runConformance(`${engine} + ${name}`, async (options) => wrap(await open(options)));
  }
}
