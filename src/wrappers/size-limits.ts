import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { Store } from "../api/types.js";
import type { StoredStreamRecord, StoredWorkPush } from "../engines/engine.js";
import { checkInteger, checkNamespace, checkOptions, describeType, utf8Length } from "../store/validate.js";
import { judgingHooks, layerStore, type OpCall } from "./layer.js";

/** Options of {@link withSizeLimits}; each limit defaults to the engine's own and may only be tighter. */
export interface SizeLimitOptions {
  /** Longest key written, in UTF-8 bytes (for streams: the space and segment names), 1 to {@link LIMITS.maxKeyBytes}. */
  maxKeyBytes?: number;
  /**
   * Largest value written, in bytes as stored — after the codec and, for streams, compression — 1 to
   * {@link LIMITS.maxValueBytes}. Applies to each record of a produce.
   */
  maxValueBytes?: number;
  /** Most records in one `stream.produce`, 1 to {@link LIMITS.maxTransactionWrites}. */
  maxRecordsPerProduce?: number;
  /** Largest headers of one stream record, in bytes of their JSON as stored, 1 to {@link LIMITS.maxHeaderBytes}. */
  maxHeaderBytes?: number;
  /** Only writes to these namespaces are checked (default: every namespace). */
  namespaces?: readonly string[];
}

/** What the size limits refused since the store was wrapped. */
export interface SizeLimitStats {
  /** Writes refused with LIMIT_EXCEEDED by these limits (not by the engine's own). */
  refused: number;
}

/** The control a size-limited store exposes as `store.sizeLimits`: the limits in force, and stats. */
export interface SizeLimits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxRecordsPerProduce: number;
  readonly maxHeaderBytes: number;
  /** The namespaces checked; undefined: all. */
  readonly namespaces: readonly string[] | undefined;
  stats(): SizeLimitStats;
}

const OPTION_FIELDS = ["maxKeyBytes", "maxValueBytes", "maxRecordsPerProduce", "maxHeaderBytes", "namespaces"];

/**
 * The checks behind {@link withSizeLimits}, on the operations that store bytes. Single writes are checked by the
 * layer's gate, before they reach the engine (a refused write never enters a SQLite group commit); operations inside
 * a transaction as they run, which fails the transaction.
 */
class SizeChecker {
  refused = 0;

  constructor(
    private readonly limits: Omit<SizeLimits, "stats">,
    private readonly checked: ReadonlySet<string> | undefined,
  ) {}

  /** Throws LIMIT_EXCEEDED for a call that would store something over a limit (see `check`), and counts it. */
  judge(call: OpCall): void {
    const ns = call.namespace;
    if (ns === undefined || (this.checked !== undefined && !this.checked.has(ns))) return;
    try {
      this.check(call, ns);
    } catch (error) {
      this.refused += 1;
      throw error;
    }
  }

  /**
   * Throws LIMIT_EXCEEDED when the call would store a key or value over a limit. Reads, deletes, acks and drops pass:
   * they store nothing, and data kept from before a limit was tightened stays readable and removable.
   */
  private check(call: OpCall, ns: string): void {
    const a = call.args;
    switch (call.op) {
      // (ns, key, value, …) and slotCas's (ns, key, expectedVersion, value)
      case "kvPut":
      case "logAppend":
      case "slotUpsert":
      case "queuePush":
        this.checkKey(ns, a[1] as string, "key");
        this.checkValue(ns, a[1] as string, a[2] as Uint8Array, "value");
        break;
      case "slotCas":
        this.checkKey(ns, a[1] as string, "key");
        this.checkValue(ns, a[1] as string, a[3] as Uint8Array, "value");
        break;
      case "workPush":
        (a[1] as readonly StoredWorkPush[]).forEach((item, i) => {
          this.checkKey(ns, item.key, "key");
          this.checkValue(ns, item.key, item.value, `items[${i}] value`);
          if (item.dedup !== null) this.checkKey(ns, item.dedup, `items[${i}] dedupKey`);
        });
        break;
      case "streamProduce": {
        const [, space, segment, records] = a as [string, string, string, readonly StoredStreamRecord[]];
        this.checkKey(ns, space, "space");
        this.checkKey(ns, segment, "segment");
        if (records.length > this.limits.maxRecordsPerProduce) {
          throw this.refuse(`${records.length} records in one produce; this store's limit is ${this.limits.maxRecordsPerProduce}`, ns, segment);
        }
        records.forEach((record, i) => {
          this.checkValue(ns, segment, record.value, `records[${i}] value`);
          this.checkHeaders(ns, segment, record.headers, i);
        });
        break;
      }
    }
  }

  private checkKey(ns: string, key: string, what: string): void {
    // Bytes are at least characters and at most three per UTF-16 unit: most keys need no count.
    if (key.length * 3 <= this.limits.maxKeyBytes) return;
    const size = utf8Length(key);
    if (size > this.limits.maxKeyBytes) throw this.refuse(`${what} is ${size} bytes; this store's limit is ${this.limits.maxKeyBytes} bytes of UTF-8`, ns, key);
  }

  private checkValue(ns: string, key: string, value: Uint8Array, what: string): void {
    if (value.byteLength > this.limits.maxValueBytes) {
      throw this.refuse(`${what} is ${value.byteLength} bytes as stored; this store's limit is ${this.limits.maxValueBytes} bytes`, ns, key);
    }
  }

  private checkHeaders(ns: string, segment: string, headers: string | null, index: number): void {
    // Headers are stored as JSON text; the same rule as keys: most need no count.
    if (headers === null || headers.length * 3 <= this.limits.maxHeaderBytes) return;
    const size = utf8Length(headers);
    if (size > this.limits.maxHeaderBytes) throw this.refuse(`records[${index}] headers are ${size} bytes as JSON; this store's limit is ${this.limits.maxHeaderBytes} bytes`, ns, segment);
  }

  private refuse(message: string, namespace: string, key: string): StowageError {
    return new StowageError("LIMIT_EXCEEDED", message, { namespace, key });
  }
}

/**
 * Key and value limits tighter than the engine's, checked on every write that stores bytes (`kv.put`, `log.append`,
 * `slot.upsert`, `slot.cas`, `queue.push`, `stream.produce`, in transactions too) before it runs: a write over a limit
 * fails with `LIMIT_EXCEEDED`, naming the size and the limit, and stores nothing; in a transaction that fails the
 * transaction, unless the body catches it. A stream record's headers have their own limit, in bytes of their JSON.
 * Values are measured as stored — after the codec, and after compression
 * for a stream with `compression: "deflate"` — and keys in UTF-8 bytes. Reads, deletes, acks and drops are never
 * refused, so data written before the limits were tightened stays readable and removable.
 *
 * @example
 * ```ts
 * const store = withSizeLimits(await openStore(), { maxKeyBytes: 200, maxValueBytes: 64 * 1024, namespaces: ["dlq"] });
 * await store.queue("dlq").push("pipe/orders", hugeEvent); // LIMIT_EXCEEDED: value is 70000 bytes as stored; …
 * ```
 */
export function withSizeLimits<S extends Store>(store: S, options: SizeLimitOptions = {}): S & { sizeLimits: SizeLimits } {
  const opts = checkOptions(undefined, "size limit options", options ?? null, OPTION_FIELDS);
  const limit = (name: string, value: unknown, engineLimit: number): number =>
    value === undefined ? engineLimit : checkInteger(undefined, `size limit ${name} (at most the engine's own)`, value, 1, engineLimit);
  const namespaces = checkNamespaces(opts.namespaces);
  const limits = Object.freeze({
    maxKeyBytes: limit("maxKeyBytes", opts.maxKeyBytes, LIMITS.maxKeyBytes),
    maxValueBytes: limit("maxValueBytes", opts.maxValueBytes, LIMITS.maxValueBytes),
    maxRecordsPerProduce: limit("maxRecordsPerProduce", opts.maxRecordsPerProduce, LIMITS.maxTransactionWrites),
    maxHeaderBytes: limit("maxHeaderBytes", opts.maxHeaderBytes, LIMITS.maxHeaderBytes),
    namespaces,
  });
  const checker = new SizeChecker(limits, namespaces === undefined ? undefined : new Set(namespaces));
  const control: SizeLimits = { ...limits, stats: () => ({ refused: checker.refused }) };
  return layerStore(store, judgingHooks((call) => checker.judge(call)), { sizeLimits: Object.freeze(control) });
}

function checkNamespaces(namespaces: unknown): readonly string[] | undefined {
  if (namespaces === undefined) return undefined;
  if (!Array.isArray(namespaces) || namespaces.length === 0) {
    throw new StowageError("INVALID_ARGUMENT", `size limit namespaces must be a non-empty array of namespace names (leave it out to check every namespace), got ${describeType(namespaces)}`);
  }
  for (const ns of namespaces) checkNamespace(ns);
  return Object.freeze([...(namespaces as string[])]);
}
