import { isStowageError } from "../api/errors.js";
import type { HealthOptions, HealthReport } from "../api/types.js";
import type { Engine, EngineFacts } from "../engines/engine.js";
import { checkOptionalInteger, checkOptions } from "./validate.js";

/** The namespace the probe reads: a log's last sequence, one indexed lookup that no data of stowage's uses. */
export const PROBE_NAMESPACE = "stowage.health";
const DEFAULT_TIMEOUT_MS = 1_000;
const DEFAULT_DEGRADED_MS = 100;
/** Longest probe time an option may name: a minute. */
const MAX_PROBE_MS = 60_000;

/** The probe read, on the engine itself (layers pass it down untouched, so a rate limit never refuses a probe). */
export function probeEngine(engine: Engine): Promise<unknown> {
  if (engine.probe !== undefined) return engine.probe();
  try {
    return Promise.resolve(engine.read({ op: "logLastSeq", args: [PROBE_NAMESPACE] }));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Probes the engine with one cheap read and gathers its facts. Unhealthy when the probe fails or takes longer than
 * `timeoutMs`; degraded when it takes `degradedMs` or more, or the engine reports a warning (a pool with waiting
 * calls, a nearly full disk). Never throws for an engine problem: that is what the report is for.
 */
export async function checkHealth(engine: Engine, open: boolean, options: HealthOptions = {}): Promise<HealthReport> {
  const opts = checkOptions(undefined, "health options", options, ["timeoutMs", "degradedMs"]);
  const timeoutMs = checkOptionalInteger(undefined, "health option timeoutMs", opts.timeoutMs, DEFAULT_TIMEOUT_MS, 1, MAX_PROBE_MS);
  const degradedMs = checkOptionalInteger(undefined, "health option degradedMs", opts.degradedMs, DEFAULT_DEGRADED_MS, 1, MAX_PROBE_MS);
  const base = { engine: engine.name, location: engine.location, supports: engine.supports, checkedAt: Date.now() };
  if (!open) return { ...base, status: "unhealthy", probeMs: 0, reasons: ["the store is closed"], facts: {} };
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
    timer.unref();
  });
  const reasons: string[] = [];
  let status: HealthReport["status"] = "healthy";
  try {
    const outcome = await Promise.race([probeEngine(engine).then(() => "ok" as const), timedOut]);
    if (outcome === "timeout") {
      status = "unhealthy";
      reasons.push(`the probe read took longer than ${timeoutMs} ms`);
    }
  } catch (error) {
    status = "unhealthy";
    reasons.push(`the probe read failed: ${isStowageError(error) ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
  }
  const probeMs = performance.now() - started;
  let facts: EngineFacts = { facts: {}, warnings: [] };
  try {
    facts = (await engine.facts?.()) ?? facts;
  } catch (error) {
    facts.warnings.push(`engine facts unavailable: ${String(error)}`);
  }
  if (status === "healthy" && probeMs >= degradedMs) {
    status = "degraded";
    reasons.push(`the probe read took ${probeMs.toFixed(1)} ms (degraded from ${degradedMs} ms)`);
  }
  if (facts.warnings.length > 0) {
    if (status === "healthy") status = "degraded";
    reasons.push(...facts.warnings);
  }
  return { ...base, status, probeMs, reasons, facts: facts.facts };
}
