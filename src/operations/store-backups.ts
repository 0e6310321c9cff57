import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { StowageError } from "../api/errors.js";
import type { Store } from "../api/types.js";
import type { BackupTarget } from "./backup-targets/backup-target.js";
import { backupName } from "./backup-targets/backup-names.js";
import { latestBackup, pruneBackups, type RetentionPolicy } from "./backup-targets/retention.js";
import { openBackupLocation, openBackupTarget, type BackupTargetOptions } from "./backup-targets/target-url.js";
import type { ValidationReport } from "./compare-sources.js";
import { dumpBytes, type DumpSummary } from "./dump-file.js";
import { importStore, validateStores, type ImportOptions, type ImportSummary } from "./store-dumps.js";
import { storeSource } from "./store-source.js";

/** Options of {@link backupStore}. */
export interface BackupOptions {
  /** The target's settings beyond its URL (credentials, endpoint, part size). */
  target?: BackupTargetOptions;
  /** Goes before `stowage-` in the backup's name (a service's name, `orders-`), so that one prefix holds several services' backups. */
  namePrefix?: string;
  /** Removes older backups (of the same name prefix) after this one is stored; the newest always stays. */
  retention?: RetentionPolicy;
}

/** What {@link backupStore} stored. */
export interface BackupReport extends DumpSummary {
  /** The backup's name at the target. */
  name: string;
  /** The target, without credentials. */
  location: string;
  /** Backups the retention policy removed. */
  pruned: string[];
}

/**
 * Streams a dump of one consistent snapshot of `store` to a backup target (`s3://bucket/prefix`,
 * `azure://container/prefix`, a folder), under a name that sorts by time
 * (`stowage-2026-12-03T10-15-30-123Z-9f2c4e1a.dump.gz`), then applies the retention policy. Constant memory: the dump
 * is uploaded as it is read, a part at a time. The upload is atomic: a failure leaves no object under the name.
 */
export async function backupStore(store: Store, to: string | BackupTarget, options: BackupOptions = {}): Promise<BackupReport> {
  const target = typeof to === "string" ? await openBackupTarget(to, options.target) : to;
  try {
    const name = backupName(options.namePrefix === undefined ? {} : { prefix: options.namePrefix });
    const { stream, summary } = dumpBytes(storeSource(store));
    await target.put(name, stream);
    const written = await summary;
    const pruned = options.retention === undefined ? [] : await pruneBackups(target, options.retention, options.namePrefix === undefined ? {} : { namePrefix: options.namePrefix });
    return { ...written, name, location: target.describe(), pruned: pruned.map((backup) => backup.name) };
  } finally {
    if (typeof to === "string") await target.close();
  }
}

/** Options of {@link restoreStore}. */
export interface RestoreFromBackupOptions extends ImportOptions {
  target?: BackupTargetOptions;
  /** With a target URL that names no backup: the newest backup of this name prefix (default: of any). */
  namePrefix?: string;
}

/** What {@link restoreStore} restored. */
export interface RestoreReport extends ImportSummary {
  name: string;
  location: string;
  /** The restored store compared with the backup: `equal` when every namespace matches. */
  validation: ValidationReport;
}

/**
 * Restores a backup into `store` (empty unless `allowNonEmpty`): the one the URL names
 * (`s3://backups/orders/stowage-….dump.gz`), else the newest at the target. The backup is downloaded to a temporary
 * file and checked whole (checksums, closing line) before the first write, restored, and the store then validated
 * against it.
 */
export async function restoreStore(store: Store, from: string, options: RestoreFromBackupOptions = {}): Promise<RestoreReport> {
  const { target, name: named } = await openBackupLocation(from, options.target);
  const folder = mkdtempSync(join(tmpdir(), "stowage-restore-"));
  try {
    const name = named ?? (await latestBackup(target, options.namePrefix === undefined ? {} : { namePrefix: options.namePrefix }))?.name;
    if (name === undefined) throw new StowageError("NOT_FOUND", `there is no backup to restore at ${target.describe()}`);
    const file = join(folder, name);
    await pipeline(await target.get(name), createWriteStream(file));
    const restored = await importStore(store, file, options);
    const validation = await validateStores(store, file, { left: "store", right: "backup" });
    return { ...restored, name, location: target.describe(), validation };
  } finally {
    rmSync(folder, { recursive: true, force: true });
    await target.close();
  }
}

/** Options of {@link scheduleBackups}. */
export interface BackupSchedule extends BackupOptions {
  /** Where the backups go (`s3://…`, `azure://…`, a folder). */
  to: string;
  /** Ms between backups; the first is taken one interval after the start. */
  intervalMs: number;
}

/** A running schedule of backups, stopped by `stop` (or with the store, by {@link withScheduledBackups}). */
export interface ScheduledBackups {
  /** The last backup stored, if any; and the last failure since it, if any. */
  readonly last: BackupReport | undefined;
  readonly lastError: unknown;
  /** Takes a backup now, after the one under way (backups never overlap). */
  backupNow(): Promise<BackupReport>;
  /** Stops the timer and waits for a backup under way. */
  stop(): Promise<void>;
}

/**
 * Backs `store` up every `intervalMs` to one target, with retention; a failed backup is kept as `lastError` and tried
 * again at the next interval. The timer does not keep the process alive.
 */
export function scheduleBackups(store: Store, schedule: BackupSchedule): ScheduledBackups {
  let running: Promise<unknown> = Promise.resolve();
  let last: BackupReport | undefined;
  let lastError: unknown;
  const backupNow = (): Promise<BackupReport> => {
    const next = running.then(() => backupStore(store, schedule.to, schedule));
    running = next.then(
      (report) => {
        last = report;
        lastError = undefined;
      },
      (error: unknown) => {
        lastError = error;
      },
    );
    return next;
  };
  const timer = setInterval(() => void backupNow().catch(() => undefined), schedule.intervalMs);
  timer.unref();
  return {
    get last() {
      return last;
    },
    get lastError() {
      return lastError;
    },
    backupNow,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
