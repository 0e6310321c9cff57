import { json, type Codec } from "../api/codec.js";
import type { Slot, Store } from "../api/types.js";
import { canonicalSchema } from "./schema-fingerprint.js";

/** The Slot namespace snapshot cursors live in. */
export const SNAPSHOTS_NAMESPACE = "snapshots";

/** Where a backfill stands: its position (`undefined` before the first advance) and the slot version behind it. */
export interface CursorState<P> {
  position: P | undefined;
  version: number;
}

/**
 * The progress of one table's backfill (snapshot), kept in a Slot of the `snapshots` namespace under the table's
 * name. `advance(from, to)` is a compare-and-swap: it moves the cursor only if it still stands at `from`, so of two
 * workers that read the same position and both try to move it, exactly one succeeds, across processes too. The
 * position is any JSON value by default (a primary key, a page token); pass a codec for another encoding.
 */
export class SnapshotCursor<P = unknown> {
  private readonly slot: Slot<P>;
  private readonly codec: Codec<P>;

  constructor(
    store: Store,
    readonly table: string,
    codec?: Codec<P>,
  ) {
    this.codec = codec ?? (json as Codec<P>);
    this.slot = store.slot<P>(SNAPSHOTS_NAMESPACE, { codec: this.codec });
  }

  /** Where the backfill stands now. */
  async get(): Promise<CursorState<P>> {
    const current = await this.slot.get(this.table);
    return current === undefined ? { position: undefined, version: 0 } : { position: current.value, version: current.version };
  }

  /**
   * Moves the cursor from `from` (`undefined`: not started) to `to`. True when this call moved it; false when the
   * cursor no longer stands at `from` (another worker advanced it), in which case nothing changed.
   */
  async advance(from: P | undefined, to: P): Promise<boolean> {
    const current = await this.slot.get(this.table);
    if (!this.samePosition(current?.value, from)) return false;
    return this.slot.cas(this.table, current?.version ?? 0, to);
  }

  /**
   * Two positions are the same when they encode to the same bytes, or when what they decode to has the same
   * canonical JSON (the schema registry's: keys sorted at every level), so `{ offset, file }` matches a stored
   * `{ file, offset }`. A position that is not JSON (a custom codec's) is compared by its bytes only.
   */
  private samePosition(a: P | undefined, b: P | undefined): boolean {
    if (a === undefined || b === undefined) return a === b;
    const [bytesA, bytesB] = [this.codec.encode(a), this.codec.encode(b)];
    if (Buffer.compare(Buffer.from(bytesA), Buffer.from(bytesB)) === 0) return true;
    try {
      return canonicalSchema(this.codec.decode(bytesA)) === canonicalSchema(this.codec.decode(bytesB));
    } catch {
      return false;
    }
  }
}
