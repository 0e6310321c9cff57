import { isStowageError, StowageError } from "../api/errors.js";
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
  /** Bytes of key and value, counted as the store counts them against its transaction limit. */
  readonly bytes: number;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: StowageError) => void;
}

/** Runs one write on a transaction's handles; the store validates it there, as it would outside a batch. */
export function runWrite(tx: TransactionScope, write: PendingWrite): Promise<unknown> {
  const value = write.value as Uint8Array;
  switch (write.op) {
    case "put":
      return tx.kv(write.namespace).put(write.key, value, write.options as PutOptions | undefined);
    case "delete":
      return tx.kv(write.namespace).delete(write.key);
    case "append":
      return tx.log(write.namespace).append(write.key, value);
    case "push":
      return tx.queue(write.namespace, write.options as BatchPushOptions | undefined).push(write.key, value);
  }
}

/** Key plus value bytes; anything that is not a string or bytes counts 0 (the store refuses it anyway). */
export function byteSizeOf(key: unknown, value: unknown): number {
  const keyBytes = typeof key === "string" ? Buffer.byteLength(key, "utf8") : 0;
  return keyBytes + (value instanceof Uint8Array ? value.byteLength : 0);
}

/**
 * Whether an error thrown by one write belongs to that write — its input or a limit it hits (a full queue) — so that
 * its neighbours can commit without it. Any other error (CLOSED, BACKEND_UNAVAILABLE, CONFLICT, …) concerns the store
 * or the transaction as a whole: taking the batch apart would only fail the same way more often.
 */
export function failsOnItsOwn(error: unknown): boolean {
  return !(error instanceof StowageError) || error.code === "INVALID_ARGUMENT" || error.code === "LIMIT_EXCEEDED";
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
