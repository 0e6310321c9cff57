import type { Codec } from "../api/codec.js";
import { tighterSizes } from "./capabilities.js";
import { CodecGuard } from "./codec-guard.js";
import type { Executor } from "./executor.js";

/** What every primitive handle holds: where its calls go, its namespace, and its codec. */
export abstract class HandleBase<T> {
  protected readonly codec: CodecGuard<T>;

  constructor(
    protected readonly exec: Executor,
    readonly namespace: string,
    codec: Codec<T> | undefined,
  ) {
    this.codec = new CodecGuard(namespace, codec, tighterSizes(exec.engine));
  }
}
