/**
 * What the SIGKILL battery's parent (work-processes.test.ts) and its worker processes (fixtures/work-worker.ts) share:
 * the queue, its retry policy, the jobs and how each one's handler behaves.
 */
import { json, type Store, type WorkQueue } from "../../src/index.js";

/** A job: its number, and how many of its first attempts fail. */
export interface BatteryJob {
  n: number;
  failFirst: number;
}

export const BATTERY_NAMESPACE = "battery";
export const BATTERY_KEY = "jobs";
export const MAX_ATTEMPTS = 5;
/** Failures per job by `n % 6`: half never fail, some fail once or twice, one in six every time (a dead letter). */
const FAIL_FIRST = [0, 0, 0, 1, 2, 9] as const;

/** Each worker process's options: 4 handlers at once, 1 s leases. */
export const WORKER_SETTINGS = { concurrency: 4, visibilityMs: 1_000 } as const;

/** The battery's queue on `store`: JSON jobs, 5 attempts, a fixed 20 ms backoff. */
export function batteryQueue(store: Store): WorkQueue<BatteryJob> {
  return store.workQueue<BatteryJob>(BATTERY_NAMESPACE, { codec: json<BatteryJob>(), retry: { maxAttempts: MAX_ATTEMPTS, backoff: { type: "fixed", delayMs: 20, jitter: "none" } } });
}

/** Job `n` (1-based). */
export function batteryJob(n: number): BatteryJob {
  return { n, failFirst: FAIL_FIRST[n % FAIL_FIRST.length]! };
}

/** Whether job `n`'s handler fails on every attempt it may have. */
export const failsAlways = (job: BatteryJob) => job.failFirst >= MAX_ATTEMPTS;

/** What job `n`'s handler throws. */
export const jobError = (n: number) => new Error(`job ${n} fails`);

/**
 * How long job `n`'s handler runs on `attempt`: 1–13 ms mostly; one job in 50 outlives two thirds of its lease on its
 * first attempt, so its worker extends it (heartbeats are part of what the history checks).
 */
export function handlerMs(n: number, attempt: number): number {
  if (attempt === 1 && n % 50 === 0) return 1_300;
  return 1 + ((n * 7_919) % 13);
}
