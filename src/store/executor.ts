import type { Awaitable, EngineWork } from "../engines/engine.js";
import type { EngineProfile } from "./capabilities.js";
import type { FeedContext } from "./feed.js";

/**
 * How primitive handles reach the engine: the store runs each call as its own atomic write (or committed read), a
 * transaction runs them inside itself. Handles are written once against this interface.
 */
export interface Executor {
  /** A synchronous engine's answer comes back as the value itself; callers `await` it either way. */
  read<T>(work: EngineWork<T>): Awaitable<T>;
  /** `bytes`: key and value bytes written, and `writes`: rows written (default 1), for the transaction limits. */
  write<T>(work: EngineWork<T>, bytes: number, writes?: number): Promise<T>;
  /** The store clock. */
  now(): number;
  /** The engine's name and manifest, for the capability and size checks (see capabilities.ts). */
  readonly engine: EngineProfile;
  /** For live feeds; absent inside transactions and on engines without a change signal. */
  readonly feeds?: FeedContext;
}
