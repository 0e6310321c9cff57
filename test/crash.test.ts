/**
 * Crash safety: a child process runs a mixed workload (KV puts with and without TTL, log appends, slot CAS, queue
 * push and ack, transactions) and reports each operation once it resolved; the test kills it with SIGKILL at a
 * random moment, reopens the store, runs `store.check()` (the engine's own integrity check and stowage's
 * invariants) and checks (test/helpers/crash-check.ts) that every reported operation is there and every unreported
 * one is wholly present or wholly absent. Then the next child goes on with the same store. `CRASH_ROUNDS` sets the kills per engine (10 here; the soak runs 200).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { openStore, type OpenStoreOptions } from "../src/index.js";
import { sleep, startChild, tempDir, type Child } from "./helpers/child.js";
import { checkRound, CrashLedger, parseReports, ROUND_STRIDE } from "./helpers/crash-check.js";
import { usePostgresServer, waitForOtherClientsToEnd } from "./helpers/postgres-server.js";
import { seeded } from "./helpers/register-workload.js";

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 10);
const IN_FLIGHT = 8;
/** The kill comes this long after the child is ready, at random: from before its first write to mid-stream. */
const MAX_RUN_MS = 150;

// A real server for this file; if it cannot start, every test that needs it fails rather than skips.
const pgServer = usePostgresServer();

async function crashRounds(t: { diagnostic(message: string): void }, options: OpenStoreOptions, seed: number): Promise<void> {
  const random = seeded(seed);
  const ledger = new CrashLedger();
  let reportedTotal = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const first = round * ROUND_STRIDE;
    let child: Child | undefined;
    try {
      child = startChild("crash-worker", [JSON.stringify(options), String(first), String(IN_FLIGHT), String(ROUND_STRIDE - 1)]);
      assert.ok(await child.waitFor((lines) => lines.includes("ready"), 30_000), `round ${round}: the worker did not start\n${child.describe()}`);
      await sleep(Math.floor(random() * MAX_RUN_MS));
      assert.equal(child.hasExited, false, `round ${round}: the worker stopped on its own\n${child.describe()}`);
      child.kill("SIGKILL");
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGKILL");
    } finally {
      child?.kill("SIGKILL");
      await child?.exited;
    }
    const reports = parseReports(child.lines);
    reportedTotal += reports.length;
    const problems = ledger.add(reports);
    const maxN = Math.max(first - 1, ...reports.map((r) => r.n));
    // The killed worker's PostgreSQL backends may still commit what it had sent: the checks start after them.
    if (options.backend === "postgres") await waitForOtherClientsToEnd(options.dsn);
    const store = await openStore({ ...options, sweepIntervalMs: 0 });
    try {
      // The engine's own check (SQLite's integrity_check) and stowage's invariants, then the workload's checks.
      problems.push(...(await store.check()).problems);
      problems.push(...(await checkRound(store, ledger, round, first, maxN - first + 1 + IN_FLIGHT)));
    } finally {
      await store.close();
    }
    assert.deepEqual(problems, [], `round ${round} (seed ${seed}), after ${reports.length} reported steps`);
  }
  t.diagnostic(`${ROUNDS} kills, ${reportedTotal} reported steps checked, every reported one present and no half-applied one`);
}

test("sqlite: a process killed mid-workload loses nothing it reported and leaves no half-done write", async (t) => {
  const tmp = tempDir("crash");
  try {
    await crashRounds(t, { backend: "sqlite", path: join(tmp.dir, "store.db"), durability: "full", busyTimeoutMs: 10_000 }, 11);
  } finally {
    tmp.remove();
  }
});

test("postgres: a process killed mid-workload loses nothing it reported and leaves no half-done write", async (t) => {
  await crashRounds(t, { backend: "postgres", dsn: pgServer().dsn, schema: "crash", poolSize: 4, connectTimeoutMs: 10_000 }, 12);
});
