/** What the example's main and its workers share: the queue and its timings. */
import { json, type Store, type WorkQueue } from "../../src/index.js";

/** A job of the example: just its number. */
export interface Job {
  n: number;
}

export const QUEUE_KEY = "jobs";
/** The lease length: a job whose worker died is claimable again this long after its last claim or heartbeat. */
export const VISIBILITY_MS = 1_000;
/** How long each job works. */
export const JOB_MS = 150;

/** The example's queue: JSON jobs, 3 attempts each. */
export function jobQueue(store: Store): WorkQueue<Job> {
  return store.workQueue<Job>("example", { codec: json<Job>(), retry: { maxAttempts: 3 } });
}
