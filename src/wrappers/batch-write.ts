import { isStowageError, StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { PutOptions, QueueOptions, TransactionScope } from "../api/types.js";

/** The kinds of write a {@link BatchWriter} collects. */
export type BatchOp = "put" | "delete" | "append" | "push";

/** Queue options of a batched push: the bound the push is checked against, as `store.queue` takes them. */
export type BatchPushOptions = Pick<QueueOptions<Uint8Array>, "maxLen" | "overflow">;

/** One write waiting for its transaction, with the promise it settles. */
export interface PendingWrite {
  readonly op: BatchOp;
  readonly namespace: string;
  readonly key: string;
  /** A private copy of the caller's bytes (absent for a delete). */
  readonly value?: Uint8Array;
  readonly options?: PutOptions | BatchPushOptions;
  /**
   * A put's TTL deadline on the store clock, fixed when the write was made: the TTL counts from `writer.put`, not from
   * the flush (absent without a valid TTL; an invalid one is left for the store to refuse).
   */
  readonly expiresAt?: number;
  /** Bytes of key and value, counted as the store counts them against its transaction limit. */
  readonly bytes: number;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: StowageError) => void;
}

/**
 * Runs one write on a transaction's handles; the store validates it there, as it would outside a batch. `now` is the
 * store clock, for what is left of a put's TTL.
 */
export function runWrite(tx: TransactionScope, write: PendingWrite, now: () => number): Promise<unknown> {
  const value = write.value as Uint8Array;
  switch (write.op) {
    case "put":
      return tx.kv(write.namespace).put(write.key, value, putOptions(write, now));
    case "delete":
      return tx.kv(write.namespace).delete(write.key);
    case "append":
      return tx.log(write.namespace).append(write.key, value);
    case "push":
      return tx.queue(write.namespace, write.options as BatchPushOptions | undefined).push(write.key, value);
  }
}

/**
 * The put's options at the flush: its TTL is what is left until the deadline set at `writer.put` — at least 1 ms, so
 * that a put whose TTL ran out while it waited still replaces the old value and then expires, as it would have.
 */
function putOptions(write: PendingWrite, now: () => number): PutOptions | undefined {
  const options = write.options as PutOptions | undefined;
  if (write.expiresAt === undefined) return options;
  return { ...options, ttlMs: Math.max(1, write.expiresAt - now()) };
}

/** The TTL deadline of a put made now, when its options carry a TTL the store would take; undefined otherwise. */
export function deadlineOf(options: PutOptions | undefined, now: () => number): number | undefined {
  const ttlMs = options?.ttlMs;
  return typeof ttlMs === "number" && Number.isSafeInteger(ttlMs) && ttlMs >= 1 && ttlMs <= LIMITS.maxTtlMs ? now() + ttlMs : undefined;
}

/** Key plus value bytes; anything that is not a string or bytes counts 0 (the store refuses it anyway). */
export function byteSizeOf(key: unknown, value: unknown): number {
  const keyBytes = typeof key === "string" ? Buffer.byteLength(key, "utf8") : 0;
  return keyBytes + (value instanceof Uint8Array ? value.byteLength : 0);
}

/** Every batched write rejects with a typed error: a foreign one is wrapped as INTERNAL, with it as the cause. */
export function asStowageError(error: unknown, write: Pick<PendingWrite, "namespace" | "key">): StowageError {
  if (isStowageError(error)) return error;
  const context = { namespace: String(write.namespace), key: String(write.key), cause: error };
  return new StowageError("INTERNAL", `a batched write failed: ${error instanceof Error ? error.message : String(error)}`, context);
}

/** A copy of plain options, so that a caller changing its object before the flush changes nothing; anything else as is. */
export function copyOptions<O>(options: O): O {
  return typeof options === "object" && options !== null && !Array.isArray(options) ? { ...options } : options;
}
