import { pipeline } from "node:stream/promises";
import type { Readable, Writable } from "node:stream";
import type { Store } from "../api/types.js";
import type { DumpHeader, SectionEnd } from "./dump-format.js";
import { dumpBytes, dumpSource, readDumpHeader, writeDumpFile, type DumpSummary } from "./dump-file.js";
import { compareFacts, compareSources, type ValidationReport } from "./compare-sources.js";
import { checkEmptyTarget, restoreDump, RestoreSink, type RestoreProgress } from "./restore-sink.js";
import { engineOfStore, storeNow, storeSource } from "./store-source.js";
import { MigrationJournal } from "./migration-journal.js";
import { TargetReadBack } from "./target-read-back.js";

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
  const source = storeSource(store, options);
  if (typeof destination === "string") return writeDumpFile(source, destination);
  const { stream, summary } = dumpBytes(source);
  await pipeline(stream, destination);
  return summary;
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
  return restoreDump(store, source, options);
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

/** What {@link migrateStore} did. */
export interface MigrationReport extends RestoreProgress {
  /** The source's snapshot time (of this run, when it resumed an interrupted one). */
  snapshotAt: number;
  /** Namespaces an interrupted run had copied whole, skipped by this one. */
  resumedAfter: number;
  /** The target read back and compared with what was copied: `equal` when every namespace's count and digest match. */
  validation: ValidationReport;
}

/** Options of {@link migrateStore}. */
export interface MigrateOptions extends ImportOptions {
  /**
   * A journal file that makes the migration resumable: it records each namespace copied whole, and a later run with
   * the same journal (same source and target) skips those and resumes the namespace the interrupted one was in. Removed
   * once the copy validated. Without it, an interrupted migration starts over into an emptied target.
   */
  journal?: string;
}

/**
 * Copies one consistent snapshot of `source` into `target` (empty unless `allowNonEmpty`, or resuming with a
 * journal), and reads the target back and compares it with what was copied, namespace by namespace (counts and
 * digests): `validation.equal` says the copy is identical. Each namespace is read back while the next one copies, and
 * checked unchanged at the end (see {@link TargetReadBack}). Constant memory; one restore batch is in flight while the
 * next is read. A resumed run reads a new snapshot for the namespaces still to copy: when the source is not written
 * meanwhile (a service stopped for its move), the result is the same as one uninterrupted run.
 */
export async function migrateStore(source: Store, target: Store, options: MigrateOptions = {}): Promise<MigrationReport> {
  const journal = options.journal === undefined ? undefined : await MigrationJournal.open(options.journal, engineOfStore(source).location, engineOfStore(target).location);
  const resuming = journal?.resuming === true;
  if (options.allowNonEmpty !== true && !resuming) await checkEmptyTarget(target);
  await journal?.begin();
  const now = storeNow(source);
  const copied: SectionEnd[] = [...(journal?.completed ?? [])];
  const skip = new Set(copied.map((end) => `${end.end}:${end.namespace}`));
  const readBack = new TargetReadBack(engineOfStore(target), now);
  const restore = new RestoreSink(target, {
    ...options,
    resume: resuming,
    onSectionDone: async (end) => {
      copied.push(end);
      await journal?.record(end);
      readBack.add({ primitive: end.end, namespace: end.namespace });
    },
  });
  let progress: RestoreProgress;
  try {
    await storeSource(source, { now, skip })(restore.sink);
    progress = await restore.finish();
  } catch (error) {
    await readBack.stop();
    throw error;
  }
  const validation = compareFacts(copied, await readBack.finish(), { left: "source snapshot", right: "target" });
  if (validation.equal) await journal?.remove();
  return { ...progress, snapshotAt: now, resumedAfter: skip.size, validation };
}
