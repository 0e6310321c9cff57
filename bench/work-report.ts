/** The work-queue section of the report: the cycle rows in jobs/s, SQLite's commit sharing, and wake-up latencies. */
import type { CommitSharing } from "./sqlite-commits.js";
import type { WakeupResult } from "./work-wakeup.js";
import { WORK_ROWS } from "./work-cycle.js";
import type { CaseResult } from "./report.js";

export interface WorkFigures {
  /** SQLite work rows timed again while counting the store's commits. */
  commitSharing: CommitSharing[];
  wakeups: WakeupResult[];
  /** The pg-boss the baselines loaded: its package version and engines.node. */
  pgBoss?: { version: string; node: string };
}

/** SQLite's "every durable commit shared" target: writes per commit above this at c=16. */
export const SHARED_COMMIT_MIN = 1;

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const ms = (n: number): string => (!Number.isFinite(n) ? "–" : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));

function table(header: string[], rows: string[][]): string[] {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)];
}

const batchOf = (op: string): number | undefined => WORK_ROWS.find((row) => row.op === op)?.batch;

/** The writes-per-commit figure of SQLite at `concurrency` on the b=1 row, if measured. */
export function writesPerCommit(work: WorkFigures | undefined, concurrency: number): CommitSharing | undefined {
  return work?.commitSharing.find((s) => s.concurrency === concurrency && s.batch === 1);
}

export function renderWorkSection(cases: readonly CaseResult[], work: WorkFigures | undefined): string[] {
  const rows = cases.filter((r) => batchOf(r.op) !== undefined);
  if (rows.length === 0 && (work === undefined || (work.commitSharing.length === 0 && work.wakeups.length === 0))) return [];
  const out = ["", "## Work queues (issue 21)", ""];
  if (rows.length > 0) {
    out.push("Every row completes the jobs it pushes (bench/work-cycle.ts), so jobs/s = ops/s × batch on every side. Batch sizes: work.cycle 1 (push, claim limit 1, ack), work.cycle16 16 (pushMany / insert of 16, claims of ≤ 16 — the jobs still needed —, ackMany / complete of the ids claimed).", "");
    out.push(
      ...table(
        ["engine", "subject", "op", "batch", "c", "jobs/s", "p50 ms per op"],
        rows.map((r) => {
          const batch = batchOf(r.op) as number;
          return [r.engine, r.subject, r.op, String(batch), String(r.concurrency), r.summary === undefined ? `failed: ${r.error ?? "?"}` : int(r.summary.opsPerSec * batch), r.summary === undefined ? "" : ms(r.summary.p50Ms)];
        }),
      ),
    );
  }
  if (work !== undefined && work.commitSharing.length > 0) {
    out.push("", "SQLite commit sharing: the work rows run once more on the same store while bench/sqlite-commits.ts counts its durable COMMITs (each fsyncs the WAL at durability \"full\"); writes = stowage write calls (push/pushMany, claim, ack/ackMany), warm-up included.", "");
    out.push(
      ...table(
        ["op", "batch", "c", "write calls", "commits", "writes per commit", "jobs/s"],
        work.commitSharing.map((s) => [s.op, String(s.batch), String(s.concurrency), int(s.writes), int(s.commits), s.commits > 0 ? (s.writes / s.commits).toFixed(2) : "–", int(s.jobsPerSec)]),
      ),
    );
  }
  if (work !== undefined && work.wakeups.length > 0) {
    out.push("", "Wake-up latency (bench/work-wakeup.ts): a worker with concurrency 1 idles in another process (memory: the same process); jobs are pushed one at a time at seeded gaps of 30–120 ms; latency = the worker's handler start − the pusher's clock just before it called push (the push's commit included), both on the host clock (performance.timeOrigin + performance.now()).", "");
    out.push(
      ...table(
        ["engine", "jobs", "started", "median ms", "p99 ms", "max ms", "problem"],
        work.wakeups.map((w) => [w.engine, String(w.jobs), String(w.started), ms(w.medianMs), ms(w.p99Ms), ms(w.maxMs), w.error ?? ""]),
      ),
    );
  }
  return out;
}
