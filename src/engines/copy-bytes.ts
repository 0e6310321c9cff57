/**
 * Copies of byte arrays in memory of their own. Every value handed to a caller, or kept by an engine, gets an
 * ArrayBuffer that nothing else references: a caller may transfer it (`postMessage`, `structuredClone` with a transfer
 * list detach `value.buffer`), write through `value.buffer`, or keep it alive, without touching anyone else's bytes.
 * (Copies used to be carved from shared 8 KiB slabs, ~50 ns cheaper each; one transfer detached the slab and broke
 * every other small read in the process.)
 */

/**
 * A copy of `source` in a fresh ArrayBuffer of exactly its size, as a plain Uint8Array (never a Buffer, whose
 * `slice` would share memory instead of copying).
 */
export function copyBytes(source: Uint8Array): Uint8Array {
  return new Uint8Array(source);
}

/**
 * `source` as a plain Uint8Array, copied unless it already spans its whole ArrayBuffer: for bytes fresh from a driver
 * or zlib, which may be views on a pool that other Buffers share (Node's 8 KiB pool, zlib's 16 KiB chunks).
 */
export function ownedBytes(source: Uint8Array): Uint8Array {
  const { buffer, byteOffset, byteLength } = source;
  if (byteOffset !== 0 || byteLength !== buffer.byteLength || !(buffer instanceof ArrayBuffer)) return copyBytes(source);
  return Object.getPrototypeOf(source) === Uint8Array.prototype ? source : new Uint8Array(buffer);
}
