import { createHash } from "node:crypto";

/*
 * The ordered store's binary keys as Azure Table RowKeys, keeping their byte order (RowKeys compare as strings; they
 * may hold neither `/ \ # ?` nor control characters, and azurite takes at most 512 characters).
 *
 * A key is written in an order-preserving base 64: six bits a character, from an alphabet in ASCII order
 * (`.0-9A-Z_a-z`), the last character padded with zero bits. Character strings then compare as the bytes do, a
 * shorter key first on a common prefix, and the length of the text tells the length of the key. Data RowKeys start
 * with `k`; the store's commit version entity is `c`, outside every range.
 *
 * A value takes one or more rows: the head row `k·key`, and for a value over {@link CHUNK_BYTES} continuation rows
 * `k·key·-·i` (`-` sorts below the alphabet, so they come right after their head and before any longer key).
 *
 * Keys over {@link SHORT_KEY_BYTES} bytes do not fit: such a key's rows go in the bucket of its first
 * SHORT_KEY_BYTES bytes `p`, `k·p·~·hash(key)` (`~` sorts above the alphabet: after `p` itself, before any key that
 * does not start with `p`), with the whole key in the head row's `k` property. A range that reaches into a bucket
 * reads all of it and sorts it by the whole keys.
 */

const ALPHABET = ".0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const INDEX = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) INDEX[ALPHABET.charCodeAt(i)] = i;

/** The RowKey of the commit version entity. */
export const VERSION_ROW = "c";
/** Bytes of a value a row holds: 11 binary properties of 64 KiB (base64 in JSON stays under azurite's 1 MiB entity). */
export const PROPERTY_BYTES = 65_536;
export const CHUNK_BYTES = 11 * PROPERTY_BYTES;
/** Longest key written in its row's key; longer ones go in buckets (see above). A multiple of 3: no padding. */
export const SHORT_KEY_BYTES = 354;
const BUCKET = "~";
const CONTINUATION = "-";

export function encodeKey(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = ((acc & 0xff) << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += ALPHABET[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += ALPHABET[(acc << (6 - bits)) & 63];
  return out;
}

export function decodeKey(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (let i = 0; i < text.length && at < out.length; i++) {
    acc = ((acc & 0xff) << 6) | (INDEX[text.charCodeAt(i)] as number);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** The head row's RowKey of `key`. */
export function headRow(key: Uint8Array): string {
  if (key.length <= SHORT_KEY_BYTES) return `k${encodeKey(key)}`;
  const hash = createHash("sha256").update(key).digest().subarray(0, 24);
  return `k${encodeKey(key.subarray(0, SHORT_KEY_BYTES))}${BUCKET}${encodeKey(hash)}`;
}

/** The RowKey of continuation row `i` (1, 2, …) of the value at `head`. */
export function continuationRow(head: string, i: number): string {
  return `${head}${CONTINUATION}${ALPHABET[i]}`;
}

/** The lowest RowKey of a key ≥ `key` (for a long key: its bucket's start; the caller filters inside the bucket). */
export function lowerRow(key: Uint8Array): string {
  return key.length <= SHORT_KEY_BYTES ? `k${encodeKey(key)}` : `k${encodeKey(key.subarray(0, SHORT_KEY_BYTES))}${BUCKET}`;
}

/** A RowKey above every row of a key < `key` (for a long key: past its whole bucket; the caller filters). */
export function upperRow(key: Uint8Array): string {
  return key.length <= SHORT_KEY_BYTES ? `k${encodeKey(key)}` : `k${encodeKey(key.subarray(0, SHORT_KEY_BYTES))}${BUCKET}${BUCKET}`;
}

/** What a data RowKey is: a head or a continuation row, of a plain key or one in a bucket. */
export function parseRow(row: string): { head: string; chunk: number; bucket: string | undefined } {
  const dash = row.indexOf(CONTINUATION);
  const head = dash < 0 ? row : row.slice(0, dash);
  const chunk = dash < 0 ? 0 : INDEX[row.charCodeAt(dash + 1)] as number;
  const tilde = head.indexOf(BUCKET);
  return { head, chunk, bucket: tilde < 0 ? undefined : head.slice(0, tilde) };
}

/** The key of a plain (not bucketed) head row. */
export function keyOfRow(head: string): Uint8Array {
  return decodeKey(head.slice(1));
}
