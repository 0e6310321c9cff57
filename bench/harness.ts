/**
 * The timing harness: runs an async operation at a fixed concurrency (C promises in flight), bounded by an operation
 * count and a time cap, after a warm-up; records each operation's latency with performance.now(). A case runs several
 * times and is summarised by medians, with the spread between runs as a noise figure.
 */
import { performance } from "node:perf_hooks";
import { median, percentile } from "./stats.js";

/** One operation: `i` is a number unique across the whole case (warm-up and runs), `worker` the in-flight slot 0..C-1. */
export type Operation = (i: number, worker: number) => Promise<unknown>;

export interface RunLimits {
  /** Promises in flight. */
  concurrency: number;
  /** Most operations in one timed run. */
  maxOps: number;
  /** Longest timed run, in ms (no new operation starts after it). */
  timeCapMs: number;
  /** Operations of the untimed warm-up before the runs. */
  warmupOps: number;
  /** Longest warm-up, in ms. */
  warmupCapMs: number;
  /** Timed runs. */
  runs: number;
}

export interface RunStats {
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export interface Summary {
  runs: RunStats[];
  /** Medians over the runs. */
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  minOpsPerSec: number;
  maxOpsPerSec: number;
  /** (max - min) / median ops/s, in percent. */
  spreadPct: number;
}

/** A case: the operation plus optional untimed hooks around each timed run (e.g. restocking a queue to ack). */
export interface CaseBody {
  op: Operation;
  /** Runs before each timed run and before the warm-up, untimed; `ops` is the most the next phase may perform. */
  beforeRun?: (ops: number) => Promise<void>;
}

/** One phase: C workers take indexes from a shared counter until the count or the time cap is reached. */
async function phase(op: Operation, concurrency: number, firstIndex: number, maxOps: number, capMs: number, record: boolean): Promise<{ done: number; seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  let issued = 0;
  const start = performance.now();
  const deadline = start + capMs;
  const worker = async (slot: number): Promise<void> => {
    while (issued < maxOps && performance.now() < deadline) {
      const i = firstIndex + issued++;
      const t0 = performance.now();
      await op(i, slot);
      if (record) latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, slot) => worker(slot)));
  return { done: issued, seconds: (performance.now() - start) / 1000, latencies };
}

const collect = (globalThis as { gc?: () => void }).gc;

/** Warm-up, then `limits.runs` timed runs; the summary takes medians over the runs. */
export async function measure(body: CaseBody, limits: RunLimits): Promise<Summary> {
  let index = 0;
  // A full collection before each phase (node --expose-gc), so one case's garbage is not collected in another's run.
  collect?.();
  await body.beforeRun?.(limits.warmupOps);
  const warm = await phase(body.op, limits.concurrency, index, limits.warmupOps, limits.warmupCapMs, false);
  index += warm.done;
  const runs: RunStats[] = [];
  for (let r = 0; r < limits.runs; r++) {
    await body.beforeRun?.(limits.maxOps);
    collect?.();
    const run = await phase(body.op, limits.concurrency, index, limits.maxOps, limits.timeCapMs, true);
    index += run.done;
    runs.push({
      ops: run.done,
      seconds: run.seconds,
      opsPerSec: run.done / run.seconds,
      p50Ms: percentile(run.latencies, 50),
      p99Ms: percentile(run.latencies, 99),
    });
  }
  return summarize(runs);
}

/** Medians over timed runs, and their spread. */
export function summarize(runs: readonly RunStats[]): Summary {
  const rates = runs.map((r) => r.opsPerSec);
  const med = median(rates);
  const min = Math.min(...rates);
  const max = Math.max(...rates);
  return {
    runs: [...runs],
    opsPerSec: med,
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    minOpsPerSec: min,
    maxOpsPerSec: max,
    spreadPct: med > 0 ? ((max - min) / med) * 100 : 0,
  };
}
