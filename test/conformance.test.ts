import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { runConformance } from "../src/conformance/index.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { SqliteEngine } from "../src/engines/sqlite/sqlite-engine.js";
import { openStore } from "../src/index.js";

// Each engine's own manifest decides what runs (both support every capability the suite tests: nothing is skipped).
runConformance("memory", (options) => openStore({ backend: "memory", ...options }), { supports: MemoryEngine.supports });

const dir = mkdtempSync(join(tmpdir(), "stowage-conformance-"));
let files = 0;
runConformance("sqlite", (options) => openStore({ backend: "sqlite", path: join(dir, `store-${++files}.db`), ...options }), { supports: SqliteEngine.supports });
after(() => rmSync(dir, { recursive: true, force: true }));
