/**
 * Backup targets: where a backup file goes and how it comes back (S3-compatible object stores, Azure Blob Storage,
 * a local folder), backup names and retention.
 */
export type { BackupBody, BackupObject, BackupTarget, PutOptions } from "./backup-target.js";
export { openBackupTarget, openBackupLocation, parseTargetUrl, type BackupTargetOptions, type TargetLocation } from "./target-url.js";
export type { S3Credentials } from "./s3-target.js";
export { backupName, parseBackupName, type BackupNameOptions, type BackupNameParts } from "./backup-names.js";
export { expiredBackups, latestBackup, pruneBackups, type RetentionPolicy, type RetentionScope } from "./retention.js";
