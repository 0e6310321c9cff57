/**
 * SQLite's work queues against the memory engine's, operation by operation (see helpers/work-differential.ts): the
 * same answers to seeded sequences of every work operation, the same dumps at the end, clean checks, snapshots that
 * keep their view; and the checks that find damaged work rows.
 */
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { join } from "node:path";
import { test } from "node:test";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { SqliteEngine } from "../src/engines/sqlite/sqlite-engine.js";
import { tempDir } from "./helpers/child.js";
import { runWorkDifferential } from "./helpers/work-differential.js";

const SEEDS = [1, 2, 3, 4];
const STEPS = 400;

test("SQLite answers every work operation as the memory engine does, over seeded sequences", async () => {
  const tmp = tempDir("sql-work");
  try {
    const ran: Record<string, number> = {};
    for (const seed of SEEDS) {
      const reference = new MemoryEngine();
      const subject = await SqliteEngine.open({ path: join(tmp.dir, `seed-${seed}.db`) });
      try {
        for (const [op, n] of Object.entries(await runWorkDifferential(reference, subject, seed, STEPS))) ran[op] = (ran[op] ?? 0) + n;
      } finally {
        await subject.close();
        await reference.close();
      }
    }
    const ops = ["workPush", "workClaim", "workExtend", "workSettle", "workPoll", "workCounts", "workKeys", "workDead", "workRequeue", "workPurge", "workDump", "workLastId", "workRestore"];
    assert.deepEqual(ops.filter((op) => (ran[op] ?? 0) === 0), [], `every work operation ran: ${JSON.stringify(ran)}`);
  } finally {
    tmp.remove();
  }
});

test("SQLite's check reports a dead item with a lease token, a dead time on a live item, and a counter behind the ids", async () => {
  const tmp = tempDir("sql-work-check");
  try {
    const path = join(tmp.dir, "store.db");
    const engine = await SqliteEngine.open({ path });
    try {
      const push = { key: "k", value: new Uint8Array([1]), priority: 0, visibleAt: 0, maxAttempts: 3, policy: "{}", dedup: null, reject: false };
      await engine.write({ op: "workPush", args: ["jobs", [push, push, push], 0] });
      assert.deepEqual(await engine.check(), []);
    } finally {
      await engine.close();
    }
    const db = new Database(path);
    db.exec("UPDATE stowage_work SET dead = 1, dead_at = 5, token = 9 WHERE id = 1");
    db.exec("UPDATE stowage_work SET dead_at = 5 WHERE id = 2");
    db.exec("UPDATE stowage_counter SET value = 2 WHERE kind = 'work'");
    db.close();
    const damaged = await SqliteEngine.open({ path });
    try {
      const problems = await damaged.check();
      assert.equal(problems.length, 3, problems.join("\n"));
      assert.match(problems.join("\n"), /lease token only while it is not dead.*"id":1/);
      assert.match(problems.join("\n"), /dead time exactly when it is dead.*"id":2/);
      assert.match(problems.join("\n"), /counter is not behind.*"kind":"work"/);
    } finally {
      await damaged.close();
    }
  } finally {
    tmp.remove();
  }
});
