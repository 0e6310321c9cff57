import { StowageError } from "../api/errors.js";
import type { OverflowPolicy } from "../api/types.js";

/** A queue's bound as a push carries it to the engine. */
export interface QueueBound {
  maxLen: number;
  overflow: OverflowPolicy;
}

/** How many items a push must drop first (0: none), or the LIMIT_EXCEEDED a "reject" queue answers when full. */
export function itemsToDrop(ns: string, key: string, length: number, bound: QueueBound): number {
  if (length < bound.maxLen) return 0;
  if (bound.overflow === "reject") {
    throw new StowageError("LIMIT_EXCEEDED", `queue is full (${length} of maxLen ${bound.maxLen}, overflow "reject")`, { namespace: ns, key });
  }
  return length - bound.maxLen + 1;
}
