import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { runConformance } from "../src/conformance/index.js";
import { openStore } from "../src/index.js";

runConformance("memory", (options) => openStore({ backend: "memory", ...options }));

const dir = mkdtempSync(join(tmpdir(), "stowage-conformance-"));
let files = 0;
runConformance("sqlite", (options) => openStore({ backend: "sqlite", path: join(dir, `store-${++files}.db`), ...options }));
after(() => rmSync(dir, { recursive: true, force: true }));
