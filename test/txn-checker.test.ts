/**
 * The transactional checker (test/helpers/txn/checker.ts) on its own: each anomaly class in a hand-made history is
 * detected and named, valid histories (unknown outcomes included) raise no alarm, and real workload runs against
 * deliberately broken engines (test/helpers/txn/broken-engines.ts) are caught — while the same run on the memory
 * engine is clean.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createStore, type Store } from "../src/index.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import type { Engine } from "../src/engines/engine.js";
import { checkHistory, describeAnomalies, describeFigures, type CheckReport } from "./helpers/txn/checker.js";
import type { MicroOp, Outcome, Txn } from "./helpers/txn/history.js";
import { DirtyReadEngine, DoomedCommitEngine, LeakyRollbackEngine, ReadCommittedEngine } from "./helpers/txn/broken-engines.js";
import { runInProcess, type WorkloadOptions } from "./helpers/txn/workload.js";

const r = (key: string, list: string): MicroOp => ({ f: "r", key, value: list === "" ? [] : list.split(" ") });
const a = (key: string, value: string, outcome: Outcome = "ok"): MicroOp => ({ f: "a", key, value, outcome });
/** A transaction; without times, all overlap (no real-time order). */
const txn = (id: string, ops: MicroOp[], outcome: Outcome = "ok", start = 0, end: number | null = 100): Txn => ({ id, process: id, single: ops.length === 1, outcome, start, end, ops });
const final = (key: string, list: string) => txn(`final-${key}`, [r(key, list)], "ok", 1_000, 1_001);

const names = (report: CheckReport) => Object.keys(report.counts).sort();

describe("the checker on hand-made histories", () => {
  it("names G0 (a write cycle)", () => {
    const report = checkHistory([txn("T1", [a("x", "1"), a("y", "1")]), txn("T2", [a("x", "2"), a("y", "2")]), final("x", "1 2"), final("y", "2 1")]);
    assert.deepEqual(names(report), ["G0"], describeAnomalies(report));
    assert.deepEqual([...(report.anomalies[0]?.txns ?? [])].sort(), ["T1", "T2"]);
  });

  it("names G1a (aborted read)", () => {
    const report = checkHistory([txn("T1", [a("x", "1")], "fail"), txn("T2", [r("x", "1")])]);
    assert.deepEqual(names(report), ["G1a"], describeAnomalies(report));
    assert.deepEqual(report.anomalies[0]?.txns, ["T2", "T1"]);
  });

  it("names G1a for a write whose own call failed inside a committed transaction", () => {
    const report = checkHistory([txn("T1", [a("x", "1", "fail"), a("y", "1")]), txn("T2", [r("x", "1")]), final("y", "1")]);
    assert.deepEqual(names(report), ["G1a"], describeAnomalies(report));
  });

  it("names G1b (intermediate read)", () => {
    const report = checkHistory([txn("T1", [a("x", "1"), a("x", "2")]), txn("T2", [r("x", "1")]), final("x", "1 2")]);
    assert.deepEqual(names(report), ["G1b"], describeAnomalies(report));
  });

  it("names G1c (a cycle of writes and reads)", () => {
    const report = checkHistory([txn("T1", [a("x", "1"), r("y", "2")]), txn("T2", [a("y", "2"), r("x", "1")])]);
    assert.deepEqual(names(report), ["G1c"], describeAnomalies(report));
  });

  it("names G-single (read skew: one anti-dependency)", () => {
    const report = checkHistory([txn("T1", [r("x", ""), r("y", "1")]), txn("T2", [a("x", "1"), a("y", "1")]), final("x", "1"), final("y", "1")]);
    assert.deepEqual(names(report), ["G-single"], describeAnomalies(report));
    assert.match(report.anomalies[0]?.detail ?? "", /-rw->/);
  });

  it("names G2 (write skew: two anti-dependencies)", () => {
    const report = checkHistory([txn("T1", [r("x", ""), a("y", "1")]), txn("T2", [r("y", ""), a("x", "1")]), final("x", "1"), final("y", "1")]);
    assert.deepEqual(names(report), ["G2"], describeAnomalies(report));
  });

  it("names a stale read after a completed write G-single-realtime", () => {
    const report = checkHistory([txn("T1", [a("x", "1")], "ok", 0, 5), txn("T2", [r("x", "")], "ok", 10, 15), txn("T3", [r("x", "1")], "ok", 20, 25)]);
    assert.deepEqual(names(report), ["G-single-realtime"], describeAnomalies(report));
  });

  it("names a transaction that a plain write and a later plain read both miss G2-realtime (issue 17, defect 4)", () => {
    // T reads x before W's plain append; R, invoked after W returned, reads y before T's append commits.
    const history = [
      txn("T", [r("x", ""), a("y", "t")], "ok", 0, 50),
      txn("W", [a("x", "w")], "ok", 10, 20),
      txn("R", [r("y", "")], "ok", 30, 40),
      final("x", "w"),
      final("y", "t"),
    ];
    const report = checkHistory(history);
    assert.deepEqual(names(report), ["G2-realtime"], describeAnomalies(report));
    assert.deepEqual([...(report.anomalies[0]?.txns ?? [])].sort(), ["R", "T", "W"]);
  });

  it("names a committed write no later read holds a lost write", () => {
    const report = checkHistory([txn("T1", [a("x", "1"), a("y", "1")], "ok", 0, 5), txn("T2", [r("x", "2")], "ok", 10, 15), txn("T3", [a("x", "2")], "ok", 6, 8), final("y", "1")]);
    assert.ok(names(report).includes("lost-write"), describeAnomalies(report));
    assert.deepEqual(report.anomalies.find((x) => x.name === "lost-write")?.txns, ["T1", "T2"]);
  });

  it("names reads no single order explains incompatible-order (a lost update)", () => {
    const report = checkHistory([txn("T1", [r("x", "1 2")]), txn("T2", [r("x", "1 3")]), txn("W", [a("x", "1"), a("x", "2"), a("x", "3")])]);
    assert.ok(names(report).includes("incompatible-order"), describeAnomalies(report));
  });

  it("names a transaction that does not see its own append internal", () => {
    const report = checkHistory([txn("T1", [a("x", "1"), r("x", "")])]);
    assert.deepEqual(names(report), ["internal"], describeAnomalies(report));
  });

  it("names reads of elements no one appended, and duplicates", () => {
    const report = checkHistory([txn("T1", [r("x", "9")]), txn("T2", [a("y", "1")]), txn("T3", [r("y", "1 1")])]);
    assert.deepEqual(names(report), ["duplicate-element", "garbage-read"], describeAnomalies(report));
  });

  it("raises no alarm on a serial history with plain calls, aborts and retries", () => {
    const history = [
      txn("P0", [r("y", "")], "ok", -5, -1),
      txn("T1", [r("x", ""), a("x", "1"), a("y", "1")], "ok", 0, 10),
      txn("T2", [a("x", "2")], "fail", 11, 12),
      txn("P1", [a("y", "2")], "ok", 13, 14),
      txn("T3", [r("x", "1"), r("y", "1 2"), a("x", "3")], "ok", 15, 20),
      txn("P2", [r("x", "1 3")], "ok", 21, 22),
      final("x", "1 3"),
      final("y", "1 2"),
    ];
    const report = checkHistory(history);
    assert.deepEqual(report.anomalies, []);
    assert.equal(report.committed, 7);
    assert.equal(report.aborted, 1);
    assert.ok(report.edges.ww > 0 && report.edges.wr > 0 && report.edges.rw > 0 && report.edges.rt > 0, describeFigures(report));
  });

  it("treats unknown outcomes soundly: their writes may or may not be visible", () => {
    const history = [
      txn("U1", [a("x", "1")], "info", 0, null),
      txn("U2", [a("y", "1")], "info", 0, null),
      txn("T1", [r("x", "1")], "ok", 50, 60),
      final("x", "1"),
      final("y", ""),
    ];
    const report = checkHistory(history);
    assert.deepEqual(report.anomalies, [], describeAnomalies(report));
    assert.equal(report.unknown, 2);
  });
});

const WORKLOAD: WorkloadOptions = { kvKeys: 3, logKeys: 2, calls: 40, maxOpsPerTxn: 4, plainShare: 0.3, catchShare: 0.2, abortShare: 0.2, pauseMs: 1, bodyPauseMs: 2 };
/** Histories run against a broken engine at most before the test gives up on catching it. */
const MAX_RUNS = 5;

/** Runs histories on `engine()` until the checker reports one of `expected`; the report of that run. */
async function runUntilCaught(engine: () => Engine, expected: readonly string[]): Promise<CheckReport> {
  let report: CheckReport | undefined;
  for (let run = 0; run < MAX_RUNS; run++) {
    const store: Store = createStore(engine(), { sweepIntervalMs: 0 });
    try {
      report = checkHistory(await runInProcess(store, 4, WORKLOAD));
    } finally {
      await store.close();
    }
    if (expected.some((name) => (report as CheckReport).counts[name] !== undefined)) return report;
  }
  assert.fail(`none of ${expected.join(", ")} found in ${MAX_RUNS} runs; last: ${describeFigures(report as CheckReport)}`);
}

describe("the checker on real runs of the workload", () => {
  it("finds nothing on the memory engine", async (t) => {
    for (let run = 0; run < 3; run++) {
      const store = createStore(new MemoryEngine(), { sweepIntervalMs: 0 });
      try {
        const report = checkHistory(await runInProcess(store, 4, WORKLOAD));
        t.diagnostic(`memory: ${describeFigures(report)}`);
        assert.deepEqual(report.anomalies, [], describeAnomalies(report));
        assert.ok(report.committed > 50 && report.aborted > 0 && report.edges.rw > 0, describeFigures(report));
      } finally {
        await store.close();
      }
    }
  });

  it("catches a rollback that keeps an aborted body's writes (G1a)", async (t) => {
    const report = await runUntilCaught(() => new LeakyRollbackEngine(), ["G1a"]);
    t.diagnostic(`leaky rollback: ${describeFigures(report)}`);
  });

  it("catches a transaction that resolves after its body caught a failure but commits nothing (lost-write)", async (t) => {
    const report = await runUntilCaught(() => new DoomedCommitEngine(), ["lost-write"]);
    t.diagnostic(`doomed commit: ${describeFigures(report)}`);
  });

  it("catches reads of uncommitted data (G1a, G1b, G1c)", async (t) => {
    const report = await runUntilCaught(() => new DirtyReadEngine(), ["G1b"]);
    t.diagnostic(`dirty reads: ${describeFigures(report)}`);
    assert.ok(report.counts.G1a !== undefined || report.counts.G1c !== undefined, describeFigures(report));
  });

  it("catches lost updates (incompatible orders, G-single, G2)", async (t) => {
    const report = await runUntilCaught(() => new ReadCommittedEngine(), ["incompatible-order"]);
    t.diagnostic(`read committed with blind commits: ${describeFigures(report)}`);
    assert.ok(["G-single", "G2", "G-single-realtime", "G2-realtime"].some((name) => report.counts[name] !== undefined), describeFigures(report));
  });
});
