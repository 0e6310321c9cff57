import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import { checkBoolean, checkInteger, checkOptions } from "./validate.js";

/** Options of a {@link WorkFailure}. */
export interface WorkFailureOptions {
  /** Dead now, whatever attempts the item has left. */
  final?: boolean;
  /** Retry after this long (0 … {@link LIMITS.maxTtlMs}) instead of the item's backoff; still dead when its attempts are used up. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * Thrown by a worker's handler to steer how its item fails: `final` dead-letters it at once, `retryAfterMs` sets the
 * wait before the next attempt. Any other error fails the item per its retry policy. The item keeps
 * `WorkFailure: <message>` as its last error. Bad options are INVALID_ARGUMENT, thrown by the constructor.
 *
 * @example
 * ```ts
 * queue.work("email", async (job) => {
 *   if (!isValid(job.value)) throw new WorkFailure("malformed address", { final: true });
 *   if (rateLimited()) throw new WorkFailure("rate limited", { retryAfterMs: 60_000 });
 *   await send(job.value);
 * });
 * ```
 */
export class WorkFailure extends Error {
  readonly final: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options?: WorkFailureOptions) {
    const opts = checkOptions(undefined, "WorkFailure options", options, ["final", "retryAfterMs", "cause"]);
    const final = checkBoolean(undefined, "final", opts.final);
    const retryAfterMs = opts.retryAfterMs === undefined ? undefined : checkInteger(undefined, "retryAfterMs", opts.retryAfterMs, 0, LIMITS.maxTtlMs);
    if (final && retryAfterMs !== undefined) throw new StowageError("INVALID_ARGUMENT", "a WorkFailure is final or retried after retryAfterMs, not both");
    super(String(message), "cause" in opts ? { cause: opts.cause } : undefined);
    this.name = "WorkFailure";
    this.final = final;
    this.retryAfterMs = retryAfterMs;
  }
}
