import type { EngineDescriptor } from "../descriptor.js";
import { MemoryEngine } from "./memory-engine.js";

/** The in-memory engine: no options, no driver. */
export const MEMORY_ENGINE: EngineDescriptor<Record<string, never>> = {
  name: "memory",
  summary: "In process memory, for tests and throwaway state: gone when the process exits",
  supports: MemoryEngine.supports,
  fields: [],
  open: async () => new MemoryEngine(),
};
