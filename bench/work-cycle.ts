/**
 * The work-queue cycle every side of the `work.cycle` rows runs (stowage, pg-boss, raw SKIP LOCKED): push `batch` jobs
 * on one queue shared by all in-flight workers, then claim and ack until this operation has completed `batch` jobs.
 * Each operation completes exactly as many jobs as it pushed, so ops/s × batch is jobs/s for every side alike, and the
 * queue is empty when a phase ends. A claim may come back short (rows locked by a concurrent claim): it claims again,
 * never more than it still needs, so the jobs outstanding always equal the needs of the operations in flight.
 */
import { setImmediate as yieldTurn } from "node:timers/promises";

/** The rows and their batch sizes: jobs pushed per push call, claimed at most per claim, acked per ack call. */
export const WORK_ROWS = [
  { op: "work.cycle", batch: 1 },
  { op: "work.cycle16", batch: 16 },
] as const;

/** The concurrency the targets use; every side runs on a pool of 10 connections where it has one. */
export const WORK_CONCURRENCY = 16;

/** Claims one operation may make before it gives up: a bound, never reached unless a side loses jobs. */
const MAX_CLAIMS = 10_000;

export interface CycleSide<J> {
  push(): Promise<unknown>;
  claim(limit: number): Promise<J[]>;
  /** Acks `jobs`, answering how many were acked. */
  ack(jobs: J[]): Promise<number>;
}

/** One operation of a cycle row: push `batch`, then claim and ack until `batch` jobs are done. */
export async function completeBatch<J>(batch: number, side: CycleSide<J>): Promise<void> {
  await side.push();
  let need = batch;
  for (let claims = 0; need > 0; claims++) {
    if (claims >= MAX_CLAIMS) throw new Error(`work cycle: ${need} of ${batch} jobs still unclaimed after ${MAX_CLAIMS} claims`);
    const jobs = await side.claim(need);
    if (jobs.length === 0) {
      // Every outstanding job is held by a claim in flight: let it finish.
      await yieldTurn();
      continue;
    }
    if (jobs.length > need) throw new Error(`work cycle: a claim of at most ${need} returned ${jobs.length} jobs`);
    const acked = await side.ack(jobs);
    if (acked !== jobs.length) throw new Error(`work cycle: acked ${acked} of ${jobs.length} claimed jobs`);
    need -= jobs.length;
  }
}
