import { StowageError } from "../api/errors.js";
import type { Store } from "../api/types.js";
import type { Awaitable, Engine, EngineLimits, QueuePosition, StoredKvRow, StoredLogEntry, StoredQueueRow, StoredSlotRow, StoredStreamEntry, StoredWorkRow } from "../engines/engine.js";
import type { EngineCall } from "../engines/engine-calls.js";
import { compareKeys } from "../api/key-order.js";
import type { Readable } from "node:stream";
import type { DumpHeader, DumpItem, SectionEnd, SectionStart } from "./dump-format.js";
import { dumpSource, verifyDump, type DumpSummary } from "./dump-file.js";
import { sectionName, type DumpEvent, type DumpSink } from "./dump-events.js";
import { engineOfStore, pagesOf, storeNow } from "./store-source.js";

/** Rows per restore call at most, whatever the engine allows: a commit this size costs little beside its rows. */
const MAX_BATCH_ROWS = 1_000;
/** Rows per read while finding where a resumed queue or work namespace stopped. */
const RESUME_PAGE = 1_000;

/** What a restore wrote. */
export interface RestoreProgress {
  namespaces: number;
  items: number;
  /** Bytes of keys and values written. */
  bytes: number;
}

/** Options of a restore into a store. */
export interface RestoreOptions {
  /** Called after each batch committed, with the totals so far. */
  onProgress?: (progress: RestoreProgress) => void;
  /**
   * The target may hold the first part of any namespace from an interrupted run of the same copy (whose batches went
   * in dump order): rows it holds already are skipped — KV entries and slots up to its last key, log entries up to its
   * last sequence, queue and work items up to its last in (key, id) order, stream entries up to each segment's last.
   */
  resume?: boolean;
  /** Called once each namespace's last batch committed, with the namespace's closing facts (a migration's journal). */
  onSectionDone?: (end: SectionEnd) => void | Promise<void>;
}

/** Where a resumed namespace's rows already in the target end. */
type ResumePoint =
  | { kind: "key"; last: string | undefined }
  | { kind: "seq"; lastSeq: number }
  | { kind: "queue"; last: { key: string; id: number } | undefined }
  | { kind: "segments"; lastSeqs: Map<string, number> };

/** The store's namespaces that hold anything a dump would carry ("kv:sessions", …); empty for an empty store. */
async function occupiedNamespaces(store: Store): Promise<string[]> {
  const engine = engineOfStore(store);
  const described = await engine.read({ op: "describe", args: [storeNow(store)] });
  return described.namespaces.map((info) => `${info.primitive}:${info.namespace}`);
}

/** CONFLICT unless the store is empty: a restore adds to what is there, it does not replace it. */
export async function checkEmptyTarget(store: Store): Promise<void> {
  const occupied = await occupiedNamespaces(store);
  if (occupied.length > 0) {
    const shown = occupied.slice(0, 5).join(", ") + (occupied.length > 5 ? `, … (${occupied.length} in all)` : "");
    throw new StowageError("CONFLICT", `the target store is not empty: it holds ${shown}; restore into an empty store, or allow a non-empty one`);
  }
}

/**
 * A sink that writes a dump's namespaces into a store, through the engine's restore operations, in batches that fit
 * the engine's commit limits. One batch is in flight at a time, while the source reads the next (the order of a
 * namespace's batches is what keeps sequences ascending). `finish` waits for the last batch.
 */
export class RestoreSink {
  private readonly engine: Engine;
  private readonly limits: EngineLimits;
  private section: SectionStart | undefined;
  private batch: DumpItem[] = [];
  private batchBytes = 0;
  /** The stream segment the batch holds (a stream restore is per segment). */
  private segment: { space: string; segment: string } | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private failed: unknown;
  private sectionWrote = false;
  private resumePoint: ResumePoint | undefined;
  readonly progress: RestoreProgress = { namespaces: 0, items: 0, bytes: 0 };

  constructor(
    target: Store | Engine,
    private readonly options: RestoreOptions = {},
  ) {
    this.engine = "supports" in target ? target : engineOfStore(target);
    this.limits = this.engine.supports.limits;
  }

  readonly sink: DumpSink = (event) => this.take(event);

  /** Waits for every batch to commit; rejects with the first failure. */
  async finish(): Promise<RestoreProgress> {
    await this.inFlight;
    if (this.failed !== undefined) throw this.failed;
    return this.progress;
  }

  private async take(event: DumpEvent): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    switch (event.type) {
      case "start":
        this.section = event.start;
        this.sectionWrote = false;
        this.resumePoint = this.options.resume === true ? await this.resumePointOf(event.start) : undefined;
        return;
      case "items":
        for (const item of event.items) {
          if (this.resumePoint !== undefined && (await this.heldAlready(item, this.resumePoint))) continue;
          const flushFirst = this.add(item);
          if (flushFirst !== undefined) await flushFirst;
        }
        return;
      case "end": {
        const start = this.section!;
        await this.flush();
        // A queue whose items were all acknowledged still carries its last id (a work queue too).
        if (start.begin === "queue" && !this.sectionWrote) await this.send({ op: "queueRestore", args: [start.namespace, [], start.lastId] }, 0, 0);
        if (start.begin === "work" && !this.sectionWrote) await this.send({ op: "workRestore", args: [start.namespace, [], start.lastId] }, 0, 0);
        await this.inFlight;
        if (this.failed !== undefined) throw this.failed;
        await this.options.onSectionDone?.(event.end);
        this.progress.namespaces += 1;
        this.section = undefined;
        return;
      }
      default:
        return;
    }
  }

  /** What the target holds of a namespace already, read before the first of its items is written. */
  private async resumePointOf(start: SectionStart): Promise<ResumePoint | undefined> {
    const ns = start.namespace;
    switch (start.begin) {
      case "kv": {
        // Expired entries count too: the target holds what was restored, live or not (time 0 judges all live).
        const lastKey: EngineCall<"kvScan"> = { op: "kvScan", args: [ns, { lowerInclusive: true, reverse: true, limit: 1, keysOnly: true }, 0] };
        const [last] = await this.engine.read(lastKey);
        return { kind: "key", last: last?.key };
      }
      case "slot": {
        const last = await lastPosition((after: string | null) => this.engine.read({ op: "slotDump", args: [ns, after, RESUME_PAGE] }), (row) => row.key);
        return { kind: "key", last };
      }
      case "log":
        return { kind: "seq", lastSeq: await this.engine.read({ op: "logLastSeq", args: [ns] }) };
      case "queue": {
        const last = await lastPosition((after: QueuePosition | null) => this.engine.read({ op: "queueDump", args: [ns, after, RESUME_PAGE] }), (row) => ({ key: row.key, id: row.id }));
        return { kind: "queue", last };
      }
      case "stream":
        return { kind: "segments", lastSeqs: new Map() };
      case "work": {
        const last = await lastPosition((after: QueuePosition | null) => this.engine.read({ op: "workDump", args: [ns, after, RESUME_PAGE] }), (row) => ({ key: row.key, id: row.id }));
        return { kind: "queue", last };
      }
    }
  }

  /** True for an item the target holds already (see {@link RestoreOptions.resume}). */
  private async heldAlready(item: DumpItem, point: ResumePoint): Promise<boolean> {
    switch (item.kind) {
      case "kv":
      case "slot":
        return point.kind === "key" && point.last !== undefined && compareKeys(item.row.key, point.last) <= 0;
      case "log":
        return point.kind === "seq" && item.entry.seq <= point.lastSeq;
      case "queue":
      case "work": {
        if (point.kind !== "queue" || point.last === undefined) return false;
        const order = compareKeys(item.row.key, point.last.key);
        return order < 0 || (order === 0 && item.row.id <= point.last.id);
      }
      case "stream": {
        if (point.kind !== "segments") return false;
        const id = JSON.stringify([item.space, item.segment]);
        let lastSeq = point.lastSeqs.get(id);
        if (lastSeq === undefined) {
          lastSeq = (await this.engine.read({ op: "streamStatus", args: [this.section!.namespace, item.space, item.segment] })).lastSeq;
          point.lastSeqs.set(id, lastSeq);
        }
        return item.entry.seq <= lastSeq;
      }
    }
  }

  /** Adds an item to the batch; a promise when the batch had to go first (with the item added after it went). */
  private add(item: DumpItem): Promise<void> | undefined {
    const size = itemBytes(item);
    if (size > this.limits.maxTransactionBytes) {
      const namespace = this.section!.namespace;
      throw new StowageError("LIMIT_EXCEEDED", `an item of ${sectionName(this.section!.begin, namespace)} is ${size} bytes, more than the target engine commits at once (${this.limits.maxTransactionBytes})`, { namespace });
    }
    const otherSegment = item.kind === "stream" && this.segment !== undefined && (this.segment.space !== item.space || this.segment.segment !== item.segment);
    const full = this.batch.length >= Math.min(MAX_BATCH_ROWS, this.limits.maxTransactionWrites) || this.batchBytes + size > this.limits.maxTransactionBytes;
    if (otherSegment || full) return this.flush().then(() => this.append(item, size));
    this.append(item, size);
    return undefined;
  }

  private append(item: DumpItem, size: number): void {
    if (item.kind === "stream") this.segment = { space: item.space, segment: item.segment };
    this.batch.push(item);
    this.batchBytes += size;
  }

  /** Hands the batch to the engine once the one before it committed; waits for that one only, not for this one. */
  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const call = this.restoreCall(this.batch);
    const rows = this.batch.length;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.segment = undefined;
    await this.send(call, rows, bytes);
  }

  private async send(call: EngineCall, rows: number, bytes: number): Promise<void> {
    await this.inFlight;
    if (this.failed !== undefined) throw this.failed;
    this.sectionWrote = true;
    const namespace = this.section!.namespace;
    // Never rejects (a failure is kept in `failed`): the batch is not awaited until the next one goes.
    this.inFlight = this.engine.write(call).then(
      () => {
        this.progress.items += rows;
        this.progress.bytes += bytes;
        try {
          this.options.onProgress?.(this.progress);
        } catch (error) {
          this.failed ??= error; // the caller's own error, unchanged
        }
      },
      (error: unknown) => {
        this.failed ??= error instanceof StowageError ? error : new StowageError("INTERNAL", `restoring namespace "${namespace}" failed: ${String(error)}`, { namespace, cause: error });
      },
    );
    // A turn of the event loop before the source reads on: a driver may send on a later tick (node-postgres's pool
    // does), and a source that reads synchronously (SQLite) would hold the batch back until its next page was read,
    // so that reading and writing took turns instead of overlapping.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private restoreCall(items: readonly DumpItem[]): EngineCall {
    const start = this.section!;
    const ns = start.namespace;
    switch (start.begin) {
      case "kv":
        return { op: "kvRestore", args: [ns, items.map((item) => (item as { row: StoredKvRow }).row)] };
      case "slot":
        return { op: "slotRestore", args: [ns, items.map((item) => (item as { row: StoredSlotRow }).row)] };
      case "log":
        return { op: "logRestore", args: [ns, items.map((item) => (item as { entry: StoredLogEntry }).entry)] };
      case "queue":
        return { op: "queueRestore", args: [ns, items.map((item) => (item as { row: StoredQueueRow }).row), start.lastId] };
      case "stream": {
        const first = items[0] as { space: string; segment: string };
        return { op: "streamRestore", args: [ns, first.space, first.segment, items.map((item) => (item as { entry: StoredStreamEntry }).entry)] };
      }
      case "work":
        return { op: "workRestore", args: [ns, items.map((item) => (item as { row: StoredWorkRow }).row), start.lastId] };
    }
  }
}

/** The position of a paged dump's last row (undefined: it has none), reading its pages to the end. */
async function lastPosition<R, P>(page: (after: P | null) => Awaitable<R[]>, positionOf: (row: R) => P): Promise<P | undefined> {
  let last: P | undefined;
  for await (const rows of pagesOf(page, positionOf, RESUME_PAGE)) last = positionOf(rows.at(-1)!);
  return last;
}

/** What an item adds to a commit's size: its key(s) and value, as the engine's byte limit counts them. */
function itemBytes(item: DumpItem): number {
  switch (item.kind) {
    case "kv":
    case "slot":
    case "queue":
      return Buffer.byteLength(item.row.key) + item.row.value.byteLength;
    case "work":
      // The policy, dedup key and last error are stored with the item too.
      return Buffer.byteLength(item.row.key) + item.row.value.byteLength + Buffer.byteLength(item.row.policy) + Buffer.byteLength(item.row.dedup ?? "") + Buffer.byteLength(item.row.lastError ?? "");
    case "log":
      return Buffer.byteLength(item.entry.key) + item.entry.value.byteLength;
    case "stream":
      return Buffer.byteLength(item.space) + Buffer.byteLength(item.segment) + item.entry.value.byteLength + (item.entry.headers === null ? 0 : Buffer.byteLength(item.entry.headers));
  }
}

/** What {@link restoreDump} wrote, with the dump's header (its source and snapshot time). */
export interface RestoredDump extends RestoreProgress {
  header: DumpHeader;
}

/**
 * Writes a dump into a store or an engine: a file checked whole first (checksums, closing line), so that a damaged
 * one writes nothing; a stream checked as it is read. Adds to what the target holds (the caller checks it is empty).
 */
export async function restoreDump(
  target: Store | Engine,
  source: string | Readable | AsyncIterable<Uint8Array>,
  options: RestoreOptions & { onChecked?: (summary: DumpSummary) => void } = {},
): Promise<RestoredDump> {
  if (typeof source === "string") {
    // Checked whole before the first write (not inside the optional call: `f?.(x)` skips x when f is absent).
    const checked = await verifyDump(source);
    options.onChecked?.(checked);
  }
  const restore = new RestoreSink(target, options);
  let header: DumpHeader | undefined;
  await dumpSource(source)((event) => {
    if (event.type === "header") header = event.header;
    return restore.sink(event);
  });
  return { header: header!, ...(await restore.finish()) };
}
