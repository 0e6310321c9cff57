import { openBackupTarget, targetRelativeTo } from "../operations/backup-targets/target-url.js";
import { backupStore, restoreStore } from "../operations/store-backups.js";
import type { RetentionPolicy } from "../operations/backup-targets/retention.js";
import { numberOption, stringOption } from "./args.js";
import { type AnyCommand, type Command, type ConfigCommand, takeArgs } from "./command.js";
import { NegativeAnswer } from "./errors.js";
import { columns, isoTime, type Output } from "./output.js";

/** `backup <target>`: a dump streamed to an object store or folder, with retention. */
export const backupCommand: Command = {
  words: ["backup"],
  synopsis: "<target> [--keep N] [--max-age-ms N] [--name-prefix P]",
  summary:
    "Stream a dump of one consistent snapshot of the store to <target>: s3://bucket/prefix (query endpoint, region, forcePathStyle; credentials from AWS_* variables), azure://container/prefix (AZURE_STORAGE_CONNECTION_STRING) or a folder. Then remove backups beyond the newest --keep or older than --max-age-ms (never the newest).",
  options: ["json", "keep", "max-age-ms", "name-prefix"],
  prepare({ args, options, cwd }) {
    const target = targetRelativeTo(cwd, takeArgs(this, args, ["target"]).target);
    const retention = retentionOf(options);
    const namePrefix = stringOption(options, "name-prefix");
    return async (store, out) => {
      const report = await backupStore(store, target, { ...(retention === undefined ? {} : { retention }), ...(namePrefix === undefined ? {} : { namePrefix }) });
      out.result(
        { name: report.name, location: report.location, namespaces: report.namespaces, items: report.items, pruned: report.pruned },
        [`backed up ${report.items} items of ${report.namespaces} namespaces to ${report.location} as ${report.name}`, ...report.pruned.map((name) => `removed ${name}`)],
      );
    };
  },
};

/** `restore <target>`: a backup (the newest, or the one the URL names) into an empty store, then validated. */
export const restoreCommand: Command = {
  words: ["restore"],
  synopsis: "<target>[/<backup-name>] [--name-prefix P] [--allow-non-empty]",
  summary:
    "Restore the backup <target> names (a URL ending in a backup's name), else the newest there (of --name-prefix), into the store: downloaded, checked whole, restored, then validated against the backup (exit status 3 if it differs). The store must be empty unless --allow-non-empty.",
  options: ["json", "name-prefix", "allow-non-empty"],
  prepare({ args, options, cwd }) {
    const target = targetRelativeTo(cwd, takeArgs(this, args, ["target"]).target);
    const namePrefix = stringOption(options, "name-prefix");
    return async (store, out) => {
      let progress: ReturnType<Output["progress"]> | undefined;
      const report = await restoreStore(store, target, {
        allowNonEmpty: options["allow-non-empty"] === true,
        ...(namePrefix === undefined ? {} : { namePrefix }),
        onChecked: (checked) => (progress = out.progress("restored", checked.items)),
        onProgress: (done) => progress?.update(done),
      });
      progress?.done(report);
      const text = [`restored ${report.items} items of ${report.namespaces} namespaces from ${report.location} ${report.name}`, report.validation.equal ? "validated: identical to the backup" : `different: ${report.validation.firstDifference}`];
      out.result({ name: report.name, location: report.location, namespaces: report.namespaces, items: report.items, equal: report.validation.equal }, text);
      if (!report.validation.equal) throw new NegativeAnswer("DIFFERENT", report.validation.firstDifference ?? "the restored store differs from the backup");
    };
  },
};

/** `backups <target>`: what a target holds (no store is opened). */
export const backupsCommand: ConfigCommand = {
  words: ["backups"],
  synopsis: "<target>",
  summary: "List the backups at <target>, oldest first: name, size in bytes, and when it was written.",
  options: ["json"],
  prepareWithConfig({ args, cwd }) {
    const target = targetRelativeTo(cwd, takeArgs(this, args, ["target"]).target);
    return async (_config, out) => {
      const opened = await openBackupTarget(target);
      try {
        const listed = await opened.list();
        out.result(
          listed.map((backup) => ({ name: backup.name, size: backup.size, modified: backup.modified.toISOString() })),
          columns(listed.map((backup) => [backup.name, String(backup.size), isoTime(backup.modified.getTime())])),
        );
      } finally {
        await opened.close();
      }
    };
  },
};

function retentionOf(options: Parameters<typeof numberOption>[0]): RetentionPolicy | undefined {
  const keep = numberOption(options, "keep");
  const maxAgeMs = numberOption(options, "max-age-ms");
  if (keep === undefined && maxAgeMs === undefined) return undefined;
  return { ...(keep === undefined ? {} : { keep }), ...(maxAgeMs === undefined ? {} : { maxAgeMs }) };
}

/** The backup commands, in the order usage lists them. */
export const BACKUP_COMMANDS: readonly AnyCommand[] = [backupCommand, restoreCommand, backupsCommand];
