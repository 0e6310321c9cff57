import { StowageError } from "../../api/errors.js";
import type { BackupObject, BackupTarget } from "./backup-target.js";
import { parseBackupName } from "./backup-names.js";

/**
 * Which backups to keep. Both limits apply: a backup goes when it is not among the newest `keep`, or when it is older
 * than `maxAgeMs`. The newest backup always stays, whatever the policy, so a prune never leaves nothing to restore.
 * An empty policy removes nothing.
 */
export interface RetentionPolicy {
  /** Keep at most this many of the newest backups (at least 1). */
  readonly keep?: number;
  /** Remove backups older than this many milliseconds (by the time in their name). */
  readonly maxAgeMs?: number;
}

/** Options of {@link expiredBackups} and {@link pruneBackups}. */
export interface RetentionScope {
  /** Only backups named with this prefix (see backupName) count; by default every backup name counts. */
  readonly namePrefix?: string;
  /** The time ages are measured from (default now). */
  readonly now?: Date;
}

/**
 * Picks which of `objects` a policy removes: only names that {@link parseBackupName} reads (other files under the
 * prefix are never touched), ordered by the time in their name, never the newest. Throws INVALID_ARGUMENT for a bad
 * policy.
 */
export function expiredBackups(objects: readonly BackupObject[], policy: RetentionPolicy, scope: RetentionScope = {}): BackupObject[] {
  checkPolicy(policy);
  const now = (scope.now ?? new Date()).getTime();
  const backups = backupsNewestFirst(objects, scope.namePrefix);
  return backups
    .filter(({ time }, newness) => {
      if (newness === 0) return false;
      if (policy.keep !== undefined && newness >= policy.keep) return true;
      return policy.maxAgeMs !== undefined && now - time.getTime() > policy.maxAgeMs;
    })
    .map(({ object }) => object);
}

/**
 * Removes the backups of `target` that `policy` lets go (see {@link expiredBackups}) and returns them. Safe to rerun:
 * removing is idempotent, so an interrupted prune is finished by the next one.
 *
 * @example
 * ```ts
 * await pruneBackups(target, { keep: 7, maxAgeMs: 30 * 24 * 3600_000 });
 * ```
 */
export async function pruneBackups(target: BackupTarget, policy: RetentionPolicy, scope: RetentionScope = {}): Promise<BackupObject[]> {
  const expired = expiredBackups(await target.list(), policy, scope);
  for (const backup of expired) await target.remove(backup.name);
  return expired;
}

/** The newest backup of `target` (by the time in its name), optionally of one name prefix; undefined when there is none. */
export async function latestBackup(target: BackupTarget, scope: Pick<RetentionScope, "namePrefix"> = {}): Promise<BackupObject | undefined> {
  return backupsNewestFirst(await target.list(), scope.namePrefix)[0]?.object;
}

/** The objects named as backups (of one name prefix, when given) with their time, newest first; ties by name. */
function backupsNewestFirst(objects: readonly BackupObject[], namePrefix: string | undefined): Array<{ object: BackupObject; time: Date }> {
  const backups: Array<{ object: BackupObject; time: Date }> = [];
  for (const object of objects) {
    const parts = parseBackupName(object.name);
    if (parts !== undefined && (namePrefix === undefined || parts.prefix === namePrefix)) backups.push({ object, time: parts.time });
  }
  return backups.sort((a, b) => b.time.getTime() - a.time.getTime() || (a.object.name < b.object.name ? 1 : a.object.name > b.object.name ? -1 : 0));
}

function checkPolicy(policy: RetentionPolicy): void {
  const { keep, maxAgeMs } = policy;
  if (keep !== undefined && !(Number.isSafeInteger(keep) && keep >= 1)) {
    throw new StowageError("INVALID_ARGUMENT", `the retention policy's keep must be an integer of at least 1 (the newest backup always stays), not ${String(keep)}`);
  }
  if (maxAgeMs !== undefined && !(Number.isFinite(maxAgeMs) && maxAgeMs > 0)) {
    throw new StowageError("INVALID_ARGUMENT", `the retention policy's maxAgeMs must be a positive number of milliseconds, not ${String(maxAgeMs)}`);
  }
}
