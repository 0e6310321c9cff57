import type { Awaitable } from "../engines/engine.js";
import type { CallResult, EngineCall } from "../engines/engine-calls.js";
import type { EngineProfile } from "./capabilities.js";
import type { FeedContext } from "./feed.js";
import type { WorkerSet } from "./worker-set.js";

/**
 * How primitive handles reach the engine: the store runs each call as its own atomic write (or committed read), a
 * transaction runs them inside itself. Handles are written once against this interface, and pass each engine call
 * as data (`{ op, args }`).
 */
export interface Executor {
  /** A synchronous engine's answer comes back as the value itself; callers `await` it either way. */
  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>>;
  /** `bytes`: key and value bytes written, and `writes`: rows written (default 1), for the transaction limits. */
  write<C extends EngineCall>(call: C, bytes: number, writes?: number): Promise<CallResult<C>>;
  /**
   * For a call that asks the engine nothing (a count of 0): fails as an engine call would where the executor cannot
   * be used (a closed store, an ended transaction), and otherwise does nothing.
   */
  idle(): Awaitable<void>;
  /** The store clock. */
  now(): number;
  /** The engine's name and manifest, for the capability and size checks (see capabilities.ts). */
  readonly engine: EngineProfile;
  /** For live feeds; absent inside transactions and on engines without a change signal. */
  readonly feeds?: FeedContext;
  /** The store's running workers (`WorkQueue.work`); absent inside transactions, where workers are refused. */
  readonly workers?: WorkerSet;
}
