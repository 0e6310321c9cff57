import { StowageError } from "../api/errors.js";
import type { Clock } from "../api/types.js";
import { checkOptionalInteger, checkOptions, checkSignal, describeType } from "../store/validate.js";

/** The namespace of elections, named in errors (LeaderElection's `LEASES_NAMESPACE`). */
const LEASES = "leases";

/** Why a campaign's leadership ended. */
export type LeadershipLoss =
  /** A renewal found the lease held by another candidate or under another token: fencing refused it. */
  | "refused"
  /** No renewal was confirmed before the safety margin ahead of the deadline (store slow or unreachable). */
  | "deadline"
  /** The campaign stopped (abort, `stop()`, `runtime.close()`): the lease was released. */
  | "stopped";

/** Options of `LeaderElection.campaign`. */
export interface CampaignOptions {
  /**
   * Called when this candidate becomes leader, with the leadership's fencing token. Awaited, and renewals wait for
   * it: start long work without awaiting it here.
   */
  onElected?: (token: number) => void | Promise<void>;
  /**
   * Called when the leadership ends, before the lease could pass to another candidate (by this candidate's clock):
   * stop acting as leader at once. Awaited before the lease is released, so that a successor starts after it.
   */
  onLost?: (reason: LeadershipLoss, token: number) => void | Promise<void>;
  /** Aborting it stops the campaign and releases the lease. */
  signal?: AbortSignal;
  /** How often it renews while leader and tries to become leader otherwise, in ms (default ttl / 3; at most ttl / 2). */
  renewEveryMs?: number;
}

/** A running campaign. */
export interface Campaign {
  /** The fencing token while leader, else `undefined`. */
  readonly token: number | undefined;
  /** Stops the campaign and releases the lease; resolves when it has. */
  stop(): Promise<void>;
  /** Settles when the campaign has stopped: rejects with a callback's error (after releasing the lease). */
  readonly done: Promise<void>;
}

/** What a campaign needs of its election. */
export interface CampaignTarget {
  readonly name: string;
  readonly ttlMs: number;
  readonly clock: Clock;
  acquire(): Promise<boolean>;
  renew(): Promise<boolean>;
  release(): Promise<void>;
  readonly token: number | undefined;
  readonly expiresAt: number | undefined;
}

/**
 * The share of the ttl kept in hand before the deadline: leadership is reported lost when no renewal was confirmed
 * this long before the lease expires, so that the old leader stops before a new one can be elected.
 */
const SAFETY_SHARE = 0.2;

/** Runs the campaign loop of `election`; see `LeaderElection.campaign`. */
export function runCampaign(election: CampaignTarget, options?: CampaignOptions): Campaign {
  const every = checkCampaign(election, options);
  const margin = Math.max(1, Math.floor(election.ttlMs * SAFETY_SHARE));
  const stopping = new AbortController();
  const stop = (): void => stopping.abort();
  /** Settles when the campaign stops: a hanging renewal does not delay `onLost("stopped")`. */
  const stopped = new Promise<"stopped">((resolve) => stopping.signal.addEventListener("abort", () => resolve("stopped"), { once: true }));
  const signal = options?.signal;
  signal?.addEventListener("abort", stop, { once: true });
  if (signal?.aborted === true) stop();
  let held: number | undefined;

  const lose = async (reason: LeadershipLoss): Promise<void> => {
    const token = held;
    held = undefined;
    if (token !== undefined) await options?.onLost?.(reason, token);
  };

  /**
   * Reports the loss, then releases: a renewal still under way may yet land, and the release runs after it (calls of
   * one candidate run in order), so that this candidate leads no more and another need not wait for the expiry.
   */
  const loseByDeadline = async (): Promise<void> => {
    await lose("deadline");
    await election.release().catch(() => undefined);
  };

  /** One renewal, raced with the safety deadline: loss is reported at the deadline even while the call hangs. */
  const renewInTime = async (): Promise<void> => {
    const deadline = (election.expiresAt ?? 0) - margin;
    const left = deadline - election.clock();
    if (left <= 0) return loseByDeadline();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), left)));
    const renewed = election.renew().catch(() => "failed" as const);
    const outcome = await Promise.race([renewed, late, stopped]);
    clearTimeout(timer);
    // Stopped: the loop ends and reports it; its release runs after the pending renewal.
    if (outcome === "late") await loseByDeadline();
    else if (outcome === false) await lose("refused");
    // "failed" (a store error): not lost yet; the next round retries before the deadline.
  };

  const run = async (): Promise<void> => {
    try {
      while (!stopping.signal.aborted) {
        if (held === undefined) {
          if (await election.acquire().catch(() => false)) {
            held = election.token;
            if (held !== undefined) await options?.onElected?.(held);
          }
        } else await renewInTime();
        await pause(every, stopping.signal);
      }
    } finally {
      signal?.removeEventListener("abort", stop);
      // The leader hears first, then the lease goes: a successor never overlaps its last acts.
      try {
        await lose("stopped");
      } finally {
        await election.release().catch(() => undefined);
      }
    }
  };

  const done = run();
  // A rejection of `done` is the caller's to handle through `done` or `stop()`; never an unhandled one here.
  done.catch(() => undefined);
  return {
    get token() {
      return held;
    },
    stop: async () => {
      stop();
      await done;
    },
    done,
  };
}

/** Checks the options; the renewal interval. */
function checkCampaign(election: CampaignTarget, options: CampaignOptions | undefined): number {
  const opts = checkOptions(LEASES, "campaign options", options, ["onElected", "onLost", "signal", "renewEveryMs"], election.name);
  for (const callback of ["onElected", "onLost"] as const) {
    if (opts[callback] !== undefined && typeof opts[callback] !== "function") {
      throw new StowageError("INVALID_ARGUMENT", `${callback} must be a function, got ${describeType(opts[callback])}`, { namespace: LEASES, key: election.name });
    }
  }
  checkSignal(LEASES, opts.signal, election.name);
  const most = Math.max(1, Math.floor(election.ttlMs / 2));
  return checkOptionalInteger(LEASES, "renewEveryMs (at most half the ttl)", opts.renewEveryMs, Math.max(1, Math.floor(election.ttlMs / 3)), 1, most, election.name);
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
