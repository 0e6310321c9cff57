import { StowageError } from "../../api/errors.js";
import type { Awaitable } from "../engine.js";
import { whenReady } from "../awaitable.js";
import { copyBytes } from "../copy-bytes.js";
import { transactionFatal } from "../transaction-failure.js";
import type { OrderedCheck, OrderedEntry, OrderedLimits, OrderedRangeOptions, OrderedSnapshot, OrderedWrite } from "./ordered-store.js";
import { asBuffer } from "./key-layout.js";

/** What the family's programs read from: one snapshot, plus (in a write) the writes made so far. */
export interface OrderedReader {
  get(key: Uint8Array): Awaitable<Uint8Array | undefined>;
  /** `get` for a caller that copies what it keeps before its next read: see {@link OrderedSnapshot.peek}. */
  peek(key: Uint8Array): Awaitable<Uint8Array | undefined>;
  range(start: Uint8Array, end: Uint8Array, options?: OrderedRangeOptions): Awaitable<OrderedEntry[]>;
  /**
   * `range` whose answer the commit does not check ("loose"): for a program that checks, by point reads, every record
   * it acts on (a work claim reads its candidates from an index loosely and checks only the states of the items it
   * takes, so that claimers conflict only over the same items). It sees this transaction's own writes as `range` does.
   */
  rangeLoose(start: Uint8Array, end: Uint8Array, options?: OrderedRangeOptions): Awaitable<OrderedEntry[]>;
  /** `get` whose answer the commit does not check: for records that never change once written (a work payload). */
  getLoose(key: Uint8Array): Awaitable<Uint8Array | undefined>;
}

/** A reader that also writes (buffered until the commit). */
export interface OrderedTx extends OrderedReader {
  put(key: Uint8Array, value: Uint8Array): void;
  /** `present`: the key is known to hold a small value before this transaction (see `OrderedWrite.present`). */
  delete(key: Uint8Array, present?: boolean): void;
  /** Asks for `keys` ahead of the reads that will want them (see `BufferedTx.prefetch`); absent where reads only read. */
  prefetch?(keys: readonly Uint8Array[]): void;
}

/**
 * Range options as the store gets them. A limit beyond any range a store could hold (stowage passes
 * `Number.MAX_SAFE_INTEGER` for "all") goes as none: drivers take limits as 32-bit integers, and LevelDB's iterator
 * returned nothing for 2^53.
 */
export function storeRange(limit: number | undefined, reverse: boolean | undefined): OrderedRangeOptions {
  const options: OrderedRangeOptions = {};
  if (limit !== undefined && limit < 0x7fff_ffff) options.limit = limit;
  if (reverse === true) options.reverse = true;
  return options;
}

/** Keys as latin1 strings: one character per byte, so string order is byte order and they serve as map keys. */
const idOf = (key: Uint8Array): string => asBuffer(key).toString("latin1");

/** The first index in the sorted `ids` whose id is ≥ `id`. */
function lowerBound(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as string) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A transaction over an ordered store, buffered: reads go to one snapshot and, unless the store has a single writer,
 * are recorded as checks the commit verifies; writes go to a sorted overlay that later reads see, merged with the
 * snapshot's ranges. Nothing reaches the store until the engine commits {@link checks} and {@link writes}. A
 * savepoint ({@link mark}, {@link undoTo}) lets one operation's writes be undone while the others' stay.
 */
export class BufferedTx implements OrderedTx {
  readonly checks: OrderedCheck[] = [];
  private readonly overlay = new Map<string, OrderedWrite>();
  /** The overlay's ids in byte order. */
  private readonly order: string[] = [];
  private readonly undo: Array<[id: string, previous: OrderedWrite | undefined]> = [];
  private byteCount = 0;
  /** Reads asked ahead by {@link prefetch}, values taken by {@link presume}, and reads kept on a single writer, by key id. */
  private readonly prefetched = new Map<string, Awaitable<Uint8Array | undefined>>();
  /** Whether a check rests on a presumed value ({@link presume}): the commit must then run even without writes. */
  presumes = false;

  constructor(
    private readonly snapshot: OrderedSnapshot,
    private readonly recordChecks: boolean,
    private readonly limits: OrderedLimits,
    private readonly engine: string,
  ) {}

  get writeCount(): number {
    return this.overlay.size;
  }

  /** Bytes of keys and values the commit would write. */
  get bytes(): number {
    return this.byteCount;
  }

  /** The buffered writes in key order. */
  writes(): OrderedWrite[] {
    return this.order.map((id) => this.overlay.get(id) as OrderedWrite);
  }

  /**
   * Asks the snapshot for `keys` at once, ahead of the writes that will read them (a group of KV puts on a networked
   * store: one round trip for all of their reads instead of one per write). A later {@link get} of such a key that the
   * transaction has not written since takes the answer (recorded as one check, however often it is read).
   */
  prefetch(keys: readonly Uint8Array[]): void {
    for (const key of keys) {
      const id = idOf(key);
      if (this.overlay.has(id) || this.prefetched.has(id)) continue;
      const read = this.read(key);
      // A read no write takes in the end must not fail the process; one taken fails its write as any read does.
      if (read instanceof Promise) read.catch(() => undefined);
      this.prefetched.set(id, read);
    }
  }

  /**
   * Takes `value` (undefined: absent) as what `key` holds, without reading it: a value this process saw committed
   * earlier. Recorded as a check like a read, so the commit applies only if the key still holds it; a wrong guess
   * fails the commit, and the family runs the work again with real reads. Only for stores whose commit verifies each
   * check itself (`OrderedStore.verifiesEachCheck`). A key already read, asked or written is left as it is.
   */
  presume(key: Uint8Array, value: Uint8Array | undefined): void {
    const id = idOf(key);
    if (this.overlay.has(id) || this.prefetched.has(id)) return;
    this.checks.push({ kind: "get", key, value });
    this.prefetched.set(id, value);
    this.presumes = true;
  }

  /**
   * What `key` holds once this transaction commits, when the transaction wrote it or checks it (a read or a presumed
   * value); `unseen` otherwise. No read.
   */
  committedValue(key: Uint8Array): { value: Uint8Array | undefined } | "unseen" {
    const own = this.overlay.get(idOf(key));
    if (own !== undefined) return { value: own.value };
    const bytes = asBuffer(key);
    for (let i = this.checks.length - 1; i >= 0; i--) {
      const check = this.checks[i] as OrderedCheck;
      if (check.kind === "get" && bytes.equals(check.key)) return { value: check.value };
    }
    return "unseen";
  }

  get(key: Uint8Array): Awaitable<Uint8Array | undefined> {
    const id = idOf(key);
    const own = this.overlay.get(id);
    if (own !== undefined) return own.value;
    // A presumed absence is an undefined entry, not a missing one.
    if (this.prefetched.size > 0 && this.prefetched.has(id)) return this.prefetched.get(id) as Awaitable<Uint8Array | undefined>;
    return this.read(key);
  }

  /**
   * A read of the snapshot, recorded as a check unless the store has a single writer. There, it is kept for the
   * transaction's later reads of the key instead: this process commits under the family's lock, so nothing changes
   * what the snapshot reads while the transaction runs (a group of puts to one namespace reads its history state once,
   * not once per put).
   */
  private read(key: Uint8Array): Awaitable<Uint8Array | undefined> {
    if (!this.recordChecks) {
      const found = fromStore(() => this.snapshot.get(key));
      this.prefetched.set(idOf(key), found);
      return found;
    }
    // The check keeps a copy of what was read, and the program gets that same copy (programs never change a record):
    // with a store that peeks, one allocation per read instead of the store's copy and the check's.
    const snapshot = this.snapshot;
    const found = fromStore(() => (snapshot.peek === undefined ? snapshot.get(key) : snapshot.peek(key)));
    return whenReady(found, (value) => {
      const kept = value === undefined ? undefined : copyBytes(value);
      this.checks.push({ kind: "get", key, value: kept });
      return kept;
    });
  }

  /** Inside a transaction the read is recorded (a copy) for the commit's checks, so `get` serves. */
  peek(key: Uint8Array): Awaitable<Uint8Array | undefined> {
    return this.get(key);
  }

  range(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions = {}): Awaitable<OrderedEntry[]> {
    return this.rangeOf(start, end, options, this.recordChecks);
  }

  /** See {@link OrderedReader.rangeLoose}: merged with the overlay, never recorded as a check. */
  rangeLoose(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions = {}): Awaitable<OrderedEntry[]> {
    return this.rangeOf(start, end, options, false);
  }

  /** See {@link OrderedReader.getLoose}: the overlay or an earlier read when there is one, else the snapshot, unrecorded. */
  getLoose(key: Uint8Array): Awaitable<Uint8Array | undefined> {
    const id = idOf(key);
    const own = this.overlay.get(id);
    if (own !== undefined) return own.value;
    if (this.prefetched.size > 0 && this.prefetched.has(id)) return this.prefetched.get(id) as Awaitable<Uint8Array | undefined>;
    return whenReady(
      fromStore(() => this.snapshot.get(key)),
      (value) => (value === undefined ? undefined : copyBytes(value)),
    );
  }

  private rangeOf(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions, record: boolean): Awaitable<OrderedEntry[]> {
    const from = lowerBound(this.order, idOf(start));
    const to = lowerBound(this.order, idOf(end));
    // Each own write can hide at most one stored entry: asking for that many more keeps the page complete.
    const asked = storeRange(options.limit === undefined ? undefined : options.limit + (to - from), options.reverse);
    const found = fromStore(() => this.snapshot.range(start, end, asked));
    return whenReady(found, (entries) => {
      if (record) {
        this.checks.push({ kind: "range", start, end, options: asked, entries: entries.map(([k, v]) => [copyBytes(k), copyBytes(v)] as const) });
      }
      if (from === to) return entries;
      return this.merge(entries, from, to, options);
    });
  }

  put(key: Uint8Array, value: Uint8Array): void {
    if (value.length > this.limits.maxValueBytes) {
      throw new StowageError(
        "LIMIT_EXCEEDED",
        `a record of ${value.length} bytes exceeds the ${this.engine} engine's value limit (maxValueBytes) of ${this.limits.maxValueBytes}`,
      );
    }
    this.set(key, value);
  }

  delete(key: Uint8Array, present = false): void {
    this.set(key, undefined, present);
  }

  /** A savepoint: {@link undoTo} with it undoes every write made after. Checks stay (a refusal was read from them too). */
  mark(): number {
    return this.undo.length;
  }

  undoTo(mark: number): void {
    while (this.undo.length > mark) {
      const [id, previous] = this.undo.pop() as [string, OrderedWrite | undefined];
      const current = this.overlay.get(id) as OrderedWrite;
      this.byteCount -= sizeOf(current);
      if (previous === undefined) {
        this.overlay.delete(id);
        this.order.splice(lowerBound(this.order, id), 1);
      } else {
        this.overlay.set(id, previous);
        this.byteCount += sizeOf(previous);
      }
    }
  }

  private set(key: Uint8Array, value: Uint8Array | undefined, present = false): void {
    const id = idOf(key);
    const previous = this.overlay.get(id);
    this.undo.push([id, previous]);
    // What the store holds before the commit is known from the key's first write in this transaction only.
    const known = previous === undefined ? present : previous.present === true;
    const write: OrderedWrite = known ? { key, value, present: true } : { key, value };
    this.overlay.set(id, write);
    this.byteCount += sizeOf(write) - (previous === undefined ? 0 : sizeOf(previous));
    if (previous === undefined) this.order.splice(lowerBound(this.order, id), 0, id);
  }

  /** The snapshot's entries with the overlay's ids `[from, to)` applied, in the asked order, at most `limit`. */
  private merge(entries: OrderedEntry[], from: number, to: number, options: OrderedRangeOptions): OrderedEntry[] {
    const merged: Array<[string, OrderedEntry]> = [];
    for (const entry of entries) {
      const id = idOf(entry[0]);
      if (!this.overlay.has(id)) merged.push([id, entry]);
    }
    for (let i = from; i < to; i++) {
      const id = this.order[i] as string;
      const own = this.overlay.get(id) as OrderedWrite;
      if (own.value !== undefined) merged.push([id, [own.key, own.value]]);
    }
    merged.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    if (options.reverse === true) merged.reverse();
    const out = merged.map(([, entry]) => entry);
    return options.limit === undefined ? out : out.slice(0, options.limit);
  }
}

/**
 * A read of the snapshot, whose failure is the store's own (an I/O error, a lost connection): marked as ending the
 * transaction it happens in, unlike the refusals the family's programs raise, which leave the transaction usable.
 */
function fromStore<T>(read: () => Awaitable<T>): Awaitable<T> {
  try {
    const found = read();
    return found instanceof Promise ? found.catch((error: unknown) => Promise.reject(transactionFatal(asError(error)))) : found;
  } catch (error) {
    throw transactionFatal(asError(error));
  }
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new StowageError("INTERNAL", String(error)));

const sizeOf = (write: OrderedWrite): number => write.key.length + (write.value?.length ?? 0);
