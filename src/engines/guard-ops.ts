import type { EngineOps } from "./engine.js";

/**
 * Wraps every method of an {@link EngineOps} so that driver errors, thrown or rejected, come out mapped to
 * `StowageError`s. Engines map their errors in one place, and transaction bodies never see a driver's error.
 */
export function guardOps(ops: EngineOps, mapError: (error: unknown) => Error): EngineOps {
  const guarded = {} as Record<string, unknown>;
  const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(ops)).filter(
    (name) => name !== "constructor" && typeof (ops as unknown as Record<string, unknown>)[name] === "function",
  );
  for (const name of methods) {
    const method = (ops as unknown as Record<string, (...args: unknown[]) => unknown>)[name] as (...args: unknown[]) => unknown;
    guarded[name] = (...args: unknown[]) => {
      try {
        const result = method.apply(ops, args);
        return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(mapError(error))) : result;
      } catch (error) {
        throw mapError(error);
      }
    };
  }
  return guarded as unknown as EngineOps;
}
