import { isStowageError, StowageError } from "../api/errors.js";
import type { HealthOptions, HealthReport } from "../api/types.js";
import type { Engine, EngineFacts } from "../engines/engine.js";

/** The namespace the probe reads: a log's last sequence, one indexed lookup that no data of stowage's uses. */
export const PROBE_NAMESPACE = "stowage.health";
const DEFAULT_TIMEOUT_MS = 1_000;
const DEFAULT_DEGRADED_MS = 100;

/** The probe read, on the engine itself (layers pass it down untouched, so a rate limit never refuses a probe). */
export function probeEngine(engine: Engine): Promise<unknown> {
  if (engine.probe !== undefined) return engine.probe();
  try {
    return Promise.resolve(engine.read((ops) => ops.logLastSeq(PROBE_NAMESPACE)));
  } catch (error) {
    return Promise.reject(error);
  }
}

function checkMs(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new StowageError("INVALID_ARGUMENT", `health option ${name} must be a whole number ≥ 1, got ${String(value)}`);
  }
  return value;
}

/**
 * Probes the engine with one cheap read and gathers its facts. Unhealthy when the probe fails or takes longer than
 * `timeoutMs`; degraded when it takes `degradedMs` or more, or the engine reports a warning (a pool with waiting
 * calls, a nearly full disk). Never throws for an engine problem: that is what the report is for.
 */
export async function checkHealth(engine: Engine, open: boolean, options: HealthOptions = {}): Promise<HealthReport> {
  const timeoutMs = checkMs("timeoutMs", options.timeoutMs, DEFAULT_TIMEOUT_MS);
  const degradedMs = checkMs("degradedMs", options.degradedMs, DEFAULT_DEGRADED_MS);
  const base = { engine: engine.name, location: engine.location, checkedAt: Date.now() };
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
