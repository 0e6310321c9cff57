import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { runConformance } from "../src/conformance/index.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { SqliteEngine } from "../src/engines/sqlite/sqlite-engine.js";
import { createStore, openStore } from "../src/index.js";
import { OrderedEngine, orderedSupports } from "../src/engines/ordered/ordered-engine.js";
import { SortedOrderedStore } from "./helpers/sorted-ordered-store.js";
import { LMDB_ENGINE } from "../src/engines/lmdb/descriptor.js";
import { LEVELDB_ENGINE } from "../src/engines/leveldb/descriptor.js";

// Each engine's own manifest decides what runs (both support every capability the suite tests: nothing is skipped).
runConformance("memory", (options) => openStore({ backend: "memory", ...options }), { supports: MemoryEngine.supports });

const dir = mkdtempSync(join(tmpdir(), "stowage-conformance-"));
let files = 0;
runConformance("sqlite", (options) => openStore({ backend: "sqlite", path: join(dir, `store-${++files}.db`), ...options }), { supports: SqliteEngine.supports });
after(() => rmSync(dir, { recursive: true, force: true }));

// The ordered-KV family on the in-memory ordered store of the tests: synchronous reads (as LMDB), and asynchronous
// reads with one writer declared (as LevelDB), so that both paths of the family run the whole suite. The family's
// manifest is declared, so the suite checks the store reports just that.
const ASYNC_SINGLE_WRITER = { asyncReads: true, singleWriter: true } as const;
runConformance("ordered (sorted store)", async (options) => createStore(await OrderedEngine.open(new SortedOrderedStore()), options), {
  supports: orderedSupports(new SortedOrderedStore()),
});
runConformance(
  "ordered (sorted store, async reads, single writer)",
  async (options) => createStore(await OrderedEngine.open(new SortedOrderedStore(undefined, ASYNC_SINGLE_WRITER)), options),
  { supports: orderedSupports(new SortedOrderedStore(undefined, ASYNC_SINGLE_WRITER)) },
);
runConformance("lmdb", (options) => openStore({ backend: "lmdb", path: join(dir, `store-${++files}.lmdb`), ...options }), { supports: LMDB_ENGINE.supports });
runConformance("leveldb", (options) => openStore({ backend: "leveldb", path: join(dir, `store-${++files}.leveldb`), ...options }), { supports: LEVELDB_ENGINE.supports });
