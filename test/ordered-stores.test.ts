/**
 * The OrderedStore contract (src/engines/ordered/ordered-store-cases.ts) on LMDB and LevelDB, and what is specific to
 * each: LMDB shared by processes, LevelDB refusing a second opener, the default locations.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openLmdbStore } from "../src/engines/lmdb/lmdb-store.js";
import { runOrderedStoreCases } from "../src/engines/ordered/ordered-store-cases.js";

function freshDir(prefix: string): { dir: string; remove: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), `stowage-${prefix}-`));
  return { dir, remove: async () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }) };
}

runOrderedStoreCases("lmdb", { describe, it }, async () => {
  const { dir, remove } = freshDir("lmdb");
  const open = () => openLmdbStore({ path: join(dir, "data.lmdb") });
  return { store: await open(), reopen: open, dispose: remove };
});
