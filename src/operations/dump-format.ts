import { StowageError } from "../api/errors.js";
import type { StoredKvRow, StoredLogEntry, StoredQueueRow, StoredSlotRow, StoredStreamEntry, StoredWorkRow } from "../engines/engine.js";

/*
 * The dump format, version 2: gzip-compressed UTF-8 text, one JSON object per line.
 *
 *   {"stowage":"dump","version":2,"createdAt":…,"snapshotAt":…,"source":{"engine":"sqlite","location":"…"}}
 *   {"begin":"kv","namespace":"sessions"}
 *   {"k":"user/1","v":"<base64>","x":1767225600000}          one line per item (x: deadline or null)
 *   {"end":"kv","namespace":"sessions","count":1,"sha256":"…"}
 *   {"begin":"log","namespace":"events","lastSeq":3}           {"s":1,"k":…,"v":…,"t":timestamp}
 *   {"begin":"slot","namespace":"leases"}                      {"k":…,"n":version,"v":…}
 *   {"begin":"queue","namespace":"jobs","lastId":9}            {"k":…,"i":id,"v":…,"t":pushedAt}
 *   {"begin":"stream","namespace":"orders"}                    {"sp":space,"sg":segment,"s":seq,"t":…,"v":…,"h":headers?,"c":compression?}
 *   {"begin":"work","namespace":"tasks","lastId":7}            {"k":…,"i":id,"v":…,"t":pushedAt,"p":priority,"x":visibleAt,
 *                                                               "a":attempts,"m":maxAttempts,"r":policy,"l":token|null,
 *                                                               "d":dedup|null,"e":lastError|null,"z":deadAt|null,"dead":bool}
 *   {"end":"dump","namespaces":6,"items":42}
 *
 * A namespace's `sha256` is the SHA-256 of its `begin` line and item lines, each followed by "\n", exactly as
 * written: a reader verifies each namespace as it ends, and `validate` compares stores by the same digests. The
 * closing line proves the dump complete. Items come in key order (KV, slot), sequence order (log), (key, id) order
 * (queue, work: every item, dead and leased ones too, with its lease's token and deadline), and space, segment,
 * sequence order (stream).
 *
 * Version 2 added the work section and nothing else, so a dump without work queues is written as version 1, which
 * stowage before work queues reads ({@link dumpVersionFor}).
 */

/** The dump format's version this code writes when a dump holds work queues, and the newest it reads. */
export const DUMP_VERSION = 2;

/** The version a dump is written as: the oldest that can carry its sections (1 unless a work section follows). */
export function dumpVersionFor(primitives: Iterable<DumpPrimitive>): number {
  for (const primitive of primitives) if (primitive === "work") return 2;
  return 1;
}

export type DumpPrimitive = "kv" | "log" | "slot" | "queue" | "stream" | "work";

/** The first line: what the dump is and where it came from. */
export interface DumpHeader {
  stowage: "dump";
  version: number;
  /** When the dump was written, ms since the epoch. */
  createdAt: number;
  /** The store clock's reading the snapshot was read at: KV entries live then are in it. */
  snapshotAt: number;
  source: { engine: string; location: string };
}

/** A namespace's opening line, with the counters a move must keep beyond its items. */
export type SectionStart =
  | { begin: "kv" | "slot" | "stream"; namespace: string }
  | { begin: "log"; namespace: string; lastSeq: number }
  | { begin: "queue" | "work"; namespace: string; lastId: number };

/** One stored item of a namespace. */
export type DumpItem =
  | { kind: "kv"; row: StoredKvRow }
  | { kind: "log"; entry: StoredLogEntry }
  | { kind: "slot"; row: StoredSlotRow }
  | { kind: "queue"; row: StoredQueueRow }
  | { kind: "stream"; space: string; segment: string; entry: StoredStreamEntry }
  | { kind: "work"; row: StoredWorkRow };

/** A namespace's closing line. */
export interface SectionEnd {
  end: DumpPrimitive;
  namespace: string;
  count: number;
  sha256: string;
}

/** The last line. */
export interface DumpTrailer {
  end: "dump";
  namespaces: number;
  items: number;
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
/** A number as JSON.stringify writes it (the same digits; null for NaN and the infinities). */
const jsonNumber = (value: number): string => (Number.isFinite(value) ? String(value) : "null");

/**
 * An item's line (without the newline): the same bytes for the same item, always, so that digests compare. The lines
 * of the fixed-shape row kinds are put together by hand, in JSON.stringify's field order and spelling (keys through
 * JSON.stringify, base64 needs no escapes): a dump or a validation writes one per item, and the object and its
 * generic serialisation cost more than the rest of the line.
 */
export function itemLine(item: DumpItem): string {
  switch (item.kind) {
    case "kv": {
      const { row } = item;
      return `{"k":${JSON.stringify(row.key)},"v":"${base64(row.value)}","x":${row.expiresAt === null ? "null" : jsonNumber(row.expiresAt)}}`;
    }
    case "log": {
      const { entry } = item;
      return `{"s":${jsonNumber(entry.seq)},"k":${JSON.stringify(entry.key)},"v":"${base64(entry.value)}","t":${jsonNumber(entry.timestamp)}}`;
    }
    case "slot":
      return `{"k":${JSON.stringify(item.row.key)},"n":${jsonNumber(item.row.version)},"v":"${base64(item.row.value)}"}`;
    case "queue": {
      const { row } = item;
      return `{"k":${JSON.stringify(row.key)},"i":${jsonNumber(row.id)},"v":"${base64(row.value)}","t":${jsonNumber(row.pushedAt)}}`;
    }
    case "stream": {
      const { entry } = item;
      const line: Record<string, unknown> = { sp: item.space, sg: item.segment, s: entry.seq, t: entry.timestamp, v: base64(entry.value) };
      if (entry.headers !== null) line.h = entry.headers;
      if (entry.compression !== null) line.c = entry.compression;
      return JSON.stringify(line);
    }
    case "work":
      return workLine(item.row);
  }
}

const nullableNumber = (value: number | null): string => (value === null ? "null" : jsonNumber(value));
const nullableText = (value: string | null): string => (value === null ? "null" : JSON.stringify(value));

function workLine(row: StoredWorkRow): string {
  return (
    `{"k":${JSON.stringify(row.key)},"i":${jsonNumber(row.id)},"v":"${base64(row.value)}","t":${jsonNumber(row.pushedAt)},"p":${jsonNumber(row.priority)},` +
    `"x":${jsonNumber(row.visibleAt)},"a":${jsonNumber(row.attempts)},"m":${jsonNumber(row.maxAttempts)},"r":${JSON.stringify(row.policy)},` +
    `"l":${nullableNumber(row.token)},"d":${nullableText(row.dedup)},"e":${nullableText(row.lastError)},"z":${nullableNumber(row.deadAt)},"dead":${row.dead}}`
  );
}

/** A section's opening line. */
export function startLine(start: SectionStart): string {
  return JSON.stringify(start);
}

/** Where a line that cannot be read sits, for CORRUPT messages. */
export interface LinePlace {
  line: number;
  namespace?: string;
}

function corrupt(place: LinePlace, why: string): StowageError {
  const where = place.namespace === undefined ? `line ${place.line}` : `line ${place.line} (namespace "${place.namespace}")`;
  return new StowageError("CORRUPT", `the dump cannot be read at ${where}: ${why}`, place.namespace === undefined ? {} : { namespace: place.namespace });
}

function parse(text: string, place: LinePlace): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corrupt(place, "not a JSON line");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw corrupt(place, "not a JSON object");
  return parsed as Record<string, unknown>;
}

const isCount = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;

function field<T>(line: Record<string, unknown>, name: string, valid: (value: unknown) => value is T, place: LinePlace, what: string): T {
  const value = line[name];
  if (!valid(value)) throw corrupt(place, `"${name}" is not ${what}`);
  return value;
}

const isString = (value: unknown): value is string => typeof value === "string";
const isInteger = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value);
const isBoolean = (value: unknown): value is boolean => typeof value === "boolean";
const isNullableString = (value: unknown): value is string | null => value === null || typeof value === "string";
const isBase64 = (value: unknown): value is string => typeof value === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(value);
const isDeadline = (value: unknown): value is number | null => value === null || isCount(value);
const isOptionalString = (value: unknown): value is string | undefined => value === undefined || typeof value === "string";
const bytesOf = (text: string): Uint8Array => {
  const buffer = Buffer.from(text, "base64");
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
};

/** Reads the header line; INCOMPATIBLE for another program's file or a newer format. */
export function readHeader(text: string): DumpHeader {
  const place = { line: 1 };
  let line: Record<string, unknown>;
  try {
    line = parse(text, place);
  } catch {
    throw new StowageError("INCOMPATIBLE", "not a stowage dump: its first line is not a stowage dump header");
  }
  if (line.stowage !== "dump") throw new StowageError("INCOMPATIBLE", "not a stowage dump: its first line is not a stowage dump header");
  const version = line.version;
  if (!isCount(version) || version > DUMP_VERSION) {
    throw new StowageError("INCOMPATIBLE", `the dump has format version ${String(version)}; this stowage reads versions up to ${DUMP_VERSION}`);
  }
  const source = line.source as Record<string, unknown> | undefined;
  return {
    stowage: "dump",
    version,
    createdAt: field(line, "createdAt", isCount, place, "a time"),
    snapshotAt: field(line, "snapshotAt", isCount, place, "a time"),
    source: {
      engine: typeof source?.engine === "string" ? source.engine : "unknown",
      location: typeof source?.location === "string" ? source.location : "unknown",
    },
  };
}

/** What a line after the header is. */
export type DumpLine =
  | { type: "start"; start: SectionStart }
  | { type: "item"; item: DumpItem }
  | { type: "end"; end: SectionEnd }
  | { type: "trailer"; trailer: DumpTrailer };

/** Reads a line inside or between sections; `section` is the primitive of the open section (undefined: none open). */
export function readLine(text: string, section: DumpPrimitive | undefined, place: LinePlace): DumpLine {
  const line = parse(text, place);
  if (section !== undefined && line.begin === undefined && line.end === undefined) return { type: "item", item: readItem(line, section, place) };
  if (typeof line.begin === "string") {
    if (section !== undefined) throw corrupt(place, `a namespace begins before the one open ends`);
    const namespace = field(line, "namespace", isString, place, "a namespace");
    switch (line.begin) {
      case "kv":
      case "slot":
      case "stream":
        return { type: "start", start: { begin: line.begin, namespace } };
      case "log":
        return { type: "start", start: { begin: "log", namespace, lastSeq: field(line, "lastSeq", isCount, place, "a sequence") } };
      case "queue":
      case "work":
        return { type: "start", start: { begin: line.begin, namespace, lastId: field(line, "lastId", isCount, place, "an id") } };
      default:
        throw corrupt(place, `unknown primitive ${JSON.stringify(line.begin)}`);
    }
  }
  if (line.end === "dump") {
    if (section !== undefined) throw corrupt(place, "the dump ends inside a namespace");
    return { type: "trailer", trailer: { end: "dump", namespaces: field(line, "namespaces", isCount, place, "a count"), items: field(line, "items", isCount, place, "a count") } };
  }
  if (typeof line.end === "string") {
    if (line.end !== section) throw corrupt(place, `a ${String(line.end)} section ends where none is open`);
    return {
      type: "end",
      end: {
        end: section,
        namespace: field(line, "namespace", isString, place, "a namespace"),
        count: field(line, "count", isCount, place, "a count"),
        sha256: field(line, "sha256", isString, place, "a digest"),
      },
    };
  }
  throw corrupt(place, "an item outside any namespace");
}

function readItem(line: Record<string, unknown>, section: DumpPrimitive, place: LinePlace): DumpItem {
  const value = bytesOf(field(line, "v", isBase64, place, "base64 bytes"));
  switch (section) {
    case "kv":
      return { kind: "kv", row: { key: field(line, "k", isString, place, "a key"), value, expiresAt: field(line, "x", isDeadline, place, "a deadline or null") } };
    case "log":
      return {
        kind: "log",
        entry: { seq: field(line, "s", isCount, place, "a sequence"), key: field(line, "k", isString, place, "a key"), value, timestamp: field(line, "t", isCount, place, "a time") },
      };
    case "slot":
      return { kind: "slot", row: { key: field(line, "k", isString, place, "a key"), version: field(line, "n", isCount, place, "a version"), value } };
    case "queue":
      return {
        kind: "queue",
        row: { key: field(line, "k", isString, place, "a key"), id: field(line, "i", isCount, place, "an id"), value, pushedAt: field(line, "t", isCount, place, "a time") },
      };
    case "stream":
      return {
        kind: "stream",
        space: field(line, "sp", isString, place, "a space"),
        segment: field(line, "sg", isString, place, "a segment"),
        entry: {
          seq: field(line, "s", isCount, place, "a sequence"),
          timestamp: field(line, "t", isCount, place, "a time"),
          value,
          headers: field(line, "h", isOptionalString, place, "headers") ?? null,
          compression: field(line, "c", isOptionalString, place, "a compression") ?? null,
        },
      };
    case "work":
      return { kind: "work", row: readWorkRow(line, value, place) };
  }
}

function readWorkRow(line: Record<string, unknown>, value: Uint8Array, place: LinePlace): StoredWorkRow {
  const row: StoredWorkRow = {
    key: field(line, "k", isString, place, "a key"),
    id: field(line, "i", isCount, place, "an id"),
    value,
    pushedAt: field(line, "t", isCount, place, "a time"),
    priority: field(line, "p", isInteger, place, "a priority"),
    visibleAt: field(line, "x", isCount, place, "a time"),
    attempts: field(line, "a", isCount, place, "a count"),
    maxAttempts: field(line, "m", isCount, place, "a count"),
    policy: field(line, "r", isString, place, "a retry policy"),
    token: field(line, "l", isDeadline, place, "a token or null"),
    dedup: field(line, "d", isNullableString, place, "a dedup key or null"),
    dead: field(line, "dead", isBoolean, place, "true or false"),
    lastError: field(line, "e", isNullableString, place, "an error or null"),
    deadAt: field(line, "z", isDeadline, place, "a time or null"),
  };
  // The engines hold these together (a token only on a live item, a death time only on a dead one): a line that breaks them is damage.
  if (row.dead ? row.deadAt === null || row.token !== null : row.deadAt !== null) throw corrupt(place, "a work item's state does not hold together");
  return row;
}
