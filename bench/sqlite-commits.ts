/**
 * Counts the durable commits a SQLite store makes, from outside the engine: the engine ends every write group with a
 * prepared `COMMIT` statement on its writer connection (src/engines/sqlite/sqlite-engine.ts), so wrapping
 * better-sqlite3's `Statement.prototype.run` and counting the runs of `COMMIT` on one database file counts its synced
 * commits (durability "full": each one fsyncs the WAL). Read transactions use `exec("COMMIT")` and are not counted.
 */
import { resolve } from "node:path";
import Database from "better-sqlite3";
import type { Store } from "../src/index.js";
import { workCycleBody } from "./cases-stowage.js";
import { measure, type RunLimits } from "./harness.js";
import { WORK_ROWS } from "./work-cycle.js";

const counts = new Map<string, number>();
let installed = false;

function install(): void {
  if (installed) return;
  const probe = new Database(":memory:");
  const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as { run: (...args: unknown[]) => unknown };
  probe.close();
  const run = proto.run;
  proto.run = function countingRun(this: { source: string; database: { name: string } }, ...args: unknown[]) {
    const result = run.apply(this, args);
    if (this.source === "COMMIT") {
      const file = this.database.name;
      if (counts.has(file)) counts.set(file, (counts.get(file) as number) + 1);
    }
    return result;
  };
  installed = true;
}

/** Starts counting the commits made on the database file `path`; the returned function stops and answers the count. */
export function countCommits(path: string): () => number {
  install();
  const file = resolve(path);
  counts.set(file, 0);
  return () => {
    const n = counts.get(file) ?? 0;
    counts.delete(file);
    return n;
  };
}

/** How many stowage write calls the durable commits of one SQLite work-cycle run carried. */
export interface CommitSharing {
  op: string;
  batch: number;
  concurrency: number;
  /** Write calls (push, claim, ack) the run made, and the commits that carried them. */
  writes: number;
  commits: number;
  jobsPerSec: number;
}

/**
 * The work rows on the SQLite store `store` (its file `path`), timed once more while counting the store's commits:
 * writes per commit > 1 means concurrent workers' writes share durable commits (issue 21's "every durable commit
 * shared"). Untimed by the targets' ratios: this run only counts.
 */
export async function measureCommitSharing(store: Store, path: string, limitsAt: (c: number) => RunLimits, concurrencies: readonly number[]): Promise<CommitSharing[]> {
  const out: CommitSharing[] = [];
  for (const { op, batch } of WORK_ROWS) {
    for (const c of concurrencies) {
      let writes = 0;
      const body = workCycleBody(store, `${op.replace(/[^A-Za-z0-9]/g, "-")}-commits-c${c}`, batch, () => writes++);
      const limits = { ...limitsAt(c), runs: 1 };
      // The warm-up's writes and commits are counted too: both counters run over the same calls.
      const stop = countCommits(path);
      const summary = await measure(body, limits);
      const commits = stop();
      out.push({ op, batch, concurrency: c, writes, commits, jobsPerSec: summary.opsPerSec * batch });
    }
  }
  return out;
}
