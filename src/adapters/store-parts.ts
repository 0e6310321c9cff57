import { LIMITS } from "../api/limits.js";
import type { Clock, Store } from "../api/types.js";
import type { EngineLimits } from "../engines/engine.js";
import { storePartsOf } from "../store/store.js";

/**
 * The clock `store` judges KV TTL by (its `clock` option): adapters judge their own deadlines by it too, so that a
 * lease and the KV entry holding it expire together. A store built elsewhere (no stowage internals) gets `Date.now`.
 */
export function storeClock(store: Store): Clock {
  return storePartsOf(store)?.clock ?? Date.now;
}

/** The commit limits of the engine beneath `store`, so that an adapter splits bulk work to what one commit holds. */
export function commitLimits(store: Store): Pick<EngineLimits, "maxTransactionWrites" | "maxTransactionBytes"> {
  const limits = storePartsOf(store)?.engine.supports.limits;
  return {
    maxTransactionWrites: limits?.maxTransactionWrites ?? LIMITS.maxTransactionWrites,
    maxTransactionBytes: limits?.maxTransactionBytes ?? LIMITS.maxTransactionBytes,
  };
}
