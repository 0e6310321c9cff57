import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { Codec } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type {
  NameListOptions,
  ProduceOptions,
  ReadSegmentOptions,
  ReadSpaceOptions,
  SegmentStatus,
  SpacePage,
  Stream,
  StreamEntry,
  StreamCompression,
  StreamRecord,
  SpaceEntry,
  SubscribeOptions,
} from "../api/types.js";
import { compareKeys } from "../api/key-order.js";
import { compareSpaceOrder } from "../engines/stream-expectation.js";
import { ownedBytes } from "../engines/copy-bytes.js";
import { checkKeyFits, requireCapability } from "./capabilities.js";
import { checkStartNotAhead, feedContextOf, follow, type FeedRead } from "./feed.js";
import type { SpacePosition, StoredStreamEntry, StoredStreamRecord } from "../engines/engine.js";
import type { Executor } from "./executor.js";
import { HandleBase } from "./handle-base.js";
import { decodeToken, encodeToken } from "./cursor.js";
import { checkInteger, checkKey, checkOptions, checkSignal, describeType, isPossibleKey, utf8Length } from "./validate.js";

const POSITION_VERSION = 2;
/** Entries a subscription reads per segment at a time. */
const FEED_PAGE = 500;

/** Values shorter than this are never compressed: the saving could not pay for the work. */
const COMPRESS_FROM_BYTES = 64;
const DEFLATE = "deflate";

/** The store's {@link Stream} implementation, engine-independent. Compression happens here, so every engine stores the same bytes. */
export class StreamHandle<T> extends HandleBase<T> implements Stream<T> {
  constructor(
    exec: Executor,
    namespace: string,
    codec: Codec<T> | undefined,
    private readonly compression: StreamCompression,
  ) {
    super(exec, namespace, codec);
  }

  async produce(space: string, segment: string, records: ReadonlyArray<StreamRecord<T>>, options?: ProduceOptions): Promise<SegmentStatus> {
    checkKeyFits(this.sizes, this.namespace, typeof space === "string" ? space : "", "space");
    const ns = this.namespace;
    checkKey(ns, space, "space");
    checkKey(ns, segment, "segment");
    const opts = checkOptions(ns, "produce options", options, ["expectedSeq"]);
    const expectedSeq = opts.expectedSeq === undefined ? null : checkInteger(ns, "expectedSeq", opts.expectedSeq, 0, Number.MAX_SAFE_INTEGER, segment);
    if (!Array.isArray(records) || records.length === 0) {
      throw new StowageError("INVALID_ARGUMENT", `records must be a non-empty array, got ${describeType(records)}`, { namespace: ns, key: segment });
    }
    if (records.length > LIMITS.maxTransactionWrites) {
      throw new StowageError("LIMIT_EXCEEDED", `${records.length} records in one produce; the limit is ${LIMITS.maxTransactionWrites}`, { namespace: ns, key: segment });
    }
    let bytes = utf8Length(space) + utf8Length(segment);
    const encoded = records.map((record, i) => {
      const fields = checkOptions(ns, `records[${i}]`, record, ["value", "headers"]);
      const headers = encodeHeaders(ns, segment, i, fields.headers);
      const value = this.codec.encode(segment, fields.value as T);
      bytes += value.byteLength + (headers === null ? 0 : utf8Length(headers));
      return { value, headers };
    });
    // Counted before compression, as the value limit is: what one produce admits, one read hands back inflated.
    if (bytes > LIMITS.maxTransactionBytes) {
      throw new StowageError("LIMIT_EXCEEDED", `one produce writes ${bytes} bytes before compression; the limit is ${LIMITS.maxTransactionBytes}`, { namespace: ns, key: segment });
    }
    const stored = encoded.map(({ value, headers }) => this.compress(value, headers));
    const now = this.exec.now();
    // Every record is a row: a transaction's write limit counts them all.
    return this.exec.write({ op: "streamProduce", args: [ns, space, segment, stored, now, expectedSeq] }, bytes, stored.length);
  }

  async readSegment(space: string, segment: string, options?: ReadSegmentOptions): Promise<StreamEntry<T>[]> {
    const ns = this.namespace;
    checkKey(ns, space, "space");
    checkKey(ns, segment, "segment");
    const opts = checkOptions(ns, "readSegment options", options, ["fromSeq", "toSeq", "limit"]);
    const fromSeq = opts.fromSeq === undefined ? 1 : checkInteger(ns, "fromSeq", opts.fromSeq, 1, Number.MAX_SAFE_INTEGER, segment);
    const toSeq = opts.toSeq === undefined ? Number.MAX_SAFE_INTEGER : checkInteger(ns, "toSeq", opts.toSeq, 0, Number.MAX_SAFE_INTEGER, segment);
    const limit = this.limitOf(opts.limit, segment);
    const rows = await this.exec.read({ op: "streamRead", args: [ns, space, segment, fromSeq, toSeq, limit] });
    return rows.map((row) => this.entryOf(segment, row));
  }

  async readSpace(space: string, options?: ReadSpaceOptions): Promise<SpacePage<T>> {
    const ns = this.namespace;
    checkKey(ns, space, "space");
    const opts = checkOptions(ns, "readSpace options", options, ["fromTimestamp", "after", "limit"]);
    const fromTimestamp = opts.fromTimestamp === undefined ? 0 : checkInteger(ns, "fromTimestamp", opts.fromTimestamp, 0, Number.MAX_SAFE_INTEGER, space);
    const after = opts.after === undefined ? null : decodePosition(ns, space, opts.after);
    const limit = this.limitOf(opts.limit, space);
    const rows = await this.exec.read({ op: "streamReadSpace", args: [ns, space, fromTimestamp, after, limit] });
    const entries = rows.map((row) => ({ ...this.entryOf(row.segment, row), segment: row.segment }));
    const last = rows.at(-1);
    const position = last !== undefined ? encodePosition(ns, space, last) : opts.after === undefined ? undefined : (opts.after as string);
    return position === undefined ? { entries } : { entries, position };
  }

  async peek(space: string, segment: string): Promise<StreamEntry<T> | undefined> {
    const ns = this.namespace;
    checkKey(ns, space, "space");
    checkKey(ns, segment, "segment");
    const row = await this.exec.read({ op: "streamPeek", args: [ns, space, segment] });
    return row === undefined ? undefined : this.entryOf(segment, row);
  }

  async spaces(options?: NameListOptions): Promise<string[]> {
    const ns = this.namespace;
    const opts = checkOptions(ns, "spaces options", options, ["after", "limit"]);
    const after = opts.after === undefined ? null : checkKey(ns, opts.after, "after");
    const limit = this.limitOf(opts.limit);
    return this.exec.read({ op: "streamSpaces", args: [ns, after, limit] });
  }

  async segments(space: string, options?: NameListOptions): Promise<string[]> {
    const ns = this.namespace;
    checkKey(ns, space, "space");
    const opts = checkOptions(ns, "segments options", options, ["after", "limit"]);
    const after = opts.after === undefined ? null : checkKey(ns, opts.after, "after");
    const limit = this.limitOf(opts.limit, space);
    return this.exec.read({ op: "streamSegments", args: [ns, space, after, limit] });
  }

  async status(space: string, segment: string): Promise<SegmentStatus> {
    const ns = this.namespace;
    checkKey(ns, space, "space");
    checkKey(ns, segment, "segment");
    return this.exec.read({ op: "streamStatus", args: [ns, space, segment] });
  }

  subscribe(space: string, options?: SubscribeOptions): AsyncIterable<SpaceEntry<T>>;
  subscribe(space: string, segment: string, options?: SubscribeOptions): AsyncIterable<StreamEntry<T>>;
  subscribe(space: string, second?: string | SubscribeOptions, third?: SubscribeOptions): AsyncIterable<StreamEntry<T> | SpaceEntry<T>> {
    requireCapability(this.exec.engine, "liveFeeds", this.namespace);
    const ns = this.namespace;
    checkKey(ns, space, "space");
    const segment = typeof second === "string" ? checkKey(ns, second, "segment") : undefined;
    const opts = checkOptions(ns, "subscribe options", typeof second === "string" ? third : second, ["from", "signal"]);
    const signal = checkSignal(ns, opts.signal);
    const from = checkFrom(ns, space, segment, opts.from);
    const feeds = feedContextOf(this.exec.feeds, ns, space);
    return {
      [Symbol.asyncIterator]: () =>
        segment === undefined ? follow(feeds, signal, this.spaceReader(space, from)) : follow(feeds, signal, this.segmentReader(space, segment, from as number | "start" | "end")),
    };
  }

  /** Reads one segment after its position; the position starts at `from` when iteration begins. */
  private segmentReader(space: string, segment: string, from: number | "start" | "end"): () => Promise<FeedRead<StreamEntry<T>>> {
    const ns = this.namespace;
    let position: number | undefined;
    return async () => {
      if (position === undefined) {
        const { lastSeq } = await this.exec.read({ op: "streamStatus", args: [ns, space, segment] });
        if (typeof from === "number") checkStartNotAhead(from, lastSeq, "from", ns, segment);
        position = from === "start" ? 0 : from === "end" ? lastSeq : from;
      }
      const after = position;
      const rows = await this.exec.read({ op: "streamRead", args: [ns, space, segment, after + 1, Number.MAX_SAFE_INTEGER, FEED_PAGE] });
      if (rows.length > 0) position = (rows[rows.length - 1] as StoredStreamEntry).seq;
      return { items: rows.map((row) => this.entryOf(segment, row)), more: rows.length === FEED_PAGE };
    };
  }

  /**
   * Reads every segment of a space after its own position: a position per segment, not one across the space, since
   * an entry may commit after another with a later timestamp (clocks of several processes), and one position in
   * timestamp order would then skip it.
   */
  private spaceReader(space: string, from: SubscribeOptions["from"]): () => Promise<FeedRead<SpaceEntry<T>>> {
    const ns = this.namespace;
    let positions: Map<string, number> | undefined;
    return async () => {
      const lastSeqs = await this.exec.read({ op: "streamLastSeqs", args: [ns, space] });
      if (positions === undefined) {
        if (from === "end") {
          positions = new Map(lastSeqs.map((s) => [s.segment, s.lastSeq]));
          return { items: [], more: false };
        }
        positions = new Map(from === "start" ? [] : Object.entries(from as Record<string, number>));
        const last = new Map(lastSeqs.map((s) => [s.segment, s.lastSeq]));
        for (const [segment, seq] of positions) checkStartNotAhead(seq, last.get(segment) ?? 0, `from[${JSON.stringify(segment)}]`, ns, space);
      }
      const known = positions;
      const items: SpaceEntry<T>[] = [];
      let more = false;
      for (const { segment, lastSeq } of lastSeqs) {
        const after = known.get(segment) ?? 0;
        if (lastSeq <= after) continue;
        const rows = await this.exec.read({ op: "streamRead", args: [ns, space, segment, after + 1, Number.MAX_SAFE_INTEGER, FEED_PAGE] });
        if (rows.length === FEED_PAGE) more = true;
        if (rows.length > 0) known.set(segment, (rows[rows.length - 1] as StoredStreamEntry).seq);
        for (const row of rows) items.push({ ...this.entryOf(segment, row), segment });
      }
      items.sort((a, b) => compareSpaceOrder(a, b, compareKeys));
      return { items, more };
    };
  }

  private limitOf(limit: unknown, key?: string): number {
    return limit === undefined ? LIMITS.defaultPageSize : checkInteger(this.namespace, "limit", limit, 1, LIMITS.maxPageSize, key);
  }

  /** The record as stored: compressed only when asked to and when that makes it smaller. */
  private compress(value: Uint8Array, headers: string | null): StoredStreamRecord {
    if (this.compression === DEFLATE && value.byteLength >= COMPRESS_FROM_BYTES) {
      const packed = deflateRawSync(value);
      if (packed.byteLength < value.byteLength) return { value: new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength), headers, compression: DEFLATE };
    }
    return { value, headers, compression: null };
  }

  /** The stored bytes as produced, by the entry's own record of its compression. */
  private decompress(segment: string, row: StoredStreamEntry): Uint8Array {
    if (row.compression === null) return row.value;
    if (row.compression !== DEFLATE) {
      throw new StowageError("CORRUPT", `entry ${row.seq} is stored with compression ${JSON.stringify(row.compression)}, which this stowage does not know`, { namespace: this.namespace, key: segment });
    }
    try {
      // Capped: a damaged or foreign entry must not inflate without bound.
      const plain = inflateRawSync(row.value, { maxOutputLength: LIMITS.maxValueBytes });
      // zlib hands out views on its 16 KiB chunks; the caller gets an array of its own, of the value's size.
      return ownedBytes(plain);
    } catch (cause) {
      throw new StowageError("CORRUPT", `entry ${row.seq} does not inflate`, { namespace: this.namespace, key: segment, cause });
    }
  }

  private entryOf(segment: string, row: StoredStreamEntry): StreamEntry<T> {
    const entry: StreamEntry<T> = { seq: row.seq, timestamp: row.timestamp, value: this.codec.decode(segment, this.decompress(segment, row)) };
    if (row.headers !== null) entry.headers = decodeHeaders(this.namespace, segment, row.headers);
    return entry;
  }
}

/** A subscription's start, checked: a sequence or "start"/"end" for a segment; "start", "end" or a map for a space. */
function checkFrom(ns: string, space: string, segment: string | undefined, from: unknown): SubscribeOptions["from"] {
  if (from === undefined) return "end";
  if (from === "start" || from === "end") return from;
  if (segment !== undefined) return checkInteger(ns, "from", from, 0, Number.MAX_SAFE_INTEGER, segment);
  if (typeof from !== "object" || from === null || Array.isArray(from)) {
    throw new StowageError("INVALID_ARGUMENT", `from must be "start", "end" or { [segment]: seq } for a space, got ${describeType(from)}`, { namespace: ns, key: space });
  }
  for (const [name, seq] of Object.entries(from)) {
    checkKey(ns, name, "segment");
    checkInteger(ns, `from[${JSON.stringify(name)}]`, seq, 0, Number.MAX_SAFE_INTEGER, space);
  }
  return from as Record<string, number>;
}

/** Headers as stored: canonical JSON of a plain object of strings, or null when there are none. */
function encodeHeaders(ns: string, segment: string, index: number, headers: unknown): string | null {
  if (headers === undefined) return null;
  const bad = (why: string) => new StowageError("INVALID_ARGUMENT", `records[${index}].headers ${why}`, { namespace: ns, key: segment });
  if (typeof headers !== "object" || headers === null || Array.isArray(headers) || Object.getPrototypeOf(headers) !== Object.prototype) {
    throw bad(`must be a plain object of strings, got ${describeType(headers)}`);
  }
  const entries = Object.entries(headers);
  for (const [name, value] of entries) {
    if (name.length === 0 || !name.isWellFormed() || name.includes("\u0000")) throw bad(`has a name that is empty, not valid Unicode or holds U+0000`);
    if (typeof value !== "string" || !value.isWellFormed()) throw bad(`"${name}" must be a valid Unicode string, got ${describeType(value)}`);
  }
  const text = JSON.stringify(Object.fromEntries(entries));
  if (utf8Length(text) > LIMITS.maxHeaderBytes) {
    throw new StowageError("LIMIT_EXCEEDED", `records[${index}].headers are ${utf8Length(text)} bytes as JSON; the limit is ${LIMITS.maxHeaderBytes}`, { namespace: ns, key: segment });
  }
  return text;
}

function decodeHeaders(ns: string, segment: string, text: string): Record<string, string> {
  try {
    return JSON.parse(text) as Record<string, string>;
  } catch (cause) {
    throw new StowageError("CORRUPT", "stored headers are not JSON", { namespace: ns, key: segment, cause });
  }
}

/**
 * A readSpace position, opaque to callers: the namespace and space it belongs to, then the last entry's (timestamp,
 * segment, seq). A position orders entries of any space alike, so only the names it carries tell that it was passed to
 * the wrong space (where it would silently skip or repeat entries).
 */
function encodePosition(ns: string, space: string, position: SpacePosition): string {
  return encodeToken([POSITION_VERSION, ns, space, position.timestamp, position.segment, position.seq]);
}

function decodePosition(ns: string, space: string, text: unknown): SpacePosition {
  const invalid = (why: string) =>
    new StowageError("INVALID_ARGUMENT", `after is not a position of this readSpace: ${why}; pass the position of a previous page of the same space unchanged`, { namespace: ns, key: space });
  const parsed = decodeToken(text);
  // Version 1 positions (before 2) carry no names, so they cannot be checked: refused rather than trusted.
  if (parsed === undefined || parsed.length !== 6 || parsed[0] !== POSITION_VERSION) throw invalid("it does not decode");
  const [, ofNs, ofSpace, timestamp, segment, seq] = parsed;
  if (ofNs !== ns || ofSpace !== space) {
    throw invalid(`it belongs to space ${JSON.stringify(ofSpace)} of namespace ${JSON.stringify(ofNs)}`);
  }
  if (!Number.isSafeInteger(timestamp) || !Number.isSafeInteger(seq) || !isPossibleKey(segment)) throw invalid("it does not decode");
  return { timestamp: timestamp as number, segment, seq: seq as number };
}
