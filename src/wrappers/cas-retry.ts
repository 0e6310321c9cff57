import { isStowageError, StowageError } from "../api/errors.js";
import type { Slot, Versioned } from "../api/types.js";
import { checkOptionalInteger } from "../store/validate.js";

/**
 * What a {@link withCasRetry} attempt returns when its compare-and-swap lost to a concurrent writer (a Slot's `cas`
 * resolved to false): the attempt is run again, after a pause, on freshly read state. An attempt resolving `false`
 * counts the same, so that `withCasRetry(() => slot.cas(…))` retries.
 */
export const CAS_LOST: unique symbol = Symbol("stowage.casLost");

/** The type of {@link CAS_LOST}. */
export type CasLost = typeof CAS_LOST;

const DEFAULT_ATTEMPTS = 10;
const DEFAULT_BASE_DELAY_MS = 5;
const DEFAULT_MAX_DELAY_MS = 1_000;
const MAX_ATTEMPTS = 1_000;
/** Longest pause between two attempts that may be configured: an hour. */
const MAX_DELAY_MS = 3_600_000;

/** Options of {@link withCasRetry} and {@link updateSlot}. */
export interface CasRetryOptions {
  /** Most runs of the attempt, the first included (default 10, at most 1,000). */
  attempts?: number;
  /** Pause cap after the first lost attempt, doubled after each further one (default 5 ms; 0: no pause). */
  baseDelayMs?: number;
  /** Largest pause cap, however many attempts were lost (default 1,000 ms). */
  maxDelayMs?: number;
  /** Aborting it stops the retries: the call rejects with `signal.reason`, also during a pause. */
  signal?: AbortSignal;
  /** Named in the CONFLICT thrown when the attempts run out. */
  namespace?: string;
  /** Named in the CONFLICT thrown when the attempts run out. */
  key?: string;
  /** Source of the jitter, a number in [0, 1) (default `Math.random`); for tests. */
  random?: () => number;
  /** How a pause is taken (default a timer, ended early by `signal`); for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

interface Settings {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  signal: AbortSignal | undefined;
  random: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Runs `attempt` until it wins: an attempt reads the current state, computes, and writes conditionally; when the
 * condition lost to a concurrent writer — it returns {@link CAS_LOST} or `false` (what `slot.cas` resolves to when it
 * lost), or throws a `CONFLICT` (such as a stream
 * produce with a stale `expectedSeq`) — it is run again after a pause with full jitter: a random share of
 * `min(maxDelayMs, baseDelayMs · 2^(lost − 1))`, so that racing writers spread out instead of colliding again in
 * lockstep. Any other error is thrown at once. When the attempts run out it throws the last `CONFLICT`, or, when the
 * last attempt lost a CAS, a new `CONFLICT` saying how many were lost.
 *
 * @example
 * ```ts
 * const slot = store.slot("config", { codec: json<Config>() });
 * await withCasRetry(async () => {
 *   const current = await slot.get("app");
 *   return (await slot.cas("app", current?.version ?? 0, edit(current?.value))) ? "done" : CAS_LOST;
 * }, { namespace: slot.namespace, key: "app" });
 * ```
 */
export async function withCasRetry<R>(attempt: (attempt: number) => Promise<R | CasLost>, options: CasRetryOptions = {}): Promise<R> {
  if (typeof attempt !== "function") {
    throw new StowageError("INVALID_ARGUMENT", "withCasRetry needs a function (attempt) => Promise", contextOf(options));
  }
  const settings = checkSettings(options);
  let lost = 0;
  let last: StowageError | CasLost = CAS_LOST;
  for (let run = 1; run <= settings.attempts; run++) {
    settings.signal?.throwIfAborted();
    try {
      const result = await attempt(run);
      if (result !== CAS_LOST && result !== false) return result as R;
      lost += 1;
      last = CAS_LOST;
    } catch (error) {
      if (!isStowageError(error, "CONFLICT")) throw error;
      last = error;
    }
    if (run < settings.attempts) await pause(settings, run);
  }
  if (last !== CAS_LOST) throw last;
  throw new StowageError(
    "CONFLICT",
    `the compare-and-swap lost to a concurrent writer ${lost} time${lost === 1 ? "" : "s"} in ${settings.attempts} attempt${settings.attempts === 1 ? "" : "s"}; gave up`,
    contextOf(options),
  );
}

/**
 * Read-modify-write of one slot, the common use of {@link withCasRetry}: reads the slot, computes its next value with
 * `update` (given the current value, `undefined` when absent), and writes it by compare-and-swap against the version
 * read, again on fresh state whenever a concurrent writer got there first. `update` may run several times, so it
 * should have no side effect. Resolves to what was written, with its version.
 */
export async function updateSlot<T>(
  slot: Slot<T>,
  key: string,
  update: (current: T | undefined) => T | Promise<T>,
  options: CasRetryOptions = {},
): Promise<Versioned<T>> {
  if (typeof slot !== "object" || slot === null || typeof slot.get !== "function" || typeof slot.cas !== "function") {
    throw new StowageError("INVALID_ARGUMENT", "updateSlot needs a Slot handle (store.slot(namespace))", { key });
  }
  if (typeof update !== "function") {
    throw new StowageError("INVALID_ARGUMENT", "updateSlot needs an update function (current) => next", { namespace: slot.namespace, key });
  }
  return withCasRetry<Versioned<T>>(
    async () => {
      const current = await slot.get(key);
      const version = current?.version ?? 0;
      const value = await update(current?.value);
      return (await slot.cas(key, version, value)) ? { version: version + 1, value } : CAS_LOST;
    },
    { namespace: slot.namespace, key, ...options },
  );
}

/** The pause after losing run `run` (1-based); nothing when the jittered share is 0. */
async function pause(settings: Settings, run: number): Promise<void> {
  // The exponent stops at 52: beyond it the cap is maxDelayMs anyway, and 0 · 2^n stays 0 (never NaN).
  const cap = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.min(run - 1, 52));
  const share = settings.random();
  const ms = cap * (Number.isFinite(share) ? Math.min(Math.max(share, 0), 1) : 0);
  if (ms > 0) await settings.sleep(ms, settings.signal);
}

function checkSettings(options: CasRetryOptions): Settings {
  if (typeof options !== "object" || options === null) {
    throw new StowageError("INVALID_ARGUMENT", `withCasRetry options must be an object, got ${options === null ? "null" : typeof options}`);
  }
  const context = contextOf(options);
  const attempts = checkOptionalInteger(context.namespace, "attempts", options.attempts, DEFAULT_ATTEMPTS, 1, MAX_ATTEMPTS, context.key);
  const baseDelayMs = checkOptionalInteger(context.namespace, "baseDelayMs", options.baseDelayMs, DEFAULT_BASE_DELAY_MS, 0, MAX_DELAY_MS, context.key);
  const maxDelayMs = checkOptionalInteger(context.namespace, "maxDelayMs", options.maxDelayMs, Math.max(DEFAULT_MAX_DELAY_MS, baseDelayMs), 0, MAX_DELAY_MS, context.key);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new StowageError("INVALID_ARGUMENT", "signal must be an AbortSignal", context);
  }
  for (const name of ["random", "sleep"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") {
      throw new StowageError("INVALID_ARGUMENT", `${name} must be a function`, context);
    }
  }
  return { attempts, baseDelayMs, maxDelayMs, signal: options.signal, random: options.random ?? Math.random, sleep: options.sleep ?? sleep };
}

function contextOf(options: unknown): { namespace?: string; key?: string } {
  if (typeof options !== "object" || options === null) return {};
  const { namespace, key } = options as { namespace?: unknown; key?: unknown };
  return { namespace: typeof namespace === "string" ? namespace : undefined, key: typeof key === "string" ? key : undefined };
}

/** A timer that `signal` ends early, rejecting with its reason (the same as a check before the next attempt would). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
