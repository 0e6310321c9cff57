import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { Store } from "../api/types.js";
import { scheduleBackups, type BackupSchedule, type ScheduledBackups } from "../operations/store-backups.js";
import { checkInteger } from "../store/validate.js";
import { layerStore, type LayerHooks, type UnitKind } from "./layer.js";

/** What `openStore`'s `backup` option and a config file's `backup` section take. */
export interface ScheduledBackupOptions {
  /** Where backups go: `s3://bucket/prefix`, `azure://container/prefix` or a folder. */
  to: string;
  /** Ms between backups (default one hour); the first is taken one interval after the store opens. */
  intervalMs?: number;
  /** Keep at most this many of the newest backups. */
  keep?: number;
  /** Remove backups older than this. */
  maxAgeMs?: number;
  /** Goes before `stowage-` in backup names: one prefix can hold several services' backups. */
  namePrefix?: string;
}

/** Backs up once an hour unless told otherwise. */
export const DEFAULT_BACKUP_INTERVAL_MS = 3_600_000;

const FIELDS = ["to", "intervalMs", "keep", "maxAgeMs", "namePrefix"] as const;

/** Checks scheduled-backup options; INVALID_ARGUMENT naming the field. The schedule they make. */
export function checkBackupOptions(options: unknown): BackupSchedule {
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw new StowageError("INVALID_ARGUMENT", "backup must be an object: { to, intervalMs?, keep?, maxAgeMs?, namePrefix? }");
  const given = options as Record<string, unknown>;
  for (const field of Object.keys(given)) {
    if (!(FIELDS as readonly string[]).includes(field)) throw new StowageError("INVALID_ARGUMENT", `backup option "${field}" is not one; backup takes ${FIELDS.join(", ")}`);
  }
  if (typeof given.to !== "string" || given.to === "") throw new StowageError("INVALID_ARGUMENT", "backup.to must name a target: s3://bucket/prefix, azure://container/prefix or a folder");
  const intervalMs = given.intervalMs === undefined ? DEFAULT_BACKUP_INTERVAL_MS : checkInteger(undefined, "backup.intervalMs", given.intervalMs, 1, LIMITS.maxTimerMs);
  const keep = given.keep === undefined ? undefined : checkInteger(undefined, "backup.keep", given.keep, 1, Number.MAX_SAFE_INTEGER);
  const maxAgeMs = given.maxAgeMs === undefined ? undefined : checkInteger(undefined, "backup.maxAgeMs", given.maxAgeMs, 1, Number.MAX_SAFE_INTEGER);
  if (given.namePrefix !== undefined && typeof given.namePrefix !== "string") throw new StowageError("INVALID_ARGUMENT", "backup.namePrefix must be a string");
  const retention = keep === undefined && maxAgeMs === undefined ? undefined : { ...(keep === undefined ? {} : { keep }), ...(maxAgeMs === undefined ? {} : { maxAgeMs }) };
  return {
    to: given.to,
    intervalMs,
    ...(retention === undefined ? {} : { retention }),
    ...(given.namePrefix === undefined ? {} : { namePrefix: given.namePrefix as string }),
  };
}

/** Calls pass straight through; the layer is there for its close. */
function passThrough(close: () => Promise<void>): LayerHooks<UnitKind> {
  return { begin: (unit) => unit, op: (_call, run) => run(), end: () => undefined, close };
}

/**
 * `store`, backed up on a schedule (see {@link scheduleBackups}) until it closes; closing waits for a backup under
 * way. `backups` reports the last backup and the last failure, and takes one now.
 *
 * @example
 * ```ts
 * const store = withScheduledBackups(await openStore(), { to: "s3://backups/orders/", intervalMs: 3_600_000, keep: 48 });
 * ```
 */
export function withScheduledBackups<S extends Store>(store: S, options: ScheduledBackupOptions): S & { backups: ScheduledBackups } {
  const schedule = scheduleBackups(store, checkBackupOptions(options));
  return layerStore(store, passThrough(() => schedule.stop()), { backups: schedule });
}
