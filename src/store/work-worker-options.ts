import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { WorkerEvent } from "../api/types.js";
import { checkOptionalInteger, checkOptions, checkSignal, describeType } from "./validate.js";

/** Handlers a worker may run at once, at most. */
export const MAX_WORKER_CONCURRENCY = 1_000;
const DEFAULT_IDLE_POLL_MS = 5_000;

/** A worker's options, checked and completed. */
export interface WorkerSettings {
  concurrency: number;
  visibilityMs: number;
  batchSize: number;
  drainMs: number;
  idlePollMs: number;
  signal: AbortSignal | undefined;
  onEvent: ((event: WorkerEvent) => void) | undefined;
}

/** `options` of `work` checked (INVALID_ARGUMENT naming the namespace, key and option) and completed with defaults. */
export function resolveWorkOptions(namespace: string, key: string, options: unknown, queueVisibilityMs: number): WorkerSettings {
  const opts = checkOptions(namespace, "work options", options, ["concurrency", "visibilityMs", "batchSize", "drainMs", "idlePollMs", "signal", "onEvent"], key);
  const concurrency = checkOptionalInteger(namespace, "concurrency", opts.concurrency, 1, 1, MAX_WORKER_CONCURRENCY, key);
  const visibilityMs = checkOptionalInteger(namespace, "visibilityMs", opts.visibilityMs, queueVisibilityMs, 1, LIMITS.maxTimerMs, key);
  const batchSize = checkOptionalInteger(namespace, "batchSize", opts.batchSize, Math.min(concurrency, LIMITS.maxClaimLimit), 1, LIMITS.maxClaimLimit, key);
  const drainMs = checkOptionalInteger(namespace, "drainMs", opts.drainMs, visibilityMs, 0, LIMITS.maxTimerMs, key);
  const idlePollMs = checkOptionalInteger(namespace, "idlePollMs", opts.idlePollMs, DEFAULT_IDLE_POLL_MS, 1, LIMITS.maxTimerMs, key);
  const signal = checkSignal(namespace, opts.signal, key);
  if (opts.onEvent !== undefined && typeof opts.onEvent !== "function") {
    throw new StowageError("INVALID_ARGUMENT", `onEvent must be a function, got ${describeType(opts.onEvent)}`, { namespace, key });
  }
  return { concurrency, visibilityMs, batchSize, drainMs, idlePollMs, signal, onEvent: opts.onEvent as WorkerSettings["onEvent"] };
}
