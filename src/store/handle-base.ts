import type { Codec } from "../api/codec.js";
import { tighterSizes, type TighterSizes } from "./capabilities.js";
import { CodecGuard } from "./codec-guard.js";
import type { Executor } from "./executor.js";

/** What every primitive handle holds: where its calls go, its namespace, and its codec. */
export abstract class HandleBase<T> {
  protected readonly codec: CodecGuard<T>;
  /** The engine's key and value limits where tighter than `LIMITS` (undefined: none to check). */
  protected readonly sizes: TighterSizes | undefined;

  constructor(
    protected readonly exec: Executor,
    readonly namespace: string,
    codec: Codec<T> | undefined,
  ) {
    this.sizes = tighterSizes(exec.engine);
    this.codec = new CodecGuard(namespace, codec, this.sizes);
  }
}
