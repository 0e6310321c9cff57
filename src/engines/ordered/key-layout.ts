import { StowageError } from "../../api/errors.js";

/*
 * The ordered-KV family's key layout. Every record's key is
 *
 *     tag (1 byte) · namespace (ASCII) · 0x00 · the record's own components
 *
 * Stowage keys, space and segment names are valid Unicode without U+0000, so their UTF-8 bytes hold no 0x00: a name
 * ends with a 0x00 byte without any escaping, and "a" · 0x00 sorts before "ab" · …, which keeps stowage's order (UTF-8
 * byte order) for every listing. Numbers (sequences, ids, timestamps, deadlines) are 8 bytes that sort as the numbers
 * do (see `writeNumber`). A component at the very end of a key needs no terminator.
 *
 * | tag  | record            | key after tag · ns · 0x00            | value                                         |
 * | ---- | ----------------- | ------------------------------------ | --------------------------------------------- |
 * | 0x01 | layout version    | (the key is 0x01 · "stowage")        | magic · version                               |
 * | 0x10 | KV entry          | key                                  | value (bare: no deadline, first byte > 0x01), |
 * |      |                   |                                      | or deadline flag (· deadline) · value         |
 * | 0x11 | KV expiry index   | (0x11 · deadline · ns · 0x00 · key)  | empty                                         |
 * | 0x12 | KV history state  | (nothing)                            | last seq · trimmed through                    |
 * | 0x13 | KV history change | seq                                  | key length · key · present flag · value       |
 * | 0x20 | log counter       | (nothing)                            | last seq · entry count                        |
 * | 0x21 | log entry         | seq                                  | timestamp · key length · key · value          |
 * | 0x22 | log key index     | key · 0x00 · seq                     | empty                                         |
 * | 0x30 | slot              | key                                  | version · value                               |
 * | 0x40 | queue counter     | (nothing)                            | last id                                       |
 * | 0x41 | queue length      | key                                  | item count                                    |
 * | 0x42 | queue item        | key · 0x00 · id                      | pushed at · value                             |
 * | 0x50 | stream space      | space                                | space id                                      |
 * | 0x51 | space id counter  | (nothing)                            | last space id                                 |
 * | 0x52 | segment status    | space id · segment                   | last seq · last timestamp · count             |
 * | 0x53 | stream entry      | space id · segment · 0x00 · seq      | timestamp · headers · compression · value     |
 * | 0x54 | space time index  | space id · timestamp · segment · 0x00 · seq | empty                                  |
 * | 0x60 | work id counter   | (nothing)                            | last id                                       |
 * | 0x61 | work state        | key · 0x00 · id                      | dead · priority · visibleAt · attempts · max  |
 * |      |                   |                                      | attempts · token · deadAt · dedup flag ·      |
 * |      |                   |                                      | policy · last error                           |
 * | 0x62 | work payload      | key · 0x00 · id                      | pushed at · dedup key · value (immutable)     |
 * | 0x63 | work visibility   | key · 0x00 · (2^31−1−priority) · visibleAt · id | empty                              |
 * | 0x64 | work dedup index  | key · 0x00 · SHA-256(dedup key)[0..16] | id (of the live item holding it)            |
 * | 0x65 | work dead index   | key · 0x00 · id                      | empty                                         |
 *
 * Every KV entry with a deadline has its expiry index record; a record may outlive that (a put without deadline
 * writes without reading the entry it replaces), and the sweep drops such a record at its deadline.
 *
 * Spaces get short numeric ids through their directory record (0x50) because space and segment names are up to
 * 1,024 bytes each: with both in a key, a stream entry could take 2,124 bytes, more than LMDB's 1,978. With the id a
 * stream entry's key takes at most 1 + 64 + 1 + 8 + 1,024 + 1 + 8 = 1,107 bytes. The longest key of the layout is a
 * work visibility index record's: 1 + 64 + 1 + 1,024 + 1 + 3 × 8 = 1,115 bytes (dedup keys, up to 1,024 bytes too,
 * are hashed for that reason). An ordered store that declares fewer has its longer keys refused with LIMIT_EXCEEDED
 * before any I/O (see `KeyLayout`).
 *
 * Work items (see work-programs.ts) keep what claims and settles rewrite (the state, ~80 bytes) apart from what never
 * changes (the payload), so that a claim never rewrites a value. The visibility index holds every live (not dead)
 * item under its claim order; the dead index every dead one in id order; the dedup index the live items that have a
 * dedup key.
 */

export const TAG = {
  meta: 0x01,
  kv: 0x10,
  kvExpiry: 0x11,
  kvHistory: 0x12,
  kvChange: 0x13,
  logCounter: 0x20,
  logEntry: 0x21,
  logByKey: 0x22,
  slot: 0x30,
  queueCounter: 0x40,
  queueLength: 0x41,
  queueItem: 0x42,
  streamSpace: 0x50,
  spaceCounter: 0x51,
  segmentStatus: 0x52,
  streamEntry: 0x53,
  spaceIndex: 0x54,
  workCounter: 0x60,
  workState: 0x61,
  workPayload: 0x62,
  workVisible: 0x63,
  workDedup: 0x64,
  workDead: 0x65,
} as const;

/** The key of the layout version record. */
export const META_KEY: Uint8Array = Buffer.from("\x01stowage", "latin1");

/** The longest key the layout makes from keys and names within stowage's limits (see the table above). */
export const LONGEST_LAYOUT_KEY = 1_115;

/** Writes `n` as 8 bytes whose byte order is the numeric order (an IEEE double with the sign bit flipped, negatives inverted). */
export function writeNumber(target: Buffer, offset: number, n: number): void {
  target.writeDoubleBE(n === 0 ? 0 : n, offset);
  if ((target[offset] as number) & 0x80) {
    for (let i = offset; i < offset + 8; i++) target[i] = ~(target[i] as number) & 0xff;
  } else target[offset] = (target[offset] as number) | 0x80;
}

const scratch = Buffer.alloc(8);

/** Reads a number written by {@link writeNumber}. */
export function readNumber(source: Uint8Array, offset: number): number {
  for (let i = 0; i < 8; i++) scratch[i] = source[offset + i] as number;
  if ((scratch[0] as number) & 0x80) scratch[0] = (scratch[0] as number) & 0x7f;
  else for (let i = 0; i < 8; i++) scratch[i] = ~(scratch[i] as number) & 0xff;
  return scratch.readDoubleBE(0);
}

/** Bytes as a Buffer over the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The smallest key greater than every key starting with `prefix` (its last byte below 0xFF raised by one). */
export function prefixEnd(prefix: Uint8Array): Buffer {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  const out = Buffer.from(prefix.subarray(0, end));
  if (end > 0) out[end - 1] = (out[end - 1] as number) + 1;
  return out;
}

/** `key` followed by one 0x00 byte: the smallest key greater than `key` (an exclusive lower bound made inclusive). */
export function successor(key: Uint8Array): Buffer {
  const out = Buffer.alloc(key.length + 1);
  out.set(key);
  return out;
}

type Part = string | number | Uint8Array;

/** Scratch keys shorter than this many bytes are handed out as views kept per length (see `scratchTextKey`). */
const SCRATCH_VIEWS = 256;

/** Whether every UTF-16 unit of `text` is below 0x80 (its UTF-8 is then its units, one byte each). */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Builds the layout's keys. Strings are written as UTF-8 and followed by 0x00 unless they end the key; numbers take 8
 * bytes. Keys longer than the ordered store's `maxKeyBytes` are refused with LIMIT_EXCEEDED naming the limit.
 */
export class KeyLayout {
  /** Per tag, per namespace: a namespace's prefixes are few and used on every call. */
  private readonly prefixes: Array<Map<string, Buffer> | undefined> = [];
  /** The buffer {@link scratchTextKey} writes into, grown when a key needs more. */
  private scratch = Buffer.allocUnsafeSlow(256);
  /** Views of {@link scratch}'s first bytes, by length (below {@link SCRATCH_VIEWS}). */
  private scratchViews: Array<Buffer | undefined> = [];
  /** The prefix {@link scratch} starts with, when known. */
  private scratchPrefix: Buffer | undefined;

  constructor(
    readonly maxKeyBytes: number,
    private readonly engine: string,
  ) {}

  /** tag · ns · 0x00, cached. */
  prefix(tag: number, ns: string): Buffer {
    const byNamespace = (this.prefixes[tag] ??= new Map());
    let prefix = byNamespace.get(ns);
    if (prefix === undefined) {
      prefix = Buffer.alloc(ns.length + 2);
      prefix[0] = tag;
      prefix.write(ns, 1, "latin1");
      byNamespace.set(ns, prefix);
    }
    return prefix;
  }

  /**
   * tag · ns · 0x00 · text: the common case (a KV entry, a slot), without the general builder's passes. An ASCII text
   * (most keys) is copied by a loop into a buffer of its exact size: for short keys that is cheaper than the native
   * UTF-8 writer and the view cut to the written length.
   */
  textKey(tag: number, ns: string, text: string): Buffer {
    const prefix = this.prefix(tag, ns);
    const start = prefix.length;
    if (isAscii(text)) {
      this.checkLength(start + text.length, ns, text);
      const out = Buffer.allocUnsafe(start + text.length);
      out.set(prefix);
      for (let i = 0; i < text.length; i++) out[start + i] = text.charCodeAt(i);
      return out;
    }
    const out = Buffer.allocUnsafe(start + text.length * 3);
    out.set(prefix);
    const length = start + out.write(text, start, "utf8");
    this.checkLength(length, ns, text);
    return out.subarray(0, length);
  }

  /**
   * {@link textKey} written into one buffer this layout reuses: valid only until its next call, for a key that a
   * synchronous point read uses during the call and drops (no allocation per read: on this machine every new buffer
   * adds to the garbage collector's work). The prefix is written only when it differs from the last call's, and the
   * key is handed out as a view of the buffer kept per length, so that reads of one namespace allocate nothing here.
   */
  scratchTextKey(tag: number, ns: string, text: string): Buffer {
    const prefix = this.prefix(tag, ns);
    const start = prefix.length;
    const room = start + text.length * 3;
    if (room > this.scratch.length) {
      this.scratch = Buffer.allocUnsafeSlow(Math.max(room, this.scratch.length * 2));
      this.scratchViews = [];
      this.scratchPrefix = undefined;
    }
    const out = this.scratch;
    if (this.scratchPrefix !== prefix) {
      out.set(prefix);
      this.scratchPrefix = prefix;
    }
    let length = start + text.length;
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      if (unit > 0x7f) {
        length = start + out.write(text, start, "utf8");
        break;
      }
      out[start + i] = unit;
    }
    this.checkLength(length, ns, text);
    if (length >= SCRATCH_VIEWS) return out.subarray(0, length);
    return (this.scratchViews[length] ??= out.subarray(0, length));
  }

  /** Refuses a record key of `length` bytes when the ordered store's keys are shorter (LIMIT_EXCEEDED naming the limit). */
  checkLength(length: number, ns: string, key?: string): void {
    if (length <= this.maxKeyBytes) return;
    throw new StowageError(
      "LIMIT_EXCEEDED",
      `the record key would be ${length} bytes; the ${this.engine} engine's key limit (maxKeyBytes) is ${this.maxKeyBytes}`,
      key === undefined ? { namespace: ns } : { namespace: ns, key },
    );
  }

  /**
   * tag · ns · 0x00 · parts. A string part is followed by 0x00 unless it is the last; a number takes 8 bytes; bytes
   * are copied as they are. `key` names the stowage key in a refusal.
   */
  key(tag: number, ns: string, parts: readonly Part[], key?: string): Buffer {
    const prefix = this.prefix(tag, ns);
    let length = prefix.length;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as Part;
      if (typeof part === "number") length += 8;
      else if (typeof part === "string") length += Buffer.byteLength(part, "utf8") + (i < parts.length - 1 ? 1 : 0);
      else length += part.length;
    }
    this.checkLength(length, ns, key);
    const out = Buffer.allocUnsafe(length);
    prefix.copy(out, 0);
    let at = prefix.length;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as Part;
      if (typeof part === "number") {
        writeNumber(out, at, part);
        at += 8;
      } else if (typeof part === "string") {
        at += out.write(part, at, "utf8");
        if (i < parts.length - 1) out[at++] = 0;
      } else {
        out.set(part, at);
        at += part.length;
      }
    }
    return out;
  }
}

/** The UTF-8 text of `bytes[from, to)`. */
export function textOf(bytes: Uint8Array, from: number, to: number = bytes.length): string {
  return asBuffer(bytes).toString("utf8", from, to);
}

/** The namespace of a layout key (between the tag and the first 0x00), and the offset after its terminator. */
export function namespaceOf(key: Uint8Array): [ns: string, rest: number] {
  const end = key.indexOf(0, 1);
  return [asBuffer(key).toString("latin1", 1, end), end + 1];
}
