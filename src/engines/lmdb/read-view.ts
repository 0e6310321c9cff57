/**
 * Views of exactly the value on what lmdb-js's `getBinaryFast` answers, for the point-read hot path. lmdb-js answers
 * most reads with one Buffer it reuses (its 16 MiB read buffer, with its `length` property set to the value's size),
 * the value at its start: so this keeps that Buffer's ArrayBuffer and offset (reading `buffer` on a Buffer is a call
 * into the runtime) and hands out the last view again while the size read is the same. A view is valid until the next
 * read, as the Buffer it looks at: the caller copies what it keeps.
 */
export class ReadView {
  private source: Buffer | undefined;
  private arrayBuffer: ArrayBufferLike = new ArrayBuffer(0);
  private offset = 0;
  /** The last view handed out, on `source`'s ArrayBuffer (an empty one, of none, before the first read). */
  private last: Uint8Array = new Uint8Array(0);

  /** A view of the `size` bytes that `found` answered (its `length`); undefined for a key not found. */
  of(found: Buffer | undefined, size: number): Uint8Array | undefined {
    if (found === undefined) return undefined;
    if (found !== this.source) {
      // Another Buffer (lmdb-js grew its read buffer, or answered a large value from the map): a view on it.
      this.source = found;
      this.arrayBuffer = found.buffer;
      this.offset = found.byteOffset;
    } else if (this.last.length === size) {
      return this.last;
    }
    return (this.last = new Uint8Array(this.arrayBuffer, this.offset, size));
  }
}
