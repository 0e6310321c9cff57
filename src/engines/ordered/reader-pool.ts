import type { Awaitable, EngineOps } from "../engine.js";
import { runCall, type CallResult, type EngineCall } from "../engine-calls.js";
import type { OrderedEntry, OrderedRangeOptions, OrderedSnapshot } from "./ordered-store.js";
import { storeRange, type OrderedTx } from "./buffered-tx.js";
import type { KeyLayout } from "./key-layout.js";
import { orderedOps } from "./ordered-ops.js";
import { StowageError } from "../../api/errors.js";

/** A reader whose snapshot is set for each read, so that its ops object (32 closures) is built once, not per read. */
export class SnapshotSlot implements OrderedTx {
  snapshot: OrderedSnapshot | undefined;
  readonly ops: EngineOps;

  constructor(keys: KeyLayout, transientPointKeys: boolean) {
    this.ops = orderedOps(this, keys, { transientPointKeys });
  }

  get(key: Uint8Array): Awaitable<Uint8Array | undefined> {
    return (this.snapshot as OrderedSnapshot).get(key);
  }

  peek(key: Uint8Array): Awaitable<Uint8Array | undefined> {
    const snapshot = this.snapshot as OrderedSnapshot;
    return snapshot.peek === undefined ? snapshot.get(key) : snapshot.peek(key);
  }

  range(start: Uint8Array, end: Uint8Array, options?: OrderedRangeOptions): Awaitable<OrderedEntry[]> {
    return (this.snapshot as OrderedSnapshot).range(start, end, options === undefined ? undefined : storeRange(options.limit, options.reverse));
  }

  /** A snapshot's reads are never checked: loose reads are plain ones. */
  rangeLoose(start: Uint8Array, end: Uint8Array, options?: OrderedRangeOptions): Awaitable<OrderedEntry[]> {
    return this.range(start, end, options);
  }

  getLoose(key: Uint8Array): Awaitable<Uint8Array | undefined> {
    return this.get(key);
  }

  put(): void {
    throw new StowageError("INTERNAL", "a read tried to write");
  }

  delete(): void {
    throw new StowageError("INTERNAL", "a read tried to write");
  }
}

/**
 * Runs reads against snapshots, each with a slot of its own while it runs (reads of an asynchronous store overlap);
 * slots are reused, and the snapshot is released as soon as the work is done.
 */
export class ReaderPool {
  private readonly free: SnapshotSlot[] = [];

  constructor(
    private readonly keys: KeyLayout,
    /** The store's point reads are synchronous and drop their key (`OrderedStore.synchronousPointReads`). */
    private readonly transientPointKeys: boolean,
  ) {}

  /** `call` against `snapshot`, released when done unless `keep` (the caller then releases it). */
  run<C extends EngineCall>(snapshot: OrderedSnapshot, call: C, keep = false): Awaitable<CallResult<C>> {
    const slot = this.free.pop() ?? new SnapshotSlot(this.keys, this.transientPointKeys);
    slot.snapshot = snapshot;
    let result: Awaitable<CallResult<C>>;
    try {
      result = runCall(slot.ops, call);
    } catch (error) {
      this.done(slot, snapshot, keep);
      throw error;
    }
    // A synchronous answer (the point reads of a synchronous store) makes no closure.
    if (!(result instanceof Promise)) {
      this.done(slot, snapshot, keep);
      return result;
    }
    // Not `finally`, which costs two more promises per read.
    return result.then(
      (value) => {
        this.done(slot, snapshot, keep);
        return value;
      },
      (error: unknown) => {
        this.done(slot, snapshot, keep);
        throw error;
      },
    );
  }

  /** The slot back in the pool, and the snapshot released unless kept. */
  private done(slot: SnapshotSlot, snapshot: OrderedSnapshot, keep: boolean): void {
    slot.snapshot = undefined;
    this.free.push(slot);
    if (!keep) snapshot.release();
  }
}
