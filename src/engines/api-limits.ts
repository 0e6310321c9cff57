import { LIMITS } from "../api/limits.js";
import type { EngineLimits } from "./engine.js";

/** stowage's `LIMITS` as an engine's manifest declares them: for an engine whose own limits are all looser. */
export const API_LIMITS: Readonly<EngineLimits> = Object.freeze({
  maxKeyBytes: LIMITS.maxKeyBytes,
  maxValueBytes: LIMITS.maxValueBytes,
  maxTransactionWrites: LIMITS.maxTransactionWrites,
  maxTransactionBytes: LIMITS.maxTransactionBytes,
});
