/**
 * Client crash rounds: a child process runs the crash workload (test/fixtures/crash-worker.ts) on a store and is
 * killed with SIGKILL once it has reported a random number of resolved steps; the store is reopened, `store.check()`
 * runs (the engine's own check and stowage's invariants), and the checks of test/helpers/crash-check.ts find every
 * reported operation there and every unreported one wholly present or wholly absent. Then the next child goes on with
 * the same store. Shared by test/crash.test.ts (embedded engines, PostgreSQL) and the networked engines' fault tests.
 *
 * Counting resolved steps, not milliseconds, makes every kill interrupt a worker in full flow whatever the machine's
 * load: a kill at a random time after "ready" hit, on a loaded 2-core machine, mostly workers that had barely
 * started (a soak checked 1,341 PostgreSQL steps over 200 kills, 7 a kill).
 */
import assert from "node:assert/strict";
import { startChild, type Child } from "./child.js";
import { checkRound, CrashLedger, parseReports, ROUND_STRIDE } from "./crash-check.js";
import { seeded } from "./register-workload.js";
import { openStore, type OpenStoreOptions } from "../../src/index.js";

const IN_FLIGHT = 8;
/** A worker that has not reported its target number of steps within this long is stuck: the round fails. */
const STALL_MS = 60_000;

export interface CrashRoundsOptions {
  /** Kills, one a round. */
  rounds: number;
  /** The kill comes once the child has reported this many resolved steps or fewer, at random (at least 1). */
  maxSteps: number;
  /**
   * Runs after the kill, before the checks read: until what the killed process had sent can no longer land (a server
   * may still apply a request it received whole), so that the checks, which read in several calls, see one state.
   */
  settle?: () => Promise<void>;
}

/** Runs `rounds` kills of a worker on the store `options` opens; fails on the first round whose checks find a problem. */
export async function crashRounds(t: { diagnostic(message: string): void }, options: OpenStoreOptions, seed: number, spec: CrashRoundsOptions): Promise<void> {
  const random = seeded(seed);
  const ledger = new CrashLedger();
  const stepsPerKill: number[] = [];
  for (let round = 0; round < spec.rounds; round++) {
    const first = round * ROUND_STRIDE;
    let child: Child | undefined;
    try {
      child = startChild("crash-worker", [JSON.stringify(options), String(first), String(IN_FLIGHT), String(ROUND_STRIDE - 1)]);
      assert.ok(await child.waitFor((lines) => lines.includes("ready"), 30_000), `round ${round}: the worker did not start\n${child.describe()}`);
      const target = 1 + Math.floor(random() * spec.maxSteps);
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
    await spec.settle?.();
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
    `${spec.rounds} kills, ${total} reported steps checked (per kill: min ${sorted[0] ?? 0}, median ${median}, max ${sorted.at(-1) ?? 0}), ` +
      "every reported one present and no half-applied one",
  );
}

/** The worker's step reports among its lines so far (its other lines are words such as "ready"). */
function countReportLines(lines: readonly string[]): number {
  let count = 0;
  for (const line of lines) if (line.startsWith("{")) count++;
  return count;
}
