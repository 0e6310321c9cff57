/**
 * `openConfiguredStore`: an application opens its store from the same flags, variables and file as the CLI in one
 * call, with its own flags beside them; a misspelt `--storage-*` flag or one without its value is refused.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isStowageError } from "../src/api/errors.js";
import { openConfiguredStore } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-configured-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("flags among the application's own, then a config file of providers, each open the store they name", async () => {
  const flagged = await openConfiguredStore({ argv: ["--port", "8080", "--storage-backend", "sqlite", "--storage-path=state.db", "serve"], env: {}, cwd: dir });
  try {
    assert.equal(flagged.engine, "sqlite");
    assert.equal((await flagged.info()).location, join(dir, "state.db"));
  } finally {
    await flagged.close();
  }
  writeFileSync(join(dir, "providers.yaml"), "providers:\n  local: { backend: memory }\n  coord: { backend: memory }\nroutes: { leases: coord }\ndefaultProvider: local\n");
  const routed = await openConfiguredStore({ argv: [], env: { STOWAGE_CONFIG: "providers.yaml" }, cwd: dir });
  try {
    assert.equal(routed.engine, "routed");
    assert.equal((await routed.info()).routing?.defaultProvider, "local");
  } finally {
    await routed.close();
  }
  const byFlags = await openConfiguredStore({ argv: ["--provider", "a.backend=memory", "--provider=b.backend=memory", "--route", "leases=b", "--default-provider", "a", "--port", "1"], env: {}, cwd: dir });
  try {
    await byFlags.kv("leases").put("k", new Uint8Array([1]));
    assert.deepEqual((await byFlags.info()).namespaces.map((info) => info.provider), ["b"]);
  } finally {
    await byFlags.close();
  }
});

test("a --storage-* flag no engine has, or one without its value, is INVALID_ARGUMENT", async () => {
  await assert.rejects(openConfiguredStore({ argv: ["--storage-pth", "x.db"], env: {}, cwd: dir }), (error: unknown) => isStowageError(error, "INVALID_ARGUMENT") && /--storage-pth is not a configuration flag/.test(error.message));
  await assert.rejects(openConfiguredStore({ argv: ["--storage-path"], env: {}, cwd: dir }), (error: unknown) => isStowageError(error, "INVALID_ARGUMENT") && /--storage-path/.test(error.message));
});
