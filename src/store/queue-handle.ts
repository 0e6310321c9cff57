import type { Codec } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { OverflowPolicy, PeekOptions, Queue, QueueItem, QueueOptions } from "../api/types.js";
import type { QueueBound } from "../engines/queue-bound.js";
import { HandleBase } from "./handle-base.js";
import type { Executor } from "./executor.js";
import { checkInteger, checkKey, checkOptions, utf8Length } from "./validate.js";

/** The store's {@link Queue} implementation; the engine applies the bound inside the push's atomic write. */
export class QueueHandle<T> extends HandleBase<T> implements Queue<T> {
  private readonly bound: QueueBound;

  constructor(exec: Executor, namespace: string, options: QueueOptions<T> | undefined) {
    const opts = checkOptions(namespace, "queue options", options, ["maxLen", "overflow", "codec"]);
    super(exec, namespace, opts.codec as Codec<T> | undefined);
    const maxLen = opts.maxLen === undefined ? LIMITS.maxQueueLength : checkInteger(namespace, "maxLen", opts.maxLen, 1, LIMITS.maxQueueLength);
    if (opts.overflow !== undefined && opts.overflow !== "reject" && opts.overflow !== "drop-oldest") {
      throw new StowageError("INVALID_ARGUMENT", `overflow must be "reject" or "drop-oldest", got ${JSON.stringify(opts.overflow)}`, { namespace });
    }
    this.bound = { maxLen, overflow: (opts.overflow as OverflowPolicy | undefined) ?? "reject" };
  }

  async push(key: string, value: T): Promise<number> {
    const ns = this.namespace;
    checkKey(ns, key);
    const bytes = this.codec.encode(key, value);
    const now = this.exec.now();
    const bound = this.bound;
    return this.exec.write({ op: "queuePush", args: [ns, key, bytes, now, bound] }, utf8Length(key) + bytes.byteLength);
  }

  async peek(key: string, limit = 1, options?: PeekOptions): Promise<QueueItem<T>[]> {
    const ns = this.namespace;
    checkKey(ns, key);
    const max = checkInteger(ns, "limit", limit, 1, LIMITS.maxPageSize, key);
    const opts = checkOptions(ns, "peek options", options, ["afterId"], key);
    const afterId = opts.afterId === undefined ? 0 : checkInteger(ns, "afterId", opts.afterId, 0, Number.MAX_SAFE_INTEGER, key);
    const rows = await this.exec.read({ op: "queuePeek", args: [ns, key, afterId, max] });
    return rows.map((row) => ({ id: row.id, value: this.codec.decode(key, row.value), pushedAt: row.pushedAt }));
  }

  async ack(key: string, id: number): Promise<boolean> {
    const ns = this.namespace;
    checkKey(ns, key);
    const itemId = checkInteger(ns, "id", id, 1, Number.MAX_SAFE_INTEGER, key);
    return this.exec.write({ op: "queueAck", args: [ns, key, itemId] }, utf8Length(key));
  }

  async dropOldest(key: string, count: number): Promise<number> {
    const ns = this.namespace;
    checkKey(ns, key);
    const n = checkInteger(ns, "count", count, 0, Number.MAX_SAFE_INTEGER, key);
    // A count of 0 writes nothing but still asks the executor, so a closed store or an ended transaction is CLOSED.
    if (n === 0) {
      await this.exec.idle();
      return 0;
    }
    return this.exec.write({ op: "queueDropOldest", args: [ns, key, n] }, utf8Length(key));
  }

  async len(key: string): Promise<number> {
    const ns = this.namespace;
    checkKey(ns, key);
    return this.exec.read({ op: "queueLen", args: [ns, key] });
  }
}
