/**
 * Disk full: the SQLite file lives on a 4 MiB tmpfs, mounted by the test (root only). Writes that no longer fit fail
 * with a typed error (BACKEND_UNAVAILABLE, "the disk is full"), every write that resolved stays readable, and once
 * space is freed writes succeed again, in the same store and after reopening. A transaction that runs out of disk is
 * rolled back by SQLite itself: its body's later calls must fail with that failure (never run outside the transaction,
 * in autocommit mode) and the transaction must reject.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import Database from "better-sqlite3";
import { isTransactionFatal } from "../src/engines/transaction-failure.js";
import { isStowageError, openStore, utf8, type Store } from "../src/index.js";

/** Mounts a small tmpfs; the reason when it cannot (not root, or no permission to mount here). */
function mountSmallDisk(dir: string, size: string): string | undefined {
  if (process.getuid?.() !== 0) return "it needs root to mount a tmpfs";
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
}

/** What a test gets on the small disk: its folder, the store file's path, and stores opened on it (closed at the end). */
interface SmallDisk {
  dir: string;
  path: string;
  open(options?: { durability?: "full" | "process" }): Promise<Store>;
}

/**
 * Runs `body` with a store file on a fresh 4 MiB tmpfs, then closes its stores, unmounts and removes the folder,
 * however it ended. Where the tmpfs cannot be mounted (not root) the test says why and is skipped.
 */
async function onSmallDisk(t: TestContext, prefix: string, body: (disk: SmallDisk) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const why = mountSmallDisk(dir, "4m");
  if (why !== undefined) {
    rmSync(dir, { recursive: true, force: true });
    t.diagnostic(`could not run: ${why}`);
    t.skip(`could not run: ${why}`);
    return;
  }
  const path = join(dir, "store.db");
  const stores: Store[] = [];
  try {
    await body({
      dir,
      path,
      open: async (options = {}) => {
        const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0, ...options });
        stores.push(store);
        return store;
      },
    });
  } finally {
    await Promise.all(stores.map((store) => store.close().catch(() => undefined)));
    execFileSync("umount", [dir], { stdio: "pipe" });
    rmSync(dir, { recursive: true, force: true });
  }
}

test("sqlite on a full disk: writes fail typed, resolved data stays readable, writes resume once space is freed", async (t) => {
  await onSmallDisk(t, "stowage-full-", async ({ dir, path, open }) => {
    let store: Store | undefined;
    // Space to give back later.
    writeFileSync(join(dir, "ballast"), Buffer.alloc(1024 * 1024));
    store = await open({ durability: "full" });
    const kv = store.kv("full", { codec: utf8 });
    for (let i = 0; i < 10; i++) await kv.put(`early-${i}`, `early value ${i}`);

    // Fill the disk, 8 puts of 16 KiB at a time (so that group commit runs into it too); bounded: 4 MiB cannot hold 2,000.
    const big = "x".repeat(16 * 1024);
    const resolved: string[] = [];
    let failure: unknown;
    for (let round = 0; round < 250 && failure === undefined; round++) {
      const keys = Array.from({ length: 8 }, (_, i) => `fill-${round}-${i}`);
      const outcomes = await Promise.allSettled(keys.map((key) => kv.put(key, big)));
      outcomes.forEach((outcome, i) => {
        if (outcome.status === "fulfilled") resolved.push(keys[i] as string);
        else failure ??= outcome.reason;
      });
    }
    assert.ok(failure !== undefined, "the 4 MiB disk never filled up");
    assert.ok(isStowageError(failure, "BACKEND_UNAVAILABLE"), `expected BACKEND_UNAVAILABLE, got ${String(failure)}`);
    assert.match((failure as Error).message, /disk is full/);
    assert.match((failure as Error).message, new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    t.diagnostic(`${resolved.length} puts of 16 KiB resolved before: ${(failure as Error).message}`);

    // Reads still work on the full disk.
    for (let i = 0; i < 10; i++) assert.equal(await kv.get(`early-${i}`), `early value ${i}`);
    for (const key of resolved) assert.equal(await kv.get(key), big, `${key} resolved but cannot be read`);

    // Space comes back: the same store writes again.
    rmSync(join(dir, "ballast"));
    await kv.put("after", "written once space was freed");
    assert.equal(await kv.get("after"), "written once space was freed");
    await store.close();
    store = undefined;

    // And everything that resolved is there after reopening, in a sound file.
    const db = new Database(path);
    try {
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
    } finally {
      db.close();
    }
    store = await open();
    const reopened = store.kv("full", { codec: utf8 });
    for (const key of resolved) assert.equal(await reopened.get(key), big);
    assert.equal(await reopened.get("after"), "written once space was freed");
    assert.equal(await reopened.get("early-9"), "early value 9");
  });
});

/** Fills the disk holding `dir` with a ballast file, 64 KiB at a time, until a write fails; bounded by `maxBytes`. */
function fillDisk(path: string, maxBytes: number): number {
  const chunk = Buffer.alloc(64 * 1024, 1);
  const fd = openSync(path, "w");
  let written = 0;
  try {
    while (written < maxBytes) {
      try {
        written += writeSync(fd, chunk);
      } catch {
        break; // ENOSPC: the disk is full
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

test("sqlite, a transaction that runs out of disk: SQLite rolls it back, the body's later calls fail with that failure and nothing commits", async (t) => {
  await onSmallDisk(t, "stowage-full-tx-", async ({ dir, open }) => {
    const store = await open();
    await store.kv("tx", { codec: utf8 }).put("before", "committed before the disk filled");
    // A full disk but for 256 KiB: the spill fails part way, and a small write would still fit.
    writeFileSync(join(dir, "spare"), Buffer.alloc(256 * 1024));
    fillDisk(join(dir, "ballast"), 8 * 1024 * 1024);
    rmSync(join(dir, "spare"));

    // The body writes until the page cache spills into the WAL and the disk is full: SQLite then rolls the whole
    // transaction back by itself. The body catches that failure and goes on, as bodies may.
    const big = "x".repeat(64 * 1024);
    let failure: Error | undefined;
    let puts = 0;
    const later: unknown[] = [];
    const outcome = await store
      .transaction(async (tx) => {
        const kv = tx.kv("tx", { codec: utf8 });
        await kv.put("first", "written first in the transaction");
        // Bounded: the transaction size limit (16 MiB) stops it at 255 values anyway.
        for (; puts < 250 && failure === undefined; puts++) {
          await kv.put(`big-${puts}`, big).catch((error: Error) => void (failure = error));
        }
        for (const call of [() => kv.put("after-failure", "must not be written"), () => kv.get("first"), () => tx.log("l").append("a", new Uint8Array([1]))]) {
          later.push(await call().then(() => "resolved", (error: unknown) => error));
        }
        return "the body returned";
      })
      .then((value) => ({ resolved: value }), (error: unknown) => ({ rejected: error }));

    assert.ok(failure !== undefined, `${puts} puts of 64 KiB in one transaction never ran out of disk`);
    t.diagnostic(`put ${puts} failed: ${failure.message}`);
    const kv = store.kv("tx", { codec: utf8 });
    assert.equal(await kv.get("after-failure"), undefined, "the body's put after the failure was committed: it ran outside the transaction");
    assert.ok(isStowageError(failure, "BACKEND_UNAVAILABLE"), `expected BACKEND_UNAVAILABLE, got ${String(failure)}`);
    assert.match(failure.message, /disk is full/);
    assert.ok(isTransactionFatal(failure), "the failure is not marked as ending its transaction");
    later.forEach((result, i) => assert.equal(result, failure, `later call ${i} of the body: expected the transaction's failure, got ${String(result)}`));
    assert.ok("rejected" in outcome, "the transaction resolved although SQLite had rolled it back");
    assert.equal(outcome.rejected, failure);

    // Nothing of the transaction is stored, before or after the failure; the store works once space is freed.
    assert.equal(await kv.get("first"), undefined);
    assert.equal(await kv.get("big-0"), undefined);
    assert.equal(await store.log("l").lastSeq(), 0);
    assert.equal(await kv.get("before"), "committed before the disk filled");
    rmSync(join(dir, "ballast"));
    await kv.put("after", "written once space was freed");
    assert.equal(await kv.get("after"), "written once space was freed");
    assert.deepEqual((await store.check()).problems, []);
  });
});

test("sqlite, a group commit that runs out of disk: every write that failed is absent, every write that resolved is present", async (t) => {
  await onSmallDisk(t, "stowage-full-group-", async ({ dir, open }) => {
    const store = await open();
    const kv = store.kv("group", { codec: utf8 });
    await kv.put("before", "committed before the disk filled");
    writeFileSync(join(dir, "spare"), Buffer.alloc(256 * 1024));
    fillDisk(join(dir, "ballast"), 8 * 1024 * 1024);
    rmSync(join(dir, "spare"));

    // Issued in one turn of the event loop, so that they share a commit: more than the page cache holds, so it spills
    // into the WAL mid-group and SQLite rolls the group's transaction back by itself. Small writes follow the big ones.
    const big = "x".repeat(64 * 1024);
    const keys = [...Array.from({ length: 240 }, (_, i) => `big-${i}`), ...Array.from({ length: 20 }, (_, i) => `small-${i}`)];
    const outcomes = await Promise.allSettled(keys.map((key) => kv.put(key, key.startsWith("big") ? big : "small")));
    const failed = keys.filter((_, i) => outcomes[i]?.status === "rejected");
    t.diagnostic(`${failed.length} of ${keys.length} puts failed: ${String((outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult | undefined)?.reason)}`);
    assert.ok(failed.length > 0, "the group never ran out of disk");
    const stored = await Promise.all(keys.map((key) => kv.get(key)));
    const failedButStored = keys.filter((key, i) => outcomes[i]?.status === "rejected" && stored[i] !== undefined);
    assert.deepEqual(failedButStored, [], "puts reported as failed were committed: they ran outside the group's transaction");
    const resolvedButMissing = keys.filter((key, i) => outcomes[i]?.status === "fulfilled" && stored[i] === undefined);
    assert.deepEqual(resolvedButMissing, [], "puts reported as resolved are missing");
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === "rejected") assert.ok(isStowageError(outcome.reason, "BACKEND_UNAVAILABLE"), `${keys[i]}: ${String(outcome.reason)}`);
    }
    assert.equal(await kv.get("before"), "committed before the disk filled");
    rmSync(join(dir, "ballast"));
    await kv.put("after", "written once space was freed");
    assert.equal(await kv.get("after"), "written once space was freed");
    assert.deepEqual((await store.check()).problems, []);
  });
});
