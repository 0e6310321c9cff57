/**
 * A resolved write survives the writing process being killed (SIGKILL) mid-stream, at both durability levels.
 * The child is the compiled fixture test/fixtures/durable-writer.ts. Each case kills a writer several times on the
 * same file (every new writer first recovers what the previous one left), checking after each kill every write
 * reported so far.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { openStore, utf8, type Durability, type Store } from "../src/index.js";
import { killAll, sleep, startChild, tempDir, type Child } from "./helpers/child.js";

interface Reported {
  n: number;
  type: "kv" | "log" | "queue" | "slot";
  key: string;
  result: number | null;
}

/** Reported writes before the kill, per round. */
const KILL_AFTER = 300;
const IN_FLIGHT = 16;
const ROUNDS = 3;
/** Write numbers of round r start at r * N_STRIDE, so that every round's kv keys and values are its own. */
const N_STRIDE = 1_000_000;
const LOG_KEYS = ["log-0", "log-1", "log-2"];

/** The reported writes that the reopened store does not hold, described; [] when all are there. */
async function missingWrites(store: Store, reported: readonly Reported[]): Promise<string[]> {
  const kv = store.kv("d-kv", { codec: utf8 });
  const log = store.log("d-log", { codec: utf8 });
  const queue = store.queue("d-queue", { codec: utf8 });
  const slot = store.slot("d-slot", { codec: utf8 });
  const logs = new Map<string, Map<number, string>>();
  const queues = new Map<string, Map<number, string>>();
  const lost: string[] = [];
  for (const write of reported) {
    const value = `value-${write.n}`;
    const what = `${write.type} ${write.key} (write ${write.n}, result ${String(write.result)})`;
    switch (write.type) {
      case "kv":
        if ((await kv.get(write.key)) !== value) lost.push(what);
        break;
      case "log": {
        let entries = logs.get(write.key);
        if (entries === undefined) {
          entries = new Map((await log.list(write.key)).map((entry) => [entry.seq, entry.value]));
          logs.set(write.key, entries);
        }
        if (entries.get(write.result as number) !== value) lost.push(what);
        break;
      }
      case "queue": {
        let items = queues.get(write.key);
        if (items === undefined) {
          items = new Map((await queue.peek(write.key, 10_000)).map((item) => [item.id, item.value]));
          queues.set(write.key, items);
        }
        if (items.get(write.result as number) !== value) lost.push(what);
        break;
      }
      case "slot": {
        const current = await slot.get(write.key);
        if (current === undefined || current.version < (write.result as number)) lost.push(`${what}: now ${JSON.stringify(current)}`);
        break;
      }
    }
  }
  return lost;
}

for (const durability of ["full", "process"] as const satisfies readonly Durability[]) {
  test(`durability "${durability}": every write reported as resolved survives SIGKILL`, async (t) => {
    const tmp = tempDir(`durability-${durability}`);
    const path = join(tmp.dir, "durable.db");
    const children: Child[] = [];
    const reported: Reported[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const child = startChild("durable-writer", [path, durability, String(IN_FLIGHT), String(round * N_STRIDE), String(N_STRIDE)]);
        children.push(child);
        const writes = (lines: readonly string[]) => lines.filter((line) => line.startsWith("{")).length;
        const enough = await child.waitFor((lines) => writes(lines) >= KILL_AFTER, 20_000);
        assert.ok(enough, `round ${round}: the writer did not report ${KILL_AFTER} writes in time\n${child.describe()}`);
        // A little jitter, so that the kill lands at different points of the commit cycle.
        await sleep(round);
        child.kill("SIGKILL");
        const exit = await child.finish(10_000);
        assert.deepEqual(exit, { code: null, signal: "SIGKILL" }, `round ${round}: the writer ended on its own\n${child.describe()}`);
        assert.ok(!child.lines.includes("done"));

        // Every line read, including those still in the pipe at the kill, is a write that had resolved.
        const thisRound = child.lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Reported);
        assert.ok(thisRound.length >= KILL_AFTER);
        reported.push(...thisRound);
        assert.equal(new Set(reported.map((r) => r.n)).size, reported.length, "a write was reported twice");

        const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
        try {
          const lost = await missingWrites(store, reported);
          assert.deepEqual(lost, [], `round ${round}: ${lost.length} of ${reported.length} resolved writes are missing after SIGKILL`);

          // The recovered log is still gapless: seqs 1..lastSeq, each once, across its keys.
          const log = store.log("d-log");
          const seqs: number[] = [];
          for (const key of LOG_KEYS) seqs.push(...(await log.list(key)).map((entry) => entry.seq));
          const lastSeq = await log.lastSeq();
          assert.deepEqual(
            seqs.sort((a, b) => a - b),
            Array.from({ length: lastSeq }, (_, i) => i + 1),
          );
          const info = await store.info();
          const rows = info.namespaces.filter((ns) => ns.primitive !== "slot").reduce((sum, ns) => sum + ns.count, 0);
          const reportedRows = reported.filter((r) => r.type !== "slot").length;
          t.diagnostic(`round ${round}: ${thisRound.length} writes reported; kv/log/queue rows ${rows} (reported ${reportedRows})`);
        } finally {
          await store.close();
        }
      }
      const db = new Database(path, { readonly: true });
      try {
        assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
      } finally {
        db.close();
      }
    } finally {
      await killAll(children);
      tmp.remove();
    }
  });
}
