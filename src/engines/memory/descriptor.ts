import type { EngineDescriptor } from "../descriptor.js";
import { durationField, pathField } from "../engine-fields.js";
import { LIMITS } from "../../api/limits.js";
import { SnapshotFile } from "../../operations/snapshot-file.js";
import { MemoryEngine } from "./memory-engine.js";

/** The memory engine's options: none, or a snapshot file that keeps its data across restarts. */
export interface MemoryEngineOptions {
  snapshotPath?: string;
  snapshotIntervalMs?: number;
}

/** Snapshots once a minute by default, when a snapshot file is set. */
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 60_000;

/** The in-memory engine: no driver; with `snapshotPath`, its data is restored at open and snapshotted to the file. */
export const MEMORY_ENGINE: EngineDescriptor<MemoryEngineOptions> = {
  name: "memory",
  summary: "In process memory, for tests and throwaway state (across restarts: snapshotPath)",
  supports: MemoryEngine.supports,
  fields: [
    pathField({ option: "snapshotPath", doc: "a file (a gzip dump) the data is restored from at open and snapshotted to, periodically and at close" }),
    durationField({ option: "snapshotIntervalMs", doc: "ms between snapshots to snapshotPath (0: only at close)", default: DEFAULT_SNAPSHOT_INTERVAL_MS, min: 0, max: LIMITS.maxTimerMs }),
  ],
  open: async (options) => {
    const engine = new MemoryEngine();
    if (options.snapshotPath === undefined) return engine;
    const file = new SnapshotFile(engine, options.snapshotPath, options.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS);
    try {
      await file.load();
    } catch (error) {
      await engine.close();
      throw error;
    }
    file.start();
    engine.persistWith(file);
    return engine;
  },
};
