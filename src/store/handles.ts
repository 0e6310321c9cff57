import { StowageError } from "../api/errors.js";
import type { CodecOptions, Kv, Log, Queue, QueueOptions, Slot, Stream, StreamOptions, TransactionScope, WorkQueue, WorkQueueOptions } from "../api/types.js";
import type { Executor } from "./executor.js";
import { KvHandle } from "./kv-handle.js";
import { LogHandle } from "./log-handle.js";
import { QueueHandle } from "./queue-handle.js";
import { SlotHandle } from "./slot-handle.js";
import { StreamHandle } from "./stream-handle.js";
import { WorkQueueHandle } from "./work-handle.js";
import { checkNamespace, checkOptions } from "./validate.js";

/** Builds primitive handles over one executor: the store's, or a transaction's. */
export class HandleFactory implements TransactionScope {
  constructor(
    private readonly exec: Executor,
    private readonly assertUsable: () => void,
    /** Called as each handle is taken (a transaction's refuses a second namespace where the engine cannot span them). */
    private readonly admitNamespace?: (primitive: string, namespace: string) => void,
  ) {}

  kv<T = Uint8Array>(namespace: string, options?: CodecOptions<T>): Kv<T> {
    return new KvHandle<T>(this.exec, this.open("kv", namespace), this.codecOf(namespace, options));
  }

  log<T = Uint8Array>(namespace: string, options?: CodecOptions<T>): Log<T> {
    return new LogHandle<T>(this.exec, this.open("log", namespace), this.codecOf(namespace, options));
  }

  slot<T = Uint8Array>(namespace: string, options?: CodecOptions<T>): Slot<T> {
    return new SlotHandle<T>(this.exec, this.open("slot", namespace), this.codecOf(namespace, options));
  }

  queue<T = Uint8Array>(namespace: string, options?: QueueOptions<T>): Queue<T> {
    return new QueueHandle<T>(this.exec, this.open("queue", namespace), options);
  }

  stream<T = Uint8Array>(namespace: string, options?: StreamOptions<T>): Stream<T> {
    const ns = this.open("stream", namespace);
    const opts = checkOptions(ns, "stream options", options, ["codec", "compression"]);
    const compression = opts.compression ?? "none";
    if (compression !== "none" && compression !== "deflate") {
      throw new StowageError("INVALID_ARGUMENT", `compression must be "none" or "deflate", got ${JSON.stringify(compression)}`, { namespace: ns });
    }
    return new StreamHandle<T>(this.exec, ns, opts.codec as CodecOptions<T>["codec"], compression);
  }

  workQueue<T = Uint8Array>(namespace: string, options?: WorkQueueOptions<T>): WorkQueue<T> {
    return new WorkQueueHandle<T>(this.exec, this.open("work", namespace), options);
  }

  private open(primitive: string, namespace: string): string {
    this.assertUsable();
    checkNamespace(namespace);
    this.admitNamespace?.(primitive, namespace);
    return namespace;
  }

  private codecOf<T>(namespace: string, options: CodecOptions<T> | undefined) {
    return checkOptions(namespace, "options", options, ["codec"]).codec as CodecOptions<T>["codec"];
  }
}
