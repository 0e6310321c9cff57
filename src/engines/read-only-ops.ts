import { StowageError } from "../api/errors.js";
import type { EngineOps } from "./engine.js";
import { OP_FACTS, OP_NAMES } from "./engine-calls.js";

/**
 * `ops` with every write operation (`OP_FACTS[op].kind === "write"`) refused INTERNAL before it runs: the ops of a
 * snapshot, which a dump only reads (a write there is a bug of the caller, not something to retry).
 */
export function readOnlyOps(ops: EngineOps, where: string): EngineOps {
  const guarded: Record<string, unknown> = {};
  for (const op of OP_NAMES) {
    const original = (ops[op] as (...args: unknown[]) => unknown).bind(ops);
    guarded[op] =
      OP_FACTS[op].kind === "read"
        ? original
        : () => {
            throw new StowageError("INTERNAL", `${op} through a snapshot of ${where}: a snapshot is read-only`);
          };
  }
  return guarded as unknown as EngineOps;
}
