import { StowageError } from "../api/errors.js";
import type { EngineOps } from "./engine.js";

/** The work-queue operations of {@link EngineOps}. */
export type WorkOpName = Extract<keyof EngineOps, `work${string}`>;

/** The work-queue operations of {@link EngineOps}, as one object. */
export type WorkOps = Pick<EngineOps, WorkOpName>;

/**
 * Work operations that refuse at once. They return `never`, so the same object fits an {@link EngineOps} and a table
 * of SQL programs (whose factories it replaces: the refusal comes before any statement is made).
 */
export type RefusedWorkOps = { readonly [K in WorkOpName]: (...args: Parameters<EngineOps[K]>) => never };

function refuse(): never {
  // The store refuses work calls NOT_SUPPORTED, naming the engine, before any I/O (requireCapability); reaching an
  // engine that has none is a bug in a layer above it.
  throw new StowageError("NOT_SUPPORTED", "this engine has no work-queue operations (its supports.workQueues is false)");
}

/**
 * What an engine family without work queues spreads into its operations, so that its ops object stays a whole
 * {@link EngineOps} until the family implements them.
 */
export const WORK_UNSUPPORTED_OPS: RefusedWorkOps = Object.freeze({
  workPush: refuse,
  workClaim: refuse,
  workExtend: refuse,
  workSettle: refuse,
  workPoll: refuse,
  workCounts: refuse,
  workKeys: refuse,
  workDead: refuse,
  workRequeue: refuse,
  workPurge: refuse,
  workDump: refuse,
  workLastId: refuse,
  workRestore: refuse,
});
