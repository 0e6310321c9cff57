import { LIMITS } from "../api/limits.js";
import type { EngineLimits, EngineSupports } from "./engine.js";

/** stowage's `LIMITS` as an engine's manifest declares them: for an engine whose own limits are all looser. */
export const API_LIMITS: Readonly<EngineLimits> = Object.freeze({
  maxKeyBytes: LIMITS.maxKeyBytes,
  maxValueBytes: LIMITS.maxValueBytes,
  maxTransactionWrites: LIMITS.maxTransactionWrites,
  maxTransactionBytes: LIMITS.maxTransactionBytes,
});

/** The manifest of an engine that serves everything, across processes, within stowage's own limits (SQLite, PostgreSQL). */
export const SUPPORTS_EVERYTHING: EngineSupports = Object.freeze({
  liveFeeds: true,
  kvHistory: true,
  crossProcess: true,
  crossNamespaceTransactions: true,
  workQueues: true,
  limits: API_LIMITS,
});
