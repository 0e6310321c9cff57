import type { StoredStreamEntry, StoredStreamRecord } from "../engine.js";
import { copyBytes, ownedBytes } from "../copy-bytes.js";
import { asBuffer } from "./key-layout.js";

/*
 * The values of the layout's records (see key-layout.ts). Numbers are 8-byte doubles (exact for every integer stowage
 * stores); lengths are 4-byte integers. Decoders copy the bytes a caller gets, as snapshot values may be views the
 * engine reuses.
 */

const NO_TEXT = 0xffff_ffff;

/** Numbers as consecutive 8-byte doubles (counters, states). */
export function numbersRecord(...numbers: number[]): Buffer {
  const out = Buffer.allocUnsafe(numbers.length * 8);
  numbers.forEach((n, i) => out.writeDoubleBE(n, i * 8));
  return out;
}

/** The `index`-th number of a {@link numbersRecord} (0 when the record is absent). */
export function numberAt(record: Uint8Array | undefined, index: number): number {
  return record === undefined ? 0 : asBuffer(record).readDoubleBE(index * 8);
}

/** Numbers followed by bytes (a slot's version and value, a queue item's push time and value). */
export function numbersThenBytes(numbers: readonly number[], bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(numbers.length * 8 + bytes.length);
  numbers.forEach((n, i) => out.writeDoubleBE(n, i * 8));
  out.set(bytes, numbers.length * 8);
  return out;
}

/** A copy of the bytes after `count` leading numbers. */
export function bytesAfterNumbers(record: Uint8Array, count: number): Uint8Array {
  return copyBytes(record.subarray(count * 8));
}

/** The first byte of a KV entry record that is not bare: no deadline follows, or an 8-byte deadline does. */
const KV_NO_DEADLINE = 0;
const KV_DEADLINE = 1;

/**
 * Whether a value without deadline is stored bare, as the record itself: when its first byte is neither flag, which
 * tells it apart from a flagged record (an empty value, or one starting with 0x00 or 0x01, takes the flag). Text and
 * JSON never start with those bytes. A bare record read from a store that hands out fresh bytes (LevelDB's get copies
 * each value out) becomes the caller's value as it is: no second buffer per get (see {@link kvFreshValue}).
 */
const storedBare = (value: Uint8Array): boolean => value.length > 0 && (value[0] as number) > KV_DEADLINE;

/**
 * A KV entry: the value bare (see {@link storedBare}), or a flag, the deadline when there is one, and the value. A
 * bare record is the value itself, not a copy: the store hands engines values that stay unchanged until their write
 * resolves (it copies those a caller could reuse: `CodecGuard.encode`), and an ordered store copies what it commits.
 */
export function kvRecord(value: Uint8Array, expiresAt: number | null): Uint8Array {
  if (expiresAt === null && storedBare(value)) return value;
  const head = expiresAt === null ? 1 : 9;
  const out = Buffer.allocUnsafe(head + value.length);
  out[0] = expiresAt === null ? KV_NO_DEADLINE : KV_DEADLINE;
  if (expiresAt !== null) out.writeDoubleBE(expiresAt, 1);
  out.set(value, head);
  return out;
}

export function kvDeadline(record: Uint8Array): number | null {
  return record[0] === KV_DEADLINE ? asBuffer(record).readDoubleBE(1) : null;
}

/** Where a KV entry record's value starts. */
const kvValueStart = (record: Uint8Array): number => (record[0] === KV_NO_DEADLINE ? 1 : record[0] === KV_DEADLINE ? 9 : 0);

/** The value of a KV entry, copied. */
export function kvValue(record: Uint8Array): Uint8Array {
  const start = kvValueStart(record);
  return copyBytes(start === 0 ? record : record.subarray(start));
}

/**
 * The value of a KV entry whose record is fresh: bytes the store made for this read alone, in an ArrayBuffer nothing
 * else references (`OrderedStore.freshPointReads`). A bare record spanning its ArrayBuffer is handed on without a copy.
 */
export function kvFreshValue(record: Uint8Array): Uint8Array {
  const start = kvValueStart(record);
  return start === 0 ? ownedBytes(record) : copyBytes(record.subarray(start));
}

/** A record made of numbers, an optional text and bytes (log entries, KV changes, work payloads). */
export function numbersTextBytes(numbers: readonly number[], text: string | null, bytes: Uint8Array | null): Buffer {
  const textBytes = text === null ? 0 : Buffer.byteLength(text, "utf8");
  const head = numbers.length * 8;
  const out = Buffer.allocUnsafe(head + 4 + textBytes + 1 + (bytes?.length ?? 0));
  numbers.forEach((n, i) => out.writeDoubleBE(n, i * 8));
  out.writeUInt32BE(text === null ? NO_TEXT : textBytes, head);
  if (text !== null) out.write(text, head + 4, "utf8");
  out[head + 4 + textBytes] = bytes === null ? 0 : 1;
  if (bytes !== null) out.set(bytes, head + 5 + textBytes);
  return out;
}

export function readNumbersTextBytes(record: Uint8Array, count: number): { numbers: number[]; text: string | null; bytes: Uint8Array | null } {
  const buffer = asBuffer(record);
  const numbers = Array.from({ length: count }, (_, i) => buffer.readDoubleBE(i * 8));
  const head = count * 8;
  const length = buffer.readUInt32BE(head);
  const text = length === NO_TEXT ? null : buffer.toString("utf8", head + 4, head + 4 + length);
  const after = head + 4 + (length === NO_TEXT ? 0 : length);
  const bytes = buffer[after] === 0 ? null : copyBytes(record.subarray(after + 1));
  return { numbers, text, bytes };
}

/** A KV change: the key and its new value (null: deleted). */
export function changeRecord(key: string, value: Uint8Array | null): Buffer {
  return numbersTextBytes([], key, value);
}

export function readChange(record: Uint8Array): { key: string; value: Uint8Array | null } {
  const { text, bytes } = readNumbersTextBytes(record, 0);
  return { key: text as string, value: bytes };
}

/** A log entry: timestamp, key and value. */
export function logRecord(timestamp: number, key: string, value: Uint8Array): Buffer {
  return numbersTextBytes([timestamp], key, value);
}

export function readLogRecord(record: Uint8Array): { timestamp: number; key: string; value: Uint8Array } {
  const { numbers, text, bytes } = readNumbersTextBytes(record, 1);
  return { timestamp: numbers[0] as number, key: text as string, value: bytes ?? new Uint8Array(0) };
}

/** A stream entry: timestamp, headers (JSON text or null), compression (null: none) and value. */
export function streamRecord(timestamp: number, record: StoredStreamRecord): Buffer {
  const compression = numbersTextBytes([], record.compression, null);
  const rest = numbersTextBytes([timestamp], record.headers, record.value);
  return Buffer.concat([compression, rest]);
}

export function readStreamRecord(seq: number, record: Uint8Array): StoredStreamEntry {
  const buffer = asBuffer(record);
  const compressionLength = buffer.readUInt32BE(0);
  const compression = compressionLength === NO_TEXT ? null : buffer.toString("utf8", 4, 4 + compressionLength);
  const rest = readNumbersTextBytes(record.subarray(4 + (compressionLength === NO_TEXT ? 0 : compressionLength) + 1), 1);
  return { seq, timestamp: rest.numbers[0] as number, value: rest.bytes ?? new Uint8Array(0), headers: rest.text, compression };
}

/**
 * A record made of numbers and optional texts (a work item's state). A null number is stored as NaN, which no stored
 * number is; a text as its UTF-8 length (4 bytes; {@link NO_TEXT} for null) and bytes.
 */
export function numbersAndTexts(numbers: ReadonlyArray<number | null>, texts: ReadonlyArray<string | null>): Buffer {
  const lengths = texts.map((text) => (text === null ? 0 : Buffer.byteLength(text, "utf8")));
  const out = Buffer.allocUnsafe(numbers.length * 8 + texts.length * 4 + lengths.reduce((sum, n) => sum + n, 0));
  numbers.forEach((n, i) => out.writeDoubleBE(n ?? Number.NaN, i * 8));
  let at = numbers.length * 8;
  texts.forEach((text, i) => {
    out.writeUInt32BE(text === null ? NO_TEXT : (lengths[i] as number), at);
    at += 4;
    if (text !== null) at += out.write(text, at, "utf8");
  });
  return out;
}

/** A {@link numbersAndTexts} record read back: `count` numbers (NaN back to null) and `textCount` texts. */
export function readNumbersAndTexts(record: Uint8Array, count: number, textCount: number): { numbers: Array<number | null>; texts: Array<string | null> } {
  const buffer = asBuffer(record);
  const numbers = Array.from({ length: count }, (_, i) => {
    const n = buffer.readDoubleBE(i * 8);
    return Number.isNaN(n) ? null : n;
  });
  const texts: Array<string | null> = [];
  let at = count * 8;
  for (let i = 0; i < textCount; i++) {
    const length = buffer.readUInt32BE(at);
    at += 4;
    if (length === NO_TEXT) texts.push(null);
    else {
      texts.push(buffer.toString("utf8", at, at + length));
      at += length;
    }
  }
  return { numbers, texts };
}
