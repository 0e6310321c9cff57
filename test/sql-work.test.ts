/**
 * SQLite's work queues against the memory engine's, operation by operation (see helpers/work-differential.ts): the
 * same answers to seeded sequences of every work operation, the same dumps at the end, clean checks.
 */
import assert from "node:assert/strict";
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
