import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { PutOptions, Store } from "../api/types.js";
import { insideTransactionOf, storePartsOf } from "../store/store.js";
import { checkOptionalInteger, checkOptions } from "../store/validate.js";
import { commitRun, splitIntoTransactions, type CommitTally, type FailedWrite } from "./batch-commit.js";
import { byteSizeOf, copyOptions, deadlineOf, type BatchOp, type BatchPushOptions, type PendingWrite } from "./batch-write.js";

export type { BatchOp, BatchPushOptions } from "./batch-write.js";
export type { FailedWrite } from "./batch-commit.js";

const DEFAULTS = { maxWrites: 500, maxBytes: 1024 * 1024, flushIntervalMs: 50, maxPending: 100_000 } as const;
const OPTION_NAMES = ["maxWrites", "maxBytes", "flushIntervalMs", "maxPending", "onFlush"];
/** Longest flush interval that may be configured: an hour. */
const MAX_INTERVAL_MS = 3_600_000;

/** What started a flush. */
export type FlushTrigger = "size" | "interval" | "flush" | "close";

/** Options of {@link BatchWriter}. */
export interface BatchWriterOptions {
  /** Most writes per transaction (default 500, at most {@link LIMITS.maxTransactionWrites}); this many pending start a flush. */
  maxWrites?: number;
  /**
   * Most bytes of keys and values per transaction (default 1 MiB, at most {@link LIMITS.maxTransactionBytes}); this
   * many pending start a flush. A single write larger than this goes in a transaction of its own.
   */
  maxBytes?: number;
  /** Longest wait of a write for its flush, in ms (default 50; 0: flush only on size, `flush()` and `close()`). */
  flushIntervalMs?: number;
  /** Writes pending at most (default 100,000): a write beyond them fails LIMIT_EXCEEDED at once, so memory stays bounded. */
  maxPending?: number;
  /** Called after each flush that had writes, with its report; what it throws is ignored. */
  onFlush?: (report: FlushReport) => void;
}

/** What one flush did. */
export interface FlushReport {
  trigger: FlushTrigger;
  /** Writes the flush took. */
  writes: number;
  /** Writes committed. */
  committed: number;
  /** Writes that failed, in the order they were made; each one's promise rejected with its error. */
  failed: FailedWrite[];
  /** Transactions committed. */
  transactions: number;
  /** Transactions rolled back: a failing write was taken out and the rest retried, or the transaction failed as a whole. */
  rolledBack: number;
  /** How long the flush took. */
  durationMs: number;
}

/** Counters of a {@link BatchWriter} since it was made. */
export interface BatchWriterStats {
  /** Flushes that had writes. */
  flushes: number;
  transactions: number;
  rolledBack: number;
  writesCommitted: number;
  writesFailed: number;
  /** Writes waiting for a flush (not counting those of a flush under way). */
  pending: number;
  pendingBytes: number;
  /** Duration of the last flush that had writes, or `undefined`. */
  lastFlushMs: number | undefined;
}

/**
 * Collects writes — KV puts and deletes, log appends, queue pushes — and commits them in transactions, far fewer
 * commits than one per write. A flush starts when `maxWrites` writes or `maxBytes` bytes are pending, `flushIntervalMs`
 * after the first pending write, on `flush()` and on `close()`; it cuts the pending writes into transactions of at most
 * `maxWrites` writes and `maxBytes` bytes, run one after another, so writes commit in the order they were made.
 *
 * Each write resolves when its transaction commits, with what the store's own call resolves to, or rejects with its
 * own typed error. A write that fails, whatever its error (a bad key, a value over the limit, a full queue under
 * `overflow: "reject"`, RATE_LIMITED from a rate limit beneath, an engine error), does not take its neighbours down:
 * its transaction rolls back and is retried without it, so only it rejects. A failure of a transaction outside its
 * writes (at its start or commit: CLOSED, BACKEND_UNAVAILABLE, …) rejects every write of that transaction with that
 * error; as with any store call, a write rejected with BACKEND_UNAVAILABLE may still have
 * committed. Nothing is dropped silently: every write settles, and failures are counted in `stats()` and listed in
 * the `onFlush` report.
 *
 * @example
 * ```ts
 * const writer = new BatchWriter(store, { maxWrites: 1_000 });
 * const seq = writer.append("events", "orders", bytes); // resolves to the entry's sequence at the commit
 * await writer.close(); // flushes what is pending; the store stays open
 * ```
 */
export class BatchWriter {
  private readonly maxWrites: number;
  private readonly maxBytes: number;
  private readonly flushIntervalMs: number;
  private readonly maxPending: number;
  private readonly onFlush: ((report: FlushReport) => void) | undefined;
  /** The store's clock (TTLs and timestamps are on it); `Date.now` for a stand-in that only has `transaction`. */
  private readonly clock: () => number;
  private pending: PendingWrite[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Flushes run one at a time, in turn, so that writes commit in the order they were made. */
  private chain: Promise<unknown> = Promise.resolve();
  /** A flush requested and not started yet: later requests join it, as it takes everything pending when it starts. */
  private queued: Promise<FlushReport> | undefined;
  private closing: Promise<void> | undefined;
  private readonly totals = { flushes: 0, transactions: 0, rolledBack: 0, writesCommitted: 0, writesFailed: 0, lastFlushMs: undefined as number | undefined };

  constructor(
    private readonly store: Pick<Store, "transaction">,
    options: BatchWriterOptions = {},
  ) {
    if (typeof store !== "object" || store === null || typeof store.transaction !== "function") {
      throw new StowageError("INVALID_ARGUMENT", "BatchWriter needs a store");
    }
    checkOptions(undefined, "BatchWriter options", options, OPTION_NAMES);
    this.maxWrites = checkOptionalInteger(undefined, "maxWrites", options.maxWrites, DEFAULTS.maxWrites, 1, LIMITS.maxTransactionWrites);
    this.maxBytes = checkOptionalInteger(undefined, "maxBytes", options.maxBytes, DEFAULTS.maxBytes, 1, LIMITS.maxTransactionBytes);
    this.flushIntervalMs = checkOptionalInteger(undefined, "flushIntervalMs", options.flushIntervalMs, DEFAULTS.flushIntervalMs, 0, MAX_INTERVAL_MS);
    this.maxPending = checkOptionalInteger(undefined, "maxPending", options.maxPending, DEFAULTS.maxPending, 1, Number.MAX_SAFE_INTEGER);
    if (options.onFlush !== undefined && typeof options.onFlush !== "function") {
      throw new StowageError("INVALID_ARGUMENT", "onFlush must be a function");
    }
    this.onFlush = options.onFlush;
    this.clock = storePartsOf(store)?.clock ?? Date.now;
  }

  /** Queues a KV put; resolves when it committed. A `ttlMs` counts from this call, not from the flush. */
  put(namespace: string, key: string, value: Uint8Array, options?: PutOptions): Promise<void> {
    return this.add("put", namespace, key, value, copyOptions(options), deadlineOf(options, this.clock)) as Promise<void>;
  }

  /** Queues a KV delete; resolves when it committed: true when a live entry was removed. */
  delete(namespace: string, key: string): Promise<boolean> {
    return this.add("delete", namespace, key, undefined, undefined) as Promise<boolean>;
  }

  /** Queues a log append; resolves when it committed, to the entry's sequence. */
  append(namespace: string, key: string, value: Uint8Array): Promise<number> {
    return this.add("append", namespace, key, value, undefined) as Promise<number>;
  }

  /** Queues a queue push, checked against `maxLen` and `overflow` as `store.queue(namespace, options)` would; resolves to the item's id. */
  push(namespace: string, key: string, value: Uint8Array, options?: BatchPushOptions): Promise<number> {
    return this.add("push", namespace, key, value, copyOptions(options)) as Promise<number>;
  }

  /**
   * Flushes every write made before the call; resolves, once they have all settled, to the report of the flush that
   * took them. It never rejects: failed writes reject their own promises and are listed in the report.
   */
  flush(): Promise<FlushReport> {
    return this.requestFlush("flush");
  }

  /** Flushes what is pending, then refuses new writes with CLOSED. It does not close the store. Idempotent. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closing = this.requestFlush("close").then(() => undefined);
      this.stopTimer();
    }
    return this.closing;
  }

  /** Counters since the writer was made, and what is pending now. */
  stats(): BatchWriterStats {
    return { ...this.totals, pending: this.pending.length, pendingBytes: this.pendingBytes };
  }

  private add(op: BatchOp, namespace: string, key: string, value: Uint8Array | undefined, options: PendingWrite["options"], expiresAt?: number): Promise<unknown> {
    const context = { namespace: String(namespace), key: String(key) };
    if (this.closing !== undefined) return Promise.reject(new StowageError("CLOSED", "the BatchWriter is closed", context));
    if (insideTransactionOf(this.store)) {
      // Its flush is a transaction of the same store: it would wait for this body, which would wait for the flush.
      return Promise.reject(new StowageError("INVALID_ARGUMENT", "a BatchWriter write inside a transaction body of its store would wait for that transaction forever; write through the tx handles", context));
    }
    if (this.pending.length >= this.maxPending) {
      return Promise.reject(new StowageError("LIMIT_EXCEEDED", `the BatchWriter holds ${this.maxPending} pending writes (maxPending); await some first`, context));
    }
    // A copy, so that a caller reusing its buffer before the flush cannot change what is written.
    const copy = value instanceof Uint8Array ? new Uint8Array(value) : value;
    const bytes = byteSizeOf(key, copy);
    return new Promise((resolve, reject) => {
      this.pending.push({ op, namespace, key, value: copy, options, expiresAt, bytes, resolve, reject });
      this.pendingBytes += bytes;
      if (this.pending.length >= this.maxWrites || this.pendingBytes >= this.maxBytes) void this.requestFlush("size");
      else if (this.timer === undefined && this.flushIntervalMs > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          void this.requestFlush("interval");
        }, this.flushIntervalMs);
        // Not unref'd: it is armed only while writes wait, so it keeps a process alive just long enough to commit them.
      }
    });
  }

  private requestFlush(trigger: FlushTrigger): Promise<FlushReport> {
    if (this.queued !== undefined) return this.queued;
    const run = this.chain.then(() => {
      this.queued = undefined;
      return this.flushPending(trigger);
    });
    this.queued = run;
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async flushPending(trigger: FlushTrigger): Promise<FlushReport> {
    const writes = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.stopTimer();
    const started = performance.now();
    const tally: CommitTally = { transactions: 0, rolledBack: 0, committed: 0, failed: [] };
    for (const run of splitIntoTransactions(writes, this.maxWrites, this.maxBytes)) await commitRun(this.store, run, tally, this.clock);
    const report: FlushReport = { trigger, writes: writes.length, ...tally, durationMs: performance.now() - started };
    if (writes.length === 0) return report;
    this.totals.flushes += 1;
    this.totals.transactions += tally.transactions;
    this.totals.rolledBack += tally.rolledBack;
    this.totals.writesCommitted += tally.committed;
    this.totals.writesFailed += tally.failed.length;
    this.totals.lastFlushMs = report.durationMs;
    try {
      this.onFlush?.(report);
    } catch {
      // The report's reader failing changes nothing about the writes, which have all settled already.
    }
    return report;
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
