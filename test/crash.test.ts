/**
 * Crash safety: a child process runs a mixed workload (KV puts with and without TTL, log appends, slot CAS, queue
 * push and ack, transactions) and reports each operation once it resolved; the test kills it with SIGKILL once it
 * has reported a random number of resolved steps (1 to `CRASH_MAX_STEPS`), reopens the store, runs `store.check()`
 * (the engine's own integrity check and stowage's invariants) and checks (test/helpers/crash-check.ts) that every
 * reported operation is there and every unreported one is wholly present or wholly absent. Then the next child goes
 * on with the same store. `CRASH_ROUNDS` sets the kills per engine (10 here; the soak runs 200, with
 * `CRASH_MAX_STEPS=300`).
 *
 * Counting resolved steps, not milliseconds, makes every kill interrupt a worker in full flow whatever the machine's
 * load: a kill at a random time after "ready" hit, on a loaded 2-core machine, mostly workers that had barely
 * started (a soak checked 1,341 PostgreSQL steps over 200 kills, 7 a kill).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { startChild, tempDir, type Child } from "./helpers/child.js";
import { checkRound, CrashLedger, parseReports, ROUND_STRIDE } from "./helpers/crash-check.js";
import { usePostgresServer, waitForOtherClientsToEnd } from "./helpers/postgres-server.js";
import { seeded } from "./helpers/register-workload.js";
import { openStore, type OpenStoreOptions } from "../src/index.js";

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 10);
const IN_FLIGHT = 8;
/** The kill comes once the child has reported this many resolved steps or fewer, at random (at least 1). */
const MAX_STEPS = Number(process.env.CRASH_MAX_STEPS ?? 100);
/** A worker that has not reported its target number of steps within this long is stuck: the round fails. */
const STALL_MS = 60_000;

// A real server for this file; if it cannot start, every test that needs it fails rather than skips.
const pgServer = usePostgresServer();

async function crashRounds(t: { diagnostic(message: string): void }, options: OpenStoreOptions, seed: number): Promise<void> {
  const random = seeded(seed);
  const ledger = new CrashLedger();
  const stepsPerKill: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const first = round * ROUND_STRIDE;
    let child: Child | undefined;
    try {
      child = startChild("crash-worker", [JSON.stringify(options), String(first), String(IN_FLIGHT), String(ROUND_STRIDE - 1)]);
      assert.ok(await child.waitFor((lines) => lines.includes("ready"), 30_000), `round ${round}: the worker did not start\n${child.describe()}`);
      const target = 1 + Math.floor(random() * MAX_STEPS);
      const reached = await child.waitFor((lines) => countReportLines(lines) >= target, STALL_MS);
      assert.ok(reached, `round ${round}: the worker did not report ${target} steps within ${STALL_MS} ms\n${child.describe()}`);
      assert.equal(child.hasExited, false, `round ${round}: the worker stopped on its own\n${child.describe()}`);
      child.kill("SIGKILL");
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGKILL");
    } finally {
      child?.kill("SIGKILL");
      await child?.exited;
    }
    const reports = parseReports(child.lines);
    stepsPerKill.push(reports.length);
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
  const sorted = [...stepsPerKill].sort((a, b) => a - b);
  const total = sorted.reduce((sum, n) => sum + n, 0);
  const median = ((sorted[(sorted.length - 1) >> 1] ?? 0) + (sorted[sorted.length >> 1] ?? 0)) / 2;
  t.diagnostic(
    `${ROUNDS} kills, ${total} reported steps checked (per kill: min ${sorted[0] ?? 0}, median ${median}, max ${sorted.at(-1) ?? 0}), ` +
      "every reported one present and no half-applied one",
  );
}

/** The worker's step reports among its lines so far (its other lines are words such as "ready"). */
function countReportLines(lines: readonly string[]): number {
  let count = 0;
  for (const line of lines) if (line.startsWith("{")) count++;
  return count;
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

test("lmdb (ordered-KV family): a process killed mid-workload loses nothing it reported and leaves no half-done write", async (t) => {
  const tmp = tempDir("crash-lmdb");
  try {
    await crashRounds(t, { backend: "lmdb", path: join(tmp.dir, "store.lmdb") }, 13);
  } finally {
    tmp.remove();
  }
});

test("leveldb (ordered-KV family): a process killed mid-workload loses nothing it reported and leaves no half-done write", async (t) => {
  const tmp = tempDir("crash-leveldb");
  try {
    await crashRounds(t, { backend: "leveldb", path: join(tmp.dir, "store.leveldb") }, 14);
  } finally {
    tmp.remove();
  }
});
