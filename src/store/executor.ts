import type { EngineWork } from "../engines/engine.js";

/**
 * How primitive handles reach the engine: the store runs each call as its own atomic write (or committed read), a
 * transaction runs them inside itself. Handles are written once against this interface.
 */
export interface Executor {
  read<T>(work: EngineWork<T>): Promise<T>;
  /** `bytes`: key and value bytes written, for the transaction size limit. */
  write<T>(work: EngineWork<T>, bytes: number): Promise<T>;
  /** The store clock. */
  now(): number;
}
