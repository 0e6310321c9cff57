/**
 * The LevelDB store on a full disk: a 4 MiB tmpfs mounted by the test (root only, as for SQLite). A commit that no
 * longer fits fails typed BACKEND_UNAVAILABLE; every commit that resolved stays readable, then and after reopening;
 * writes are refused after a failed one until the store is reopened (LevelDB would drop them on the next open).
 * LMDB likewise, and with no unhandled rejection: lmdb-js's batched asynchronous commits left one on a failed commit,
 * which ends a Node process; the store commits with `transactionSync` instead.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { isStowageError } from "../src/api/errors.js";
import { openLevelDbStore } from "../src/engines/leveldb/leveldb-store.js";
import { openLmdbStore } from "../src/engines/lmdb/lmdb-store.js";
import type { OrderedStore } from "../src/engines/ordered/ordered-store.js";

const bytes = (word: string): Uint8Array => new Uint8Array(Buffer.from(word, "latin1"));

/** Runs `body` in a fresh 4 MiB tmpfs, unmounted and removed afterwards; skipped (saying why) where it cannot mount. */
async function onSmallDisk(t: TestContext, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "stowage-ordered-full-"));
  try {
    if (process.getuid?.() !== 0) throw new Error("it needs root to mount a tmpfs");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir], { stdio: "pipe" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    t.diagnostic(`could not run: ${(error as Error).message}`);
    t.skip(`could not run: ${(error as Error).message}`);
    return;
  }
  try {
    await body(dir);
  } finally {
    execFileSync("umount", [dir], { stdio: "pipe" });
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Commits 32 KiB values until one fails (bounded: 4 MiB cannot hold 200); the keys of those that resolved, and the failure. */
async function fill(store: OrderedStore): Promise<{ resolved: string[]; failure: unknown }> {
  const resolved: string[] = [];
  for (let i = 0; i < 200; i++) {
    const key = `big-${String(i).padStart(3, "0")}`;
    try {
      await store.commit({ checks: [], writes: [{ key: bytes(key), value: new Uint8Array(32 * 1024).fill(i) }] });
      resolved.push(key);
    } catch (failure) {
      return { resolved, failure };
    }
  }
  return { resolved, failure: undefined };
}

async function presentKeys(store: OrderedStore, keys: readonly string[]): Promise<string[]> {
  const snapshot = await store.snapshot();
  try {
    const present: string[] = [];
    for (const key of keys) if ((await snapshot.get(bytes(key))) !== undefined) present.push(key);
    return present;
  } finally {
    snapshot.release();
  }
}

test("leveldb on a full disk: the failing commit is typed, resolved data stays, writes wait for a reopen and are kept after it", async (t) => {
  await onSmallDisk(t, async (dir) => {
    const path = join(dir, "full.leveldb");
    writeFileSync(join(dir, "ballast"), Buffer.alloc(1024 * 1024));
    let store = await openLevelDbStore({ path });
    try {
      const { resolved, failure } = await fill(store);
      assert.ok(isStowageError(failure, "BACKEND_UNAVAILABLE") && /full/.test(failure.message), String(failure));
      assert.ok(resolved.length > 10, `${resolved.length} commits resolved before the disk filled`);
      assert.deepEqual(await presentKeys(store, resolved), resolved);
      rmSync(join(dir, "ballast"));
      await assert.rejects(
        store.commit({ checks: [], writes: [{ key: bytes("after"), value: bytes("freed") }] }),
        (error: unknown) => isStowageError(error, "BACKEND_UNAVAILABLE") && /reopen/.test(error.message),
      );
      await store.close();
      store = await openLevelDbStore({ path });
      assert.deepEqual(await presentKeys(store, resolved), resolved, "every resolved commit survives the reopen");
      await store.commit({ checks: [], writes: [{ key: bytes("after"), value: bytes("reopened") }] });
      await store.close();
      store = await openLevelDbStore({ path });
      assert.deepEqual(await presentKeys(store, ["after"]), ["after"], "a write after the reopen is kept");
    } finally {
      await store.close();
    }
  });
});

test("lmdb on a full disk: the failing commits are typed and leave no unhandled rejection, resolved data stays, writes resume once space is freed", async (t) => {
  await onSmallDisk(t, async (dir) => {
    const path = join(dir, "full.lmdb");
    writeFileSync(join(dir, "ballast"), Buffer.alloc(1024 * 1024));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    let store = await openLmdbStore({ path });
    try {
      const { resolved, failure } = await fill(store);
      assert.ok(isStowageError(failure, "BACKEND_UNAVAILABLE"), String(failure));
      assert.ok(resolved.length > 10, `${resolved.length} commits resolved before the disk filled`);
      // A second failing commit: lmdb-js's batched commits rejected a promise of their own at this point.
      await assert.rejects(store.commit({ checks: [], writes: [{ key: bytes("more"), value: new Uint8Array(512 * 1024) }] }), (error: unknown) => isStowageError(error, "BACKEND_UNAVAILABLE"));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(unhandled, [], "no unhandled rejection");
      assert.deepEqual(await presentKeys(store, resolved), resolved);
      rmSync(join(dir, "ballast"));
      await store.commit({ checks: [], writes: [{ key: bytes("after"), value: bytes("freed") }] });
      await store.close();
      store = await openLmdbStore({ path });
      assert.deepEqual(await presentKeys(store, [...resolved, "after"]), [...resolved, "after"], "every resolved commit survives the reopen");
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await store.close();
    }
  });
});
