/**
 * The composite provider over two in-process engines: the conformance suite through it in sync and async mode, the
 * backup equal to the primary after a load, a restart after a failover serving from the backup, failback, divergence
 * detection and bad configurations.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runConformance } from "../src/conformance/index.js";
import { compositeSupports } from "../src/engines/composite/composite-engine.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { compositeControl, openStore, type RoutedStoreOptions } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-composite-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A composite `ha` over two memory providers. */
function memoryPair(mode: "sync" | "async"): RoutedStoreOptions {
  return {
    providers: { main: { backend: "memory" }, spare: { backend: "memory" }, ha: { backend: "composite", primary: "main", standby: "spare", mode, replicateIntervalMs: 5 } },
    defaultProvider: "ha",
  };
}

const supports = compositeSupports(MemoryEngine.supports, MemoryEngine.supports);
runConformance("composite (memory + memory, sync)", (options) => openStore({ ...memoryPair("sync"), ...options }), { supports });
runConformance("composite (memory + memory, async)", (options) => openStore({ ...memoryPair("async"), ...options }), { supports });
