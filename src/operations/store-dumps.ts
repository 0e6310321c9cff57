import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { open, rename, rm } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable, Writable } from "node:stream";
import { StowageError } from "../api/errors.js";
import type { Store } from "../api/types.js";
import { readHeader, type DumpHeader, type SectionEnd } from "./dump-format.js";
import { dumpBytes, dumpSource, verifyDump, type DumpSummary } from "./dump-file.js";
import { compareFacts, compareSources, sectionFacts, type ValidationReport } from "./compare-sources.js";
import { checkEmptyTarget, RestoreSink, type RestoreProgress } from "./restore-sink.js";
import { storeNow, storeSource } from "./store-source.js";

/** Options of {@link exportStore}. */
export interface ExportOptions {
  /** The clock reading KV entries are judged live at (default: the store clock's now). */
  now?: number;
}

/**
 * Writes a dump of one consistent snapshot of `store` (see the dump format in the README): to a file (written beside
 * its final name, flushed to disk, then renamed, so the path never holds half a dump) or to a stream. Constant memory
 * for any store size. What it wrote: namespaces, items, and each namespace's count and digest.
 */
export async function exportStore(store: Store, destination: string | Writable, options: ExportOptions = {}): Promise<DumpSummary> {
  const { stream, summary } = dumpBytes(storeSource(store, options));
  if (typeof destination !== "string") {
    await pipeline(stream, destination);
    return summary;
  }
  const temporary = join(dirname(destination), `.${basename(destination)}.${randomBytes(4).toString("hex")}.partial`);
  try {
    await pipeline(stream, createWriteStream(temporary, { flags: "wx" }));
    const written = await summary;
    const file = await open(temporary, "r+");
    try {
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, destination);
    return written;
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Options of {@link importStore} and {@link migrateStore}. */
export interface ImportOptions {
  /** Adds to a store that holds data already (default: refused with CONFLICT, before any write). */
  allowNonEmpty?: boolean;
  /** Called after each batch committed, with the totals so far. */
  onProgress?: (progress: RestoreProgress) => void;
  /** Called once a dump file was checked whole, before anything is written, with what it holds. */
  onChecked?: (summary: DumpSummary) => void;
}

/** What an import or migration wrote. */
export interface ImportSummary extends RestoreProgress {
  /** The dump's header: its source and snapshot time. */
  header: DumpHeader;
}

/**
 * Writes a dump into `store`, keeping everything it carries (deadlines, sequences, versions, ids, times). A dump file
 * is read twice: first checked whole (every namespace's checksum and the closing line), so a damaged file is refused
 * CORRUPT before it writes anything; a stream is checked as it is read, so a damaged one fails CORRUPT with what came
 * before its damage written. The store must be empty unless `allowNonEmpty`.
 */
export async function importStore(store: Store, source: string | Readable | AsyncIterable<Uint8Array>, options: ImportOptions = {}): Promise<ImportSummary> {
  if (options.allowNonEmpty !== true) await checkEmptyTarget(store);
  if (typeof source === "string") options.onChecked?.(await verifyDump(source));
  const restore = new RestoreSink(store, options);
  let header: DumpHeader | undefined;
  await dumpSource(source)((event) => {
    if (event.type === "header") header = event.header;
    return restore.sink(event);
  });
  return { header: header!, ...(await restore.finish()) };
}

/** A store, or the path of a dump file, as `validate` compares them. */
export type ValidationSide = Store | string;

/**
 * Compares two stores, or a store and a dump, or two dumps, namespace by namespace: counts, digests and the first
 * difference. Both sides are read at one clock reading (a dump's snapshot time when one side is a dump), so that TTL
 * judges them alike; an entry whose deadline passed since then may have been swept on a store side.
 */
export async function validateStores(left: ValidationSide, right: ValidationSide, names = { left: "source", right: "target" }): Promise<ValidationReport> {
  const dumpSide = [left, right].find((side): side is string => typeof side === "string");
  const now = dumpSide !== undefined ? (await readDumpHeader(dumpSide)).snapshotAt : storeNow(left as Store);
  const sourceOf = (side: ValidationSide) => (typeof side === "string" ? dumpSource(side) : storeSource(side, { now }));
  return compareSources(sourceOf(left), sourceOf(right), names);
}

/** The header of a dump file, read from its first line alone. */
export async function readDumpHeader(path: string): Promise<DumpHeader> {
  const input = createReadStream(path);
  const lines = createInterface({ input: input.pipe(createGunzip()), crlfDelay: Infinity });
  try {
    for await (const line of lines) return readHeader(line);
    throw new StowageError("CORRUPT", `the dump ${path} is empty`);
  } catch (error) {
    if (error instanceof StowageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "EACCES") throw new StowageError("INVALID_ARGUMENT", `the dump cannot be opened: ${(error as Error).message}`, { cause: error });
    throw new StowageError("INCOMPATIBLE", `${path} is not a stowage dump (not gzip text)`, { cause: error });
  } finally {
    lines.close();
    input.destroy();
  }
}

/** What {@link migrateStore} did. */
export interface MigrationReport extends RestoreProgress {
  /** The source's snapshot time. */
  snapshotAt: number;
  /** The target read back and compared with the snapshot: `equal` when every namespace's count and digest match. */
  validation: ValidationReport;
}

/**
 * Copies one consistent snapshot of `source` into `target` (empty unless `allowNonEmpty`), then reads the target back
 * and compares it with the snapshot, namespace by namespace (counts and digests): `validation.equal` says the copy is
 * identical. Constant memory; one restore batch is in flight while the next is read.
 */
export async function migrateStore(source: Store, target: Store, options: ImportOptions = {}): Promise<MigrationReport> {
  if (options.allowNonEmpty !== true) await checkEmptyTarget(target);
  const now = storeNow(source);
  const restore = new RestoreSink(target, options);
  const copied: SectionEnd[] = [];
  await storeSource(source, { now })((event) => {
    if (event.type === "end") copied.push(event.end);
    return restore.sink(event);
  });
  const progress = await restore.finish();
  const validation = compareFacts(copied, await sectionFacts(storeSource(target, { now })), { left: "source snapshot", right: "target" });
  return { ...progress, snapshotAt: now, validation };
}
