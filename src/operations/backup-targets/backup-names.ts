import { randomBytes } from "node:crypto";
import { StowageError } from "../../api/errors.js";
import { isObjectName } from "./object-names.js";

/** Options of {@link backupName}. */
export interface BackupNameOptions {
  /** Goes before `stowage-` (a service name, say `orders-`); name characters only. Default empty. */
  readonly prefix?: string;
  /** The backup's time (default now). */
  readonly time?: Date;
  /** A short lowercase id that tells apart backups of the same millisecond (default 8 random hex digits). */
  readonly id?: string;
  /** The file's extension, after `.dump` (default `.gz`). */
  readonly extension?: string;
}

/** A parsed backup name. */
export interface BackupNameParts {
  readonly prefix: string;
  readonly time: Date;
  readonly id: string;
}

const NAME = /^(.*?)stowage-(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z-([a-z0-9]{1,32})\.dump(\.[a-z0-9]{1,10})?$/;

/**
 * Names a backup `<prefix>stowage-<UTC time>-<id>.dump.gz`, for example `stowage-2026-12-03T10-15-30-123Z-9f2c4e1a.dump.gz`:
 * names of one prefix sort by time, and the time has no `:` (not portable to every file system and URL).
 */
export function backupName(options: BackupNameOptions = {}): string {
  const { prefix = "", time = new Date(), id = randomBytes(4).toString("hex"), extension = ".gz" } = options;
  if (!/^[a-z0-9]{1,32}$/.test(id)) throw new StowageError("INVALID_ARGUMENT", `the backup id ${JSON.stringify(id)} must be 1 to 32 of a-z 0-9`);
  if (!/^(\.[a-z0-9]{1,10})?$/.test(extension)) throw new StowageError("INVALID_ARGUMENT", `the backup extension ${JSON.stringify(extension)} must be empty or a dot and 1 to 10 of a-z 0-9`);
  if (!Number.isFinite(time.getTime()) || time.getUTCFullYear() < 1970 || time.getUTCFullYear() > 9999) {
    throw new StowageError("INVALID_ARGUMENT", "the backup time must be a valid date between the years 1970 and 9999");
  }
  const stamp = time.toISOString().replace(/[:.]/g, "-");
  const name = `${prefix}stowage-${stamp}-${id}.dump${extension}`;
  if (prefix !== "" && !isObjectName(name)) throw new StowageError("INVALID_ARGUMENT", `the backup name prefix ${JSON.stringify(prefix)} must be name characters (A-Z a-z 0-9 . _ -) starting with a letter or digit`);
  return name;
}

/** The prefix, time and id of a name {@link backupName} made; undefined for any other name. */
export function parseBackupName(name: string): BackupNameParts | undefined {
  const match = NAME.exec(name);
  if (match === null || !isObjectName(name)) return undefined;
  const [, prefix = "", year, month, day, hour, minute, second, milli, id = ""] = match;
  const time = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}.${milli}Z`);
  return Number.isFinite(time.getTime()) ? { prefix, time, id } : undefined;
}
