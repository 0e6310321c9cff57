import type { Readable } from "node:stream";

/** One stored backup file as a target lists it. */
export interface BackupObject {
  /** The name under the target's prefix (what `put` was given). */
  readonly name: string;
  /** Its size in bytes. */
  readonly size: number;
  /** When it was last written (the object store's clock, or the file's mtime). */
  readonly modified: Date;
}

/** Options of {@link BackupTarget.put}. */
export interface PutOptions {
  /** Aborts the upload: `put` rejects and nothing appears under the name. */
  readonly signal?: AbortSignal;
}

/** A body for {@link BackupTarget.put}: a Node stream or any async iterable of byte chunks, read once, in order. */
export type BackupBody = Readable | AsyncIterable<Uint8Array>;

/**
 * Where backup files go and how they come back: an S3 bucket, an Azure Blob container or a local folder, each under
 * a prefix. Names are single path segments (`[A-Za-z0-9][A-Za-z0-9._-]*`, at most 200 characters); the prefix is the
 * target's, so one bucket can hold the backups of several services.
 *
 * Writes are atomic from a reader's view: while `put` runs, and after it failed or was aborted, nothing is visible
 * under the name (a previous object of that name stays as it was); once it resolved, the whole body is. Bodies are
 * streamed in constant memory (one part at a time), large ones as a multipart upload.
 *
 * @example
 * ```ts
 * const target = await openBackupTarget("s3://backups/orders/");
 * await target.put(backupName(), exportStream);
 * for (const backup of await target.list()) console.log(backup.name, backup.size);
 * const body = await target.get(name); // NOT_FOUND when absent
 * ```
 */
export interface BackupTarget {
  /** Streams `body` to `name`, replacing any object of that name once the whole body is stored. */
  put(name: string, body: BackupBody, options?: PutOptions): Promise<void>;
  /** The stored bytes of `name`; NOT_FOUND when there is no such object. */
  get(name: string): Promise<Readable>;
  /** Every object under the prefix whose name is a valid backup-target name, sorted by name; paged listings are followed to the end. */
  list(): Promise<BackupObject[]>;
  /** Removes `name`; removing an absent name does nothing (so a retention pass can be retried). */
  remove(name: string): Promise<void>;
  /** The location, for logs and `stowage info`: kind, bucket or folder, prefix, endpoint; never a credential. */
  describe(): string;
  /** Releases the client's connections; the target is unusable afterwards. */
  close(): Promise<void>;
}
