import type { ScheduledBackupOptions } from "../wrappers/scheduled-backups.js";
import { StowageError } from "../api/errors.js";
import type { Clock } from "../api/types.js";
import type { Engine } from "../engines/engine.js";
import { LIMITS } from "../api/limits.js";
import { checkInteger, checkOptions, describeType } from "./validate.js";

/** Options of `createStore` (and the store part of `openStore`). */
export interface StoreOptions {
  /** The clock for TTL, log timestamps and queue times (default `Date.now`). Tests pass a controllable one. */
  clock?: Clock;
  /** How often the background sweep removes expired KV entries, in ms (default 30,000; 0 turns it off; at most `LIMITS.maxTimerMs`). */
  sweepIntervalMs?: number;
  /**
   * `openStore` only (createStore refuses it): back the store up on a schedule, with retention, until it closes (see
   * `withScheduledBackups`). A config file's `backup` section and the `STOWAGE_BACKUP_*` variables set it.
   */
  backup?: ScheduledBackupOptions;
}

export const STORE_OPTION_FIELDS = ["clock", "sweepIntervalMs"] as const;

/** Checks the store's own options (the fields of `STORE_OPTION_FIELDS` in `options`); INVALID_ARGUMENT when wrong. */
export function checkStoreOptions(options: { clock?: unknown; sweepIntervalMs?: unknown }): StoreOptions {
  const { clock, sweepIntervalMs } = options;
  if (clock !== undefined && typeof clock !== "function") {
    throw new StowageError("INVALID_ARGUMENT", `clock must be a function returning ms since the epoch, got ${describeType(clock)}`);
  }
  // A setInterval longer than LIMITS.maxTimerMs fires every millisecond: a month's interval would sweep constantly.
  if (sweepIntervalMs !== undefined) checkInteger(undefined, "sweepIntervalMs", sweepIntervalMs, 0, LIMITS.maxTimerMs);
  return { clock: clock as Clock | undefined, sweepIntervalMs: sweepIntervalMs as number | undefined };
}

/** `createStore`'s options: an object of known fields (or nothing), checked. */
export function checkCreateOptions(options: unknown): StoreOptions {
  return checkStoreOptions(checkOptions(undefined, "store options", options, STORE_OPTION_FIELDS));
}

const ENGINE_METHODS = ["read", "write", "transaction", "check", "close"] as const;

/** An engine passed to `createStore` must at least have the {@link Engine} shape; INVALID_ARGUMENT when not. */
export function checkEngine(engine: unknown): Engine {
  if (typeof engine !== "object" || engine === null) {
    throw new StowageError("INVALID_ARGUMENT", `engine must be an Engine object, got ${describeType(engine)}`);
  }
  const candidate = engine as Record<string, unknown>;
  const missing = ENGINE_METHODS.filter((method) => typeof candidate[method] !== "function");
  if (missing.length > 0 || typeof candidate.name !== "string" || typeof candidate.location !== "string") {
    throw new StowageError(
      "INVALID_ARGUMENT",
      `engine must implement Engine (name, location, ${ENGINE_METHODS.join(", ")})${missing.length > 0 ? `; missing ${missing.join(", ")}` : ""}`,
    );
  }
  return engine as Engine;
}

/**
 * A user clock whose every reading is checked: a reading that is not a whole number of ms ≥ 0 would be stored as a
 * timestamp or an expiry (NaN, a string), so it fails the call with INVALID_ARGUMENT instead. `Date.now` is trusted.
 */
export function checkedClock(clock: Clock | undefined): Clock {
  if (clock === undefined || clock === Date.now) return Date.now;
  return () => {
    const reading = clock();
    if (typeof reading !== "number" || !Number.isSafeInteger(reading) || reading < 0) {
      throw new StowageError("INVALID_ARGUMENT", `the store's clock returned ${typeof reading === "number" ? String(reading) : describeType(reading)}; it must return whole ms since the epoch`);
    }
    return reading;
  };
}
