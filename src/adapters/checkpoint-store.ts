import { bytes, type Codec } from "../api/codec.js";
import type { Kv, TransactionScope } from "../api/types.js";

/** The KV namespace checkpoints live in. */
export const CHECKPOINTS_NAMESPACE = "checkpoints";

/** One checkpoint as `list` returns it. */
export interface Checkpoint<T> {
  sourceId: string;
  value: T;
}

/**
 * Where each source's position is kept between runs (a binlog offset, a stream sequence, a file cursor): one value
 * per source id, in the `checkpoints` KV namespace. A put is durable when it resolves, so a pipeline that saves its
 * checkpoint only after delivery never restarts ahead of what it delivered. Values are bytes; `withCodec` gives a
 * typed view (`json<T>()`, for instance) over the same entries.
 */
export class CheckpointStore<T = Uint8Array> {
  private readonly kv: Kv<T>;

  /** Over a store, or over a transaction scope to save a checkpoint together with other writes. */
  constructor(store: Pick<TransactionScope, "kv">, codec?: Codec<T>) {
    this.kv = store.kv<T>(CHECKPOINTS_NAMESPACE, { codec: codec ?? (bytes as unknown as Codec<T>) });
  }

  /** The same checkpoints seen through `codec`. */
  static withCodec<V>(store: Pick<TransactionScope, "kv">, codec: Codec<V>): CheckpointStore<V> {
    return new CheckpointStore<V>(store, codec);
  }

  /** Saves `value` as the checkpoint of `sourceId`, replacing the previous one. */
  put(sourceId: string, value: T): Promise<void> {
    return this.kv.put(sourceId, value);
  }

  /** The checkpoint of `sourceId`, or `undefined` when it has none. */
  get(sourceId: string): Promise<T | undefined> {
    return this.kv.get(sourceId);
  }

  /** Forgets `sourceId`'s checkpoint; true when there was one. */
  delete(sourceId: string): Promise<boolean> {
    return this.kv.delete(sourceId);
  }

  /** Every checkpoint whose source id starts with `prefix` (all of them by default), in source id order. */
  async list(prefix = ""): Promise<Array<Checkpoint<T>>> {
    const found: Array<Checkpoint<T>> = [];
    let cursor: string | undefined;
    // Paged, so any number of sources is listed whole.
    for (;;) {
      const page = await this.kv.list(prefix === "" ? { cursor, limit: 1_000 } : { prefix, cursor, limit: 1_000 });
      for (const entry of page.entries) found.push({ sourceId: entry.key, value: entry.value });
      if (page.cursor === undefined) return found;
      cursor = page.cursor;
    }
  }
}
