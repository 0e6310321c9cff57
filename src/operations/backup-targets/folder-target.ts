import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { StowageError } from "../../api/errors.js";
import type { BackupBody, BackupObject, BackupTarget, PutOptions } from "./backup-target.js";
import { checkObjectName, isObjectName } from "./object-names.js";
import { notFound } from "./target-errors.js";

/**
 * Backups in a local folder (an absolute path; created on the first `put`). A `put` writes a hidden temporary file
 * (`.<name>.<random>.partial`, which `list` never shows), fsyncs it, renames it over the name and fsyncs the
 * folder: a crash at any point leaves either the old object or the whole new one, never a torn file. A temporary file
 * of a crashed process is left behind; it is never listed and can be removed by hand.
 */
export class FolderTarget implements BackupTarget {
  constructor(readonly folder: string) {}

  describe(): string {
    return `folder ${this.folder}`;
  }

  async put(name: string, body: BackupBody, options: PutOptions = {}): Promise<void> {
    checkObjectName(name, this.describe());
    const { signal } = options;
    signal?.throwIfAborted();
    await this.attempt("create the folder", () => mkdir(this.folder, { recursive: true }));
    const temporary = join(this.folder, `.${name}.${randomBytes(6).toString("hex")}.partial`);
    const file = await this.attempt(`create a temporary file for ${name}`, () => open(temporary, "wx"));
    try {
      try {
        // The body's own failure (or the abort) passes through as it is: it is the caller's, not the folder's.
        for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
          signal?.throwIfAborted();
          await this.attempt(`write ${name}`, () => writeAll(file, typeof chunk === "string" ? Buffer.from(chunk) : chunk));
        }
        signal?.throwIfAborted();
        await this.attempt(`sync ${name}`, () => file.sync());
      } finally {
        await file.close();
      }
      await this.attempt(`rename into ${name}`, () => rename(temporary, join(this.folder, name)));
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    await this.attempt(`sync the folder after writing ${name}`, () => syncFolder(this.folder));
  }

  async get(name: string): Promise<Readable> {
    checkObjectName(name, this.describe());
    const file = await open(join(this.folder, name), "r").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") throw notFound(name, this.describe());
      throw this.failure(`open ${name}`, error);
    });
    return file.createReadStream();
  }

  async list(): Promise<BackupObject[]> {
    const entries = await readdir(this.folder, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [];
      throw this.failure("list the folder", error);
    });
    const objects: BackupObject[] = [];
    for (const entry of entries) {
      if (!entry.isFile() || !isObjectName(entry.name)) continue;
      // A file removed between readdir and stat (a concurrent prune) is simply not listed.
      const info = await stat(join(this.folder, entry.name)).catch(() => undefined);
      if (info !== undefined) objects.push({ name: entry.name, size: info.size, modified: info.mtime });
    }
    return objects.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async remove(name: string): Promise<void> {
    checkObjectName(name, this.describe());
    await this.attempt(`remove ${name}`, () => rm(join(this.folder, name), { force: true }));
  }

  async close(): Promise<void> {
    // Nothing is held between calls.
  }

  private async attempt<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.failure(what, error);
    }
  }

  private failure(what: string, error: unknown): unknown {
    if (error instanceof StowageError || (error as Error)?.name === "AbortError") return error;
    const code = (error as NodeJS.ErrnoException)?.code;
    const kind = code === "EACCES" || code === "EPERM" ? "UNAUTHORIZED" : code === "ENOSPC" ? "LIMIT_EXCEEDED" : "BACKEND_UNAVAILABLE";
    return new StowageError(kind, `could not ${what} in the backup ${this.describe()} (${code ?? String(error)})`, { cause: error });
  }
}

/** Writes all of `bytes`: a write may take only part of the buffer. */
async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.byteLength; ) offset += (await file.write(bytes, offset)).bytesWritten;
}

/** Makes the rename durable: the folder's entry list reaches the disk too. */
async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
